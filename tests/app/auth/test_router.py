import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from tests.conftest import Api, bearer


def test_a_new_key_is_shown_once_and_stored_hashed(api: Api, client: TestClient, session: Session) -> None:
    org = api.organization()
    response = client.post(f"/api/v1/organizations/{org['id']}/api-keys", json={"name": "erp"}, headers=api.admin)
    assert response.status_code == 201
    secret = response.json()["key"]
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64, after the "sbz_" mark
    row = session.scalar(select(ApiKey).where(ApiKey.name == "erp"))
    assert row is not None
    assert secret not in (row.secret_hash, row.prefix)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    listed = client.get(f"/api/v1/organizations/{org['id']}/api-keys", headers=api.admin).json()
    assert listed["total"] == 1
    assert "key" not in listed["items"][0]
    assert secret not in str(listed)


def test_me_describes_the_caller(api: Api, client: TestClient) -> None:
    org = api.organization(name="Browar Testowy")
    me = client.get("/api/v1/me", headers=api.key(org["id"])).json()
    assert me["role"] == "member"
    assert me["organization"]["name"] == "Browar Testowy"
    assert client.get("/api/v1/me", headers=api.admin).json()["organization"] is None


def test_revoked_keys_stop_working_at_once(api: Api, client: TestClient) -> None:
    org = api.organization()
    created = client.post(f"/api/v1/organizations/{org['id']}/api-keys", json={}, headers=api.admin).json()
    headers = bearer(created["key"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    revoked = client.delete(f"/api/v1/api-keys/{created['id']}", headers=headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_members_issue_only_member_keys_for_themselves(api: Api, client: TestClient) -> None:
    own, other = api.organization(), api.organization()
    member = api.key(own["id"])
    assert client.post(f"/api/v1/organizations/{own['id']}/api-keys", json={}, headers=member).status_code == 201
    admin_attempt = client.post(f"/api/v1/organizations/{own['id']}/api-keys", json={"role": "admin"}, headers=member)
    assert admin_attempt.status_code == 403
    assert client.post(f"/api/v1/organizations/{other['id']}/api-keys", json={}, headers=member).status_code == 404
    other_key = client.post(f"/api/v1/organizations/{other['id']}/api-keys", json={}, headers=api.admin).json()
    assert client.delete(f"/api/v1/api-keys/{other_key['id']}", headers=member).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(other_key["key"])).status_code == 200


def test_agency_keys_belong_to_agencies_and_default_to_their_region(api: Api, client: TestClient) -> None:
    company = api.organization()
    refused = client.post(f"/api/v1/organizations/{company['id']}/api-keys", json={"role": "agency"}, headers=api.admin)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "role"
    agency = api.organization(kind="agency", region="PL21")
    me = client.get("/api/v1/me", headers=api.key(agency["id"], role="agency")).json()
    assert me["regions"] == ["PL21"]
    bad_region = client.post(
        f"/api/v1/organizations/{agency['id']}/api-keys",
        json={"role": "agency", "regions": ["Kraków"]},
        headers=api.admin,
    )
    assert bad_region.status_code == 422
    assert bad_region.json()["errors"][0]["field"] == "regions.0"


def test_malformed_authorization_headers_are_401(client: TestClient) -> None:
    for value in ("Bearer", "Basic dXNlcjpwYXNz", "Bearer short", "sbz_abc"):
        response = client.get("/api/v1/me", headers={"Authorization": value})
        assert response.status_code == 401, value
