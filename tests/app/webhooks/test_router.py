import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.webhooks import service
from app.webhooks.delivery import Dispatcher
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.app.webhooks.conftest import Receiver, deliveries, drain, org_uuid, subscribe
from tests.conftest import Api, bearer


def test_member_registers_lists_and_deletes_its_webhooks(api: Api, client: TestClient, session: Session) -> None:
    org = api.organization()
    member = api.key(org["id"])
    created = subscribe(
        api, member, org["id"], "https://erp.example.com/hooks", events=["match.created"], description="ERP"
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) >= 43
    assert created["url"] == "https://erp.example.com/hooks"
    assert (created["events"], created["min_score"], created["description"]) == (["match.created"], 0.0, "ERP")
    assert created["organization_id"] == org["id"]
    second = subscribe(api, member, org["id"], "http://10.0.0.7:8080/x", min_score=0.75)

    listed = client.get(f"/api/v1/organizations/{org['id']}/webhooks", headers=member).json()
    assert listed["total"] == 2
    assert [w["id"] for w in listed["items"]] == [created["id"], second["id"]]
    assert all("secret" not in w for w in listed["items"])
    assert "whsec_" not in client.get(f"/api/v1/organizations/{org['id']}/webhooks", headers=member).text
    assert client.get(f"/api/v1/organizations/{org['id']}/webhooks?limit=1&offset=1", headers=member).json()[
        "items"
    ] == [listed["items"][1]]

    # Deleting a subscription takes its pending deliveries with it: nothing more is sent there.
    assert service.emit(session, "match.updated", org_uuid(org), {"match_id": str(uuid.uuid4())}) == 1
    session.commit()
    assert client.delete(f"/api/v1/webhooks/{second['id']}", headers=member).status_code == 204
    assert client.delete(f"/api/v1/webhooks/{second['id']}", headers=member).status_code == 404
    assert client.get(f"/api/v1/webhooks/{second['id']}/deliveries", headers=member).status_code == 404
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    remaining = client.get(f"/api/v1/organizations/{org['id']}/webhooks", headers=member).json()
    assert [w["id"] for w in remaining["items"]] == [created["id"]]


def test_permissions(api: Api, client: TestClient) -> None:
    own, other = api.organization(), api.organization()
    member, stranger = api.key(own["id"]), api.key(other["id"])
    agency = api.key(api.organization(kind="agency", region="PL21")["id"], role="agency")  # own["region"] is PL213
    hook = subscribe(api, member, own["id"], "https://example.com/h")
    body = {"url": "https://example.com/other", "events": ["match.updated"]}
    paths = {
        "create": ("POST", f"/api/v1/organizations/{own['id']}/webhooks"),
        "list": ("GET", f"/api/v1/organizations/{own['id']}/webhooks"),
        "deliveries": ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries"),
        "delete": ("DELETE", f"/api/v1/webhooks/{hook['id']}"),
    }

    def call(name: str, headers: dict[str, str]) -> int:
        method, url = paths[name]
        response = client.request(method, url, json=body if method == "POST" else None, headers=headers)
        return int(response.status_code)

    for name in paths:
        assert call(name, stranger) == 404, name
        assert call(name, agency) == 403, name
        assert call(name, {}) == 401, name
        assert call(name, bearer("sbz_" + "x" * 40)) == 401, name
    # The organization itself and admins may do everything (delete last).
    assert [call(name, member) for name in paths] == [201, 200, 200, 204]
    again = subscribe(api, api.admin, own["id"], "https://example.com/by-admin")
    assert client.get(f"/api/v1/webhooks/{again['id']}/deliveries", headers=api.admin).status_code == 200
    assert client.get(f"/api/v1/organizations/{own['id']}/webhooks", headers=api.admin).json()["total"] == 2
    assert client.delete(f"/api/v1/webhooks/{again['id']}", headers=api.admin).status_code == 204
    unknown = uuid.uuid4()
    assert client.post(f"/api/v1/organizations/{unknown}/webhooks", json=body, headers=api.admin).status_code == 404
    assert client.get(f"/api/v1/webhooks/{unknown}/deliveries", headers=api.admin).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{unknown}", headers=agency).status_code == 403


def test_invalid_subscriptions_name_the_field_and_store_nothing(api: Api, client: TestClient, session: Session) -> None:
    org = api.organization()
    url = f"/api/v1/organizations/{org['id']}/webhooks"
    good: dict[str, Any] = {"url": "https://example.com/h", "events": ["match.created"]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": "ftp://example.com/h"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://example.com/" + "a" * 2000}, "url"),
        ({"events": []}, "events"),
        ({"events": ["match.deleted"]}, "events.0"),
        ({"events": ["match.created", "match.created"]}, "events"),
        ({"min_score": 1.5}, "min_score"),
        ({"min_score": -0.1}, "min_score"),
        ({"description": "d" * 201}, "description"),
        ({"secret": "mine"}, "secret"),
    ]
    for change, field in cases:
        response = client.post(url, json=good | change, headers=api.admin)
        assert response.status_code == 422, change
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], (change, response.json())
    missing = client.post(url, json={"events": ["match.created"]}, headers=api.admin)
    assert [e["field"] for e in missing.json()["errors"]] == ["url"]
    assert session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_delivery_log_shows_attempts_newest_first_and_paginates(
    api: Api, receiver: Receiver, dispatcher: Dispatcher, session: Session
) -> None:
    org = api.organization()
    member = api.key(org["id"])
    hook = subscribe(api, member, org["id"], receiver.url)
    for number in range(3):
        service.emit(session, "match.updated", org_uuid(org), {"number": number})
        session.commit()
    queued = deliveries(api, hook["id"], member)
    assert queued["total"] == 3
    assert [d["data"]["number"] for d in queued["items"]] == [2, 1, 0]
    first = queued["items"][0]
    assert (first["status"], first["attempts"], first["last_status_code"], first["event"]) == (
        "pending",
        0,
        None,
        "match.updated",
    )
    assert first["subscription_id"] == hook["id"]

    receiver.fail_always = True
    assert dispatcher.run_once() == 3
    failed_once = deliveries(api, hook["id"], member)["items"]
    for item in failed_once:
        assert (item["status"], item["attempts"], item["last_status_code"]) == ("pending", 1, 500)
        assert item["last_error"].startswith("HTTP 500")
        assert item["next_attempt_at"] is not None and item["delivered_at"] is None

    receiver.fail_always = False
    page = deliveries(api, hook["id"], member, limit=2, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [d["data"]["number"] for d in page["items"]] == [1, 0]

    drain(dispatcher, lambda: len(receiver.requests) >= 6)
    for item in deliveries(api, hook["id"], member)["items"]:
        assert (item["status"], item["attempts"], item["last_status_code"], item["last_error"]) == (
            "delivered",
            2,
            204,
            None,
        )
        assert item["delivered_at"] is not None and item["next_attempt_at"] is None
