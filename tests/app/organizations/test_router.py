import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.organizations.models import Organization
from tests.conftest import Api


def test_admin_creates_and_reads_an_organization(api: Api, client: TestClient) -> None:
    created = api.organization(name="Cementownia Testowa", nace=["23.51"], city="Kraków")
    assert created["kind"] == "company"
    assert created["version"] == 1
    read = client.get(f"/api/v1/organizations/{created['id']}", headers=api.admin).json()
    assert read["name"] == "Cementownia Testowa"
    assert read["contact"]["email"] == "anna@example.pl"


def test_members_create_no_organizations(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    response = client.post("/api/v1/organizations", json={"name": "X", "country": "PL"}, headers=member)
    assert response.status_code == 403


def test_member_reads_and_updates_only_its_own(api: Api, client: TestClient) -> None:
    own, other = api.organization(), api.organization()
    member = api.key(own["id"])
    assert client.get(f"/api/v1/organizations/{own['id']}", headers=member).status_code == 200
    assert client.get(f"/api/v1/organizations/{other['id']}", headers=member).status_code == 404
    listed = client.get("/api/v1/organizations", headers=member).json()
    assert [o["id"] for o in listed["items"]] == [own["id"]]

    changed = client.patch(f"/api/v1/organizations/{own['id']}", json={"city": "Skawina"}, headers=member)
    assert changed.status_code == 200
    assert changed.json()["city"] == "Skawina"
    assert changed.json()["version"] == 2
    refused = client.patch(f"/api/v1/organizations/{other['id']}", json={"city": "X"}, headers=member)
    assert refused.status_code == 404
    assert client.get(f"/api/v1/organizations/{other['id']}", headers=api.admin).json()["city"] is None


def test_agency_reads_its_regions_and_writes_nothing(api: Api, client: TestClient) -> None:
    agency = api.organization(kind="agency", region="PL21", name="Agencja Rozwoju")
    inside = api.organization(region="PL213")
    outside = api.organization(region="PL225")
    key = api.key(agency["id"], role="agency")
    listed = {o["id"] for o in client.get("/api/v1/organizations", headers=key).json()["items"]}
    assert inside["id"] in listed
    assert outside["id"] not in listed
    assert client.get(f"/api/v1/organizations/{outside['id']}", headers=key).status_code == 404
    assert client.patch(f"/api/v1/organizations/{inside['id']}", json={"city": "X"}, headers=key).status_code == 403


def test_list_filters_and_paginates(api: Api, client: TestClient) -> None:
    for index in range(5):
        api.organization(name=f"Huta {index}", region="PL22" if index % 2 else "PL21")
    page = client.get("/api/v1/organizations?limit=2&offset=1&region=PL21", headers=api.admin).json()
    assert page["total"] == 3
    assert [o["name"] for o in page["items"]] == ["Huta 2", "Huta 4"]
    assert client.get("/api/v1/organizations?q=huta 3", headers=api.admin).json()["total"] == 1


def test_invalid_organizations_are_refused_and_nothing_is_stored(
    api: Api, client: TestClient, session: Session
) -> None:
    cases = [
        ({"name": "", "country": "PL"}, "name"),
        ({"name": "A", "country": "Poland"}, "country"),
        ({"name": "A", "country": "PL", "region": "małopolska"}, "region"),
        ({"name": "A", "country": "PL", "lat": 91, "lon": 19}, "lat"),
        ({"name": "A", "country": "PL", "lat": 50, "lon": 190}, "lon"),
        ({"name": "A", "country": "PL", "lat": 50}, "lon"),
        ({"name": "A", "country": "PL", "lat": True, "lon": 19}, "lat"),
        ({"name": "A", "country": "PL", "nace": ["99.99"]}, "nace.0"),
        ({"name": "A", "country": "PL", "nace": ["cement"]}, "nace.0"),
        ({"name": "A", "country": "PL", "kind": "bank"}, "kind"),
        ({"name": "A", "country": "PL", "contact": {"email": "not-an-email"}}, "contact.email"),
        ({"name": "A", "country": "PL", "colour": "red"}, "colour"),
        ({"name": "A" * 201, "country": "PL"}, "name"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/organizations", json=body, headers=api.admin)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    assert session.scalar(select(func.count()).select_from(Organization)) == 0


def test_a_rejected_update_changes_nothing(api: Api, client: TestClient) -> None:
    org = api.organization(name="Before")
    response = client.patch(f"/api/v1/organizations/{org['id']}", json={"name": "After", "lat": 95}, headers=api.admin)
    assert response.status_code == 422
    assert client.get(f"/api/v1/organizations/{org['id']}", headers=api.admin).json()["name"] == "Before"
    nulled = client.patch(f"/api/v1/organizations/{org['id']}", json={"name": None}, headers=api.admin)
    assert nulled.status_code == 422
    assert nulled.json()["errors"][0]["field"] == "name"


def test_unknown_organization_is_404(api: Api, client: TestClient) -> None:
    response = client.get(f"/api/v1/organizations/{uuid.uuid4()}", headers=api.admin)
    assert response.status_code == 404
    assert client.get("/api/v1/organizations/not-a-uuid", headers=api.admin).status_code == 422
