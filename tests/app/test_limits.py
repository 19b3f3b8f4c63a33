"""Limits on what one request may carry: body size, page size, string lengths, nesting of listing properties.

Each is refused with a problem+json that names the field, and nothing is stored. (The bulk upload's own limits on
rows and bytes are tested in tests/app/listings/test_bulk.py.)
"""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from app.config import get_settings
from app.limits import BodySizeLimit
from app.listings.models import Listing
from tests.conftest import Api

PROBLEM = "application/problem+json"
MEGABYTE = 1024 * 1024
LISTING = {"kind": "offer", "resource_type": "material", "title": "Coal fly ash"}


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Listing)) or 0


def _assert_too_large(response: Any) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 413
    assert str(get_settings().max_body_bytes) in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["body"]


def test_the_default_body_limit_is_one_megabyte() -> None:
    assert get_settings().max_body_bytes == MEGABYTE


def test_a_body_over_the_limit_is_refused_with_413(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    body = json.dumps(LISTING | {"description": "x" * MEGABYTE}).encode()
    _assert_too_large(
        client.post("/api/v1/listings", content=body, headers=member | {"Content-Type": "application/json"})
    )
    assert _count(session) == 0
    # Just under the limit the body is read, and the listing's own rules answer (description: at most 5000).
    within = json.dumps(LISTING | {"description": "x" * (MEGABYTE - 200)}).encode()
    refused = client.post("/api/v1/listings", content=within, headers=member | {"Content-Type": "application/json"})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["description"]


def test_a_body_without_content_length_is_counted_as_it_streams(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    body = json.dumps(LISTING | {"description": "x" * MEGABYTE}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post("/api/v1/listings", content=chunks(), headers=member | {"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    _assert_too_large(response)
    assert _count(session) == 0


def test_the_bulk_upload_has_its_own_larger_limit(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    rows = ["offer,material,Coal fly ash," + "x" * 100_000 + "\n"] * 22
    csv = "kind,resource_type,title,description\n" + "".join(rows)
    assert len(csv) > 2 * MEGABYTE
    headers = member | {"Content-Type": "text/csv"}
    response = client.post("/api/v1/listings/bulk", content=csv.encode(), headers=headers)
    assert response.status_code == 200, response.text  # 2 MB pass the door; each row's description does not
    assert {(row["status"], row["errors"][0]["field"]) for row in response.json()["items"]} == {
        ("rejected", "description")
    }
    assert _count(session) == 0


def test_the_middleware_stops_reading_at_the_limit() -> None:
    """Pure ASGI: a chunked body is refused as soon as it passes the limit; the rest is never read."""
    chunks = [b"abcd"] * 5
    received: list[bytes] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            received.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    async def receive() -> Message:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/listings", "headers": []}
    asyncio.run(BodySizeLimit(app, max_bytes=10)(scope, receive, send))
    assert received == [b"abcd", b"abcd"]  # the third chunk (12 bytes in all) was never handed to the app
    assert len(chunks) == 2
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["errors"] == [{"field": "body", "message": "at most 10 bytes"}]


@pytest.mark.parametrize(
    "path", ["/api/v1/listings", "/api/v1/organizations", "/api/v1/matches", "/api/v1/taxonomy/ewc"]
)
def test_a_page_larger_than_the_maximum_is_refused(api: Api, client: TestClient, path: str) -> None:
    assert client.get(f"{path}?limit=200", headers=api.admin).status_code == 200
    response = client.get(f"{path}?limit=201", headers=api.admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["field"] == "limit"
    assert "200" in error["message"]
    assert "200" in client.get("/openapi.json").text  # the maximum is documented


def test_too_long_strings_are_refused_naming_the_field(api: Api, client: TestClient) -> None:
    org = api.organization()
    member = api.key(org["id"])
    cases: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
        ("/api/v1/organizations", {"name": "x" * 201, "country": "PL"}, api.admin, "name"),
        ("/api/v1/organizations", {"name": "Firm", "country": "PL", "city": "x" * 101}, api.admin, "city"),
        (f"/api/v1/organizations/{org['id']}/api-keys", {"name": "x" * 101}, member, "name"),
        (
            f"/api/v1/organizations/{org['id']}/webhooks",
            {"url": "https://example.com/hook", "events": ["match.created"], "description": "x" * 201},
            member,
            "description",
        ),
        ("/api/v1/taxonomy/suggest", {"text": "popiół " * 300}, member, "text"),
        ("/api/v1/listings", LISTING | {"title": "x" * 201}, member, "title"),
        ("/api/v1/listings", LISTING | {"description": "x" * 5001}, member, "description"),
        ("/api/v1/listings", LISTING | {"properties": {"note": "x" * 201}}, member, "properties.note"),
    ]
    for path, body, headers, field in cases:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, (path, field, response.text)
        assert response.headers["content-type"] == PROBLEM
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f == field or f.startswith(field + ".") for f in fields), (path, fields)
    too_long_query = client.get("/api/v1/listings?q=" + "x" * 101, headers=member)
    assert too_long_query.status_code == 422
    assert [e["field"] for e in too_long_query.json()["errors"]] == ["q"]


@pytest.mark.parametrize(
    ("value", "kind"),
    [({"min": 5, "max": 10}, "a nested object"), ([1, 2, 3], "a list"), (None, "null")],
    ids=["object", "list", "null"],
)
def test_listing_properties_are_flat(api: Api, client: TestClient, session: Session, value: Any, kind: str) -> None:
    member = api.key(api.organization()["id"])
    body = LISTING | {"properties": {"max_moisture_pct": 10, "grade": value}}
    response = client.post("/api/v1/listings", json=body, headers=member)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["field"] == "properties.grade"
    assert kind in error["message"]
    assert _count(session) == 0

    listing = api.listing(member)
    url = f"/api/v1/listings/{listing['id']}"
    changed = client.patch(url, json={"properties": {"grade": value}}, headers=api.current(url, member))
    assert changed.status_code == 422
    assert [e["field"] for e in changed.json()["errors"]] == ["properties.grade"]


def test_a_nested_property_in_a_csv_row_rejects_that_row(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    csv = 'kind;resource_type;title;properties\noffer;material;Coal fly ash;{"grade": {"min": 5}}\n'
    response = client.post("/api/v1/listings/bulk", content=csv.encode(), headers=member | {"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    [row] = response.json()["items"]
    assert (row["status"], [e["field"] for e in row["errors"]]) == ("rejected", ["properties.grade"])
    assert _count(session) == 0
