"""Idempotency-Key on POST: a retry gets the first answer and creates nothing new; another body with the same key
is refused; keys belong to one API key and expire; identical requests at once create one thing."""

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from app.db import utcnow
from app.idempotency.models import IdempotencyKey
from app.listings.models import Listing
from app.organizations.models import Organization
from app.webhooks.models import WebhookSubscription
from tests.conftest import Api

LISTING = {"kind": "offer", "resource_type": "material", "title": "Coal fly ash", "ewc": "10 01 02"}


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_a_retry_gets_the_first_answer_and_creates_nothing(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    headers = member | _key()
    first = client.post("/api/v1/listings", json=LISTING, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/listings", json=LISTING, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert (again.headers["etag"], again.headers["location"]) == (first.headers["etag"], first.headers["location"])
    assert again.headers["content-type"] == "application/json"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(session, Listing) == 1
    assert client.post("/api/v1/listings", json=LISTING, headers=member).status_code == 201  # no key: a new one
    assert _count(session, Listing) == 2


def test_the_same_key_with_another_body_is_refused(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    headers = member | _key()
    assert client.post("/api/v1/listings", json=LISTING, headers=headers).status_code == 201
    other = client.post("/api/v1/listings", json=LISTING | {"title": "Boiler slag"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in other.json()["errors"]] == ["Idempotency-Key"]
    elsewhere = client.post("/api/v1/taxonomy/suggest", json={"text": "popiół lotny"}, headers=headers)
    assert elsewhere.status_code == 422  # the same key on another endpoint is another request too
    assert _count(session, Listing) == 1


def test_keys_belong_to_one_api_key(api: Api, client: TestClient, session: Session) -> None:
    org = api.organization()
    first_key, second_key = api.key(org["id"]), api.key(org["id"])
    key = _key()
    one = client.post("/api/v1/listings", json=LISTING, headers=first_key | key)
    two = client.post("/api/v1/listings", json=LISTING, headers=second_key | key)
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]
    assert _count(session, Listing) == 2


def test_keys_expire(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    headers = member | _key()
    first = client.post("/api/v1/listings", json=LISTING, headers=headers).json()
    record = session.scalars(select(IdempotencyKey)).one()
    assert record.expires_at - record.created_at == pytest.approx(timedelta(hours=24), abs=timedelta(seconds=5))
    assert client.post("/api/v1/listings", json=LISTING, headers=member | _key()).status_code == 201
    session.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    later = client.post("/api/v1/listings", json=LISTING, headers=headers)
    assert later.status_code == 201
    assert later.json()["id"] != first["id"]  # past its time the key is new again
    assert "idempotent-replayed" not in later.headers
    assert _count(session, Listing) == 3
    assert _count(session, IdempotencyKey) == 1  # expired records are cleared as new ones come


def test_a_failed_request_is_not_remembered(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    headers = member | _key()
    refused = client.post("/api/v1/listings", json=LISTING | {"ewc": "99 99 99"}, headers=headers)
    assert refused.status_code == 422
    assert _count(session, IdempotencyKey) == 0
    fixed = client.post("/api/v1/listings", json=LISTING, headers=headers)
    assert fixed.status_code == 201  # nothing was done under this key, so it may carry the corrected request


def test_identical_requests_at_once_create_one_listing(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    headers = member | _key()

    def post(_: int) -> tuple[int, str]:
        response = client.post("/api/v1/listings", json=LISTING, headers=headers)
        return response.status_code, response.json().get("id", response.text)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(post, range(6)))
    assert {status for status, _ in answers} == {201}, answers
    assert len({listing_id for _, listing_id in answers}) == 1
    assert _count(session, Listing) == 1
    assert _count(session, IdempotencyKey) == 1


def _organization(api: Api, headers: dict[str, str]) -> Any:
    return api.client.post(
        "/api/v1/organizations", json={"name": "Huta Idempotentna", "country": "PL"}, headers=headers
    )


def _bulk(api: Api, headers: dict[str, str]) -> Any:
    csv = "kind,resource_type,title\noffer,material,Coal fly ash\nneed,material,Fly ash for concrete\n"
    return api.client.post(
        "/api/v1/listings/bulk", content=csv.encode(), headers=headers | {"Content-Type": "text/csv"}
    )


def _suggest(api: Api, headers: dict[str, str]) -> Any:
    return api.client.post("/api/v1/taxonomy/suggest", json={"text": "popiół lotny z kotła"}, headers=headers)


POSTS: dict[str, tuple[Callable[[Api, dict[str, str]], Any], Any]] = {
    "organizations": (_organization, Organization),
    "listings/bulk": (_bulk, Listing),
    "taxonomy/suggest": (_suggest, None),
}


@pytest.mark.parametrize("name", POSTS)
def test_every_post_endpoint_replays(api: Api, client: TestClient, session: Session, name: str) -> None:
    post, model = POSTS[name]
    headers = (api.admin if name == "organizations" else api.key(api.organization()["id"])) | _key()
    before = _count(session, model) if model else 0
    first = post(api, headers)
    assert first.status_code in (200, 201), first.text
    again = post(api, headers)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    if model:
        assert _count(session, model) == before + (2 if name == "listings/bulk" else 1)


def test_secrets_are_never_stored_and_a_retry_is_told_so(api: Api, client: TestClient, session: Session) -> None:
    org = api.organization()
    member = api.key(org["id"])
    cases = [
        (f"/api/v1/organizations/{org['id']}/api-keys", {"name": "ERP"}, "key", ApiKey),
        (
            f"/api/v1/organizations/{org['id']}/webhooks",
            {"url": "http://127.0.0.1:9/hook", "events": ["match.created"]},
            "secret",
            WebhookSubscription,
        ),
    ]
    for url, body, secret_field, model in cases:
        headers = member | _key()
        before = _count(session, model)
        first = client.post(url, json=body, headers=headers)
        assert first.status_code == 201, first.text
        secret = first.json()[secret_field]
        again = client.post(url, json=body, headers=headers)
        assert again.status_code == 409, again.text
        assert again.headers["content-type"] == "application/problem+json"
        assert first.json()["id"] in again.json()["detail"]
        assert secret not in again.text
        assert _count(session, model) == before + 1
        stored = session.scalars(select(IdempotencyKey.body).where(IdempotencyKey.key == headers["Idempotency-Key"]))
        assert secret not in (stored.one() or "")
