from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Api


def test_member_creates_reads_updates_and_deletes_its_listing(api: Api, client: TestClient) -> None:
    org = api.organization(name="Elektrociepłownia Test", lat=50.03, lon=19.87)
    member = api.key(org["id"])
    created = api.listing(member, ewc="100102")
    assert created["ewc"] == "10 01 02"
    assert created["hazardous"] is False
    assert created["ewc_label"]
    assert created["organization"]["name"] == "Elektrociepłownia Test"
    assert (created["lat"], created["lon"]) == (50.03, 19.87)  # the organization's place by default

    url = f"/api/v1/listings/{created['id']}"
    read = client.get(url, headers=member)
    assert read.headers["etag"] == '"1"'
    changed = client.patch(url, json={"quantity": 9000, "status": "paused"}, headers=member | {"If-Match": '"1"'})
    assert changed.status_code == 200
    assert (changed.json()["quantity"], changed.json()["status"], changed.json()["version"]) == (
        9000,
        "paused",
        2,
    )
    assert changed.headers["etag"] == '"2"'
    assert client.delete(url, headers=member | {"If-Match": '"2"'}).status_code == 204
    assert client.get(url, headers=member).status_code == 404


def test_stale_if_match_is_refused(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    listing = api.listing(member)
    url = f"/api/v1/listings/{listing['id']}"
    assert client.patch(url, json={"title": "First change"}, headers=member | {"If-Match": '"1"'}).status_code == 200
    stale = client.patch(url, json={"title": "Second change"}, headers=member | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.delete(url, headers=member | {"If-Match": '"1"'}).status_code == 412
    assert client.get(url, headers=member).json()["title"] == "First change"


def test_other_members_cannot_change_or_delete(api: Api, client: TestClient) -> None:
    owner, stranger = api.key(api.organization()["id"]), api.key(api.organization()["id"])
    listing = api.listing(owner)
    url = f"/api/v1/listings/{listing['id']}"
    assert client.get(url, headers=stranger).status_code == 200  # public
    current = stranger | {"If-Match": '"1"'}  # even with the current ETag
    assert client.patch(url, json={"title": "Hijacked"}, headers=current).status_code == 403
    assert client.delete(url, headers=current).status_code == 403
    foreign = client.post("/api/v1/listings", json=_body(organization_id=api.organization()["id"]), headers=stranger)
    assert foreign.status_code == 403
    assert client.get(url, headers=owner).json()["title"] == listing["title"]


def test_private_listings_are_seen_by_owner_and_admin_only(api: Api, client: TestClient) -> None:
    agency = api.key(api.organization(kind="agency", region="PL21")["id"], role="agency")
    owner_org = api.organization(region="PL213")
    owner, stranger = api.key(owner_org["id"]), api.key(api.organization()["id"])
    private = api.listing(owner, visibility="private", title="Secret solvent stream")
    url = f"/api/v1/listings/{private['id']}"
    assert client.get(url, headers=owner).status_code == 200
    assert client.get(url, headers=api.admin).status_code == 200
    for caller in (stranger, agency):
        assert client.get(url, headers=caller).status_code == 404
        assert "Secret solvent" not in client.get("/api/v1/listings", headers=caller).text


def test_anonymous_owner_is_hidden_and_location_rounded(api: Api, client: TestClient) -> None:
    agency = api.key(api.organization(kind="agency", region="PL21")["id"], role="agency")
    owner_org = api.organization(name="Tajna Huta", lat=50.0712, lon=19.9351, region="PL213")
    owner, stranger = api.key(owner_org["id"]), api.key(api.organization()["id"])
    listing = api.listing(owner, visibility="anonymous")
    url = f"/api/v1/listings/{listing['id']}"

    seen = client.get(url, headers=stranger).json()
    assert seen["organization_id"] is None
    assert seen["organization"] is None
    assert (seen["lat"], seen["lon"], seen["location_precision"]) == (50.1, 19.9, "approximate")
    listed = client.get("/api/v1/listings", headers=stranger).text
    assert "Tajna Huta" not in listed
    assert owner_org["id"] not in listed
    by_owner = client.get(f"/api/v1/listings?organization_id={owner_org['id']}", headers=stranger).json()
    assert by_owner["total"] == 0  # filtering by owner must not reveal who is behind it

    for caller in (owner, agency, api.admin):
        full = client.get(url, headers=caller).json()
        assert full["organization"]["name"] == "Tajna Huta"
        assert (full["lat"], full["lon"]) == (50.0712, 19.9351)


def test_agency_sees_its_region_and_writes_nothing(api: Api, client: TestClient) -> None:
    agency_org = api.organization(kind="agency", region="PL21")
    agency = api.key(agency_org["id"], role="agency")
    inside = api.listing(api.key(api.organization(region="PL213")["id"]))
    outside = api.listing(api.key(api.organization(region="PL224")["id"]))
    ids = [item["id"] for item in client.get("/api/v1/listings", headers=agency).json()["items"]]
    assert ids == [inside["id"]]
    assert client.get(f"/api/v1/listings/{outside['id']}", headers=agency).status_code == 404
    assert client.post("/api/v1/listings", json=_body(), headers=agency).status_code == 403
    url, current = f"/api/v1/listings/{inside['id']}", agency | {"If-Match": '"1"'}
    assert client.patch(url, json={"title": "X y z"}, headers=current).status_code == 403
    assert client.delete(url, headers=current).status_code == 403


def test_filters(api: Api, client: TestClient) -> None:
    krakow = api.organization(region="PL213", lat=50.06, lon=19.94)
    katowice = api.organization(region="PL224", lat=50.26, lon=19.02)
    k, s = api.key(krakow["id"]), api.key(katowice["id"])
    ash = api.listing(k, title="Popiół lotny", ewc="10 01 02")
    gypsum = api.listing(k, title="Gips z IOS", ewc="10 01 05", quantity=30000)
    heat_need = api.listing(
        s,
        kind="need",
        resource_type="energy",
        title="Ciepło do suszarni",
        ewc=None,
        unit="MWh",
        quantity=5000,
    )
    slag = api.listing(s, title="Żużel stalowniczy", ewc="10 02 02", status="paused")

    def ids(query: str) -> set[str]:
        response = client.get(f"/api/v1/listings?{query}", headers=api.admin)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert ids("kind=need") == {heat_need["id"]}
    assert ids("resource_type=energy") == {heat_need["id"]}
    assert ids("ewc=10 01") == {ash["id"], gypsum["id"]}
    assert ids("ewc=100105") == {gypsum["id"]}
    assert ids(f"organization_id={katowice['id']}") == {heat_need["id"], slag["id"]}
    assert ids("region=PL21") == {ash["id"], gypsum["id"]}
    assert ids("status=paused") == {slag["id"]}
    assert ids("q=popiół") == {ash["id"]}
    assert ids("near=50.06,19.94&radius_km=20") == {ash["id"], gypsum["id"]}
    assert ids("near=50.06,19.94&radius_km=80") == {ash["id"], gypsum["id"], heat_need["id"], slag["id"]}


def test_pagination_reports_the_total(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    for index in range(7):
        api.listing(member, title=f"Listing number {index}")
    first = client.get("/api/v1/listings?limit=3", headers=member).json()
    rest = client.get("/api/v1/listings?limit=3&offset=3", headers=member).json()
    last = client.get("/api/v1/listings?limit=3&offset=6", headers=member).json()
    assert (first["total"], len(first["items"]), len(rest["items"]), len(last["items"])) == (7, 3, 3, 1)
    seen = [i["id"] for page in (first, rest, last) for i in page["items"]]
    assert len(set(seen)) == 7
    assert client.get("/api/v1/listings?limit=200", headers=member).json()["limit"] == 200
    too_many = client.get("/api/v1/listings?limit=201", headers=member)
    assert too_many.status_code == 422
    assert too_many.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in too_many.json()["errors"]] == ["limit"]
    assert "200" in too_many.json()["errors"][0]["message"]


def _body(**fields: Any) -> dict[str, Any]:
    return {"kind": "offer", "resource_type": "material", "title": "Fly ash"} | fields
