import hashlib
import hmac
import uuid
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.webhooks import service
from app.webhooks.delivery import Dispatcher
from app.webhooks.models import WebhookDelivery
from tests.app.webhooks.conftest import Receiver, deliveries, drain, org_uuid, subscribe
from tests.conftest import Api


def _queued(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def test_emit_queues_one_delivery_per_fitting_subscription(api: Api, session: Session) -> None:
    org, other = api.organization(), api.organization()
    url = "https://example.com/h"
    subscribe(api, api.admin, org["id"], url, events=["match.created"], min_score=0.5)
    subscribe(api, api.admin, org["id"], url, events=["match.created", "match.updated"])
    subscribe(api, api.admin, org["id"], url, events=["listing.expiring"])
    subscribe(api, api.admin, other["id"], url, events=["match.created"])
    org_id = org_uuid(org)

    assert service.emit(session, "match.created", org_id, {"match_id": "m1"}, score=0.6) == 2
    assert service.emit(session, "match.created", org_id, {"match_id": "m2"}, score=0.5) == 2
    assert service.emit(session, "match.created", org_id, {"match_id": "m3"}, score=0.3) == 1
    assert service.emit(session, "match.updated", org_id, {"match_id": "m1"}) == 1
    assert service.emit(session, "match.updated", uuid.uuid4(), {"match_id": "m1"}) == 0
    with pytest.raises(ValueError, match="unknown webhook event"):
        service.emit(session, "match.deleted", org_id, {})
    with pytest.raises(ValueError, match="score"):
        service.emit(session, "match.created", org_id, {})
    session.commit()
    assert _queued(session) == 6

    # An outbox: the rows belong to the caller's transaction and vanish with it.
    assert service.emit(session, "match.updated", org_id, {"match_id": "m9"}) == 1
    session.rollback()
    assert _queued(session) == 6


def test_expiring_listings_are_announced_once(
    api: Api, client: TestClient, receiver: Receiver, dispatcher: Dispatcher, session: Session
) -> None:
    org, quiet = api.organization(), api.organization()
    member, quiet_member = api.key(org["id"]), api.key(quiet["id"])
    hook = subscribe(api, member, org["id"], receiver.url, events=["listing.expiring"])
    subscribe(api, member, org["id"], receiver.url, events=["match.created"])  # not interested
    today = utcnow().date()

    def listing(headers: dict[str, str], until: date, **fields: str) -> str:
        return str(api.listing(headers, available_until=until.isoformat(), **fields)["id"])

    soon = listing(member, today + timedelta(days=3), title="Fly ash, last lots")
    listing(member, today + timedelta(days=30))  # not yet
    listing(member, today + timedelta(days=2), status="paused")  # not active
    listing(member, today - timedelta(days=1))  # already over
    listing(quiet_member, today + timedelta(days=1))  # its owner has no subscription

    assert service.expiring_listings(session, 7) == 1
    session.commit()
    assert service.expiring_listings(session, 7) == 0
    session.commit()

    drain(dispatcher, lambda: len(receiver.requests) == 1)
    [logged] = deliveries(api, hook["id"], member)["items"]
    assert logged["event"] == "listing.expiring"
    assert logged["status"] == "delivered"
    assert logged["data"] == {
        "listing_id": soon,
        "organization_id": org["id"],
        "kind": "offer",
        "resource_type": "material",
        "title": "Fly ash, last lots",
        "available_until": (today + timedelta(days=3)).isoformat(),
        "days_left": 3,
    }

    # Extended, and later close to ending again: that is news, announced once more.
    changed = client.patch(
        f"/api/v1/listings/{soon}",
        json={"available_until": (today + timedelta(days=5)).isoformat()},
        headers=api.current(f"/api/v1/listings/{soon}", member),
    )
    assert changed.status_code == 200, changed.text
    assert service.expiring_listings(session, 7) == 1
    session.commit()
    assert service.expiring_listings(session, 7) == 0
    assert dispatcher.scan_expiring() == 0  # the dispatcher's periodic scan is the same, and finds nothing new


def test_verify_signature() -> None:
    secret, timestamp, body = "whsec_test", "1795000000", b'{"id":"x","event":"match.created"}'
    expected = hmac.new(secret.encode(), b"1795000000." + body, hashlib.sha256).hexdigest()
    assert service.sign(secret, timestamp, body) == f"sha256={expected}"
    assert service.verify_signature(secret, timestamp, body, f"sha256={expected}")
    assert service.verify_signature(secret, int(timestamp), body.decode(), f"sha256={expected}")
    for wrong in ("", expected, f"sha1={expected}", f"sha256={expected[:-1]}", "sha256=żółw", f"sha256={expected}0"):
        assert not service.verify_signature(secret, timestamp, body, wrong), wrong
