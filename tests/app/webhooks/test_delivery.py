import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import config
from app.config import Settings
from app.main import create_app
from app.webhooks import service
from app.webhooks.delivery import Dispatcher, backoff_seconds
from app.webhooks.models import WebhookDelivery
from tests.app.webhooks.conftest import BACKOFF, MAX_ATTEMPTS, Receiver, deliveries, drain, org_uuid, subscribe
from tests.conftest import Api


def test_deliveries_arrive_signed_and_verify(
    api: Api, receiver: Receiver, dispatcher: Dispatcher, session: Session
) -> None:
    org = api.organization()
    member = api.key(org["id"])
    hook = subscribe(api, member, org["id"], receiver.url, events=["match.created"], min_score=0.5)
    match_id = uuid.uuid4()
    payload = {"match_id": match_id, "score": 0.81, "computed_at": datetime(2026, 11, 22, 12, 0, tzinfo=UTC)}
    assert service.emit(session, "match.created", org_uuid(org), payload, score=0.81) == 1
    assert service.emit(session, "match.created", org_uuid(org), payload, score=0.49) == 0
    session.commit()

    drain(dispatcher, lambda: len(receiver.requests) == 1)
    request = receiver.requests[0]
    logged = deliveries(api, hook["id"], member)["items"][0]
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["symbioza-event"] == "match.created"
    assert headers["symbioza-delivery"] == logged["id"]
    assert abs(int(headers["symbioza-timestamp"]) - time.time()) < 60
    assert headers["symbioza-signature"].startswith("sha256=")

    body = json.loads(request.body)
    assert body == {
        "id": logged["id"],
        "event": "match.created",
        "created_at": body["created_at"],
        "data": {"match_id": str(match_id), "score": 0.81, "computed_at": "2026-11-22T12:00:00Z"},
    }
    assert datetime.fromisoformat(body["created_at"]) == datetime.fromisoformat(logged["created_at"])

    secret, timestamp, signature = hook["secret"], headers["symbioza-timestamp"], headers["symbioza-signature"]
    assert service.verify_signature(secret, timestamp, request.body, signature)
    assert not service.verify_signature("whsec_wrong", timestamp, request.body, signature)
    assert not service.verify_signature(secret, str(int(timestamp) + 1), request.body, signature)
    assert not service.verify_signature(secret, timestamp, request.body.replace(b"0.81", b"0.99"), signature)

    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == ("delivered", 1, 204)
    assert logged["delivered_at"] is not None and logged["next_attempt_at"] is None
    assert dispatcher.run_once() == 0
    assert len(receiver.requests) == 1


def test_failures_are_retried_with_growing_backoff_until_delivered(
    api: Api, receiver: Receiver, dispatcher: Dispatcher, session: Session
) -> None:
    org = api.organization()
    hook = subscribe(api, api.admin, org["id"], receiver.url)
    receiver.fail_next = MAX_ATTEMPTS - 1
    service.emit(session, "match.updated", org_uuid(org), {"match_id": str(uuid.uuid4()), "status": "interested"})
    session.commit()

    drain(dispatcher, lambda: len(receiver.requests) == MAX_ATTEMPTS)
    assert len({r.headers["Symbioza-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    for request in receiver.requests:
        assert service.verify_signature(
            hook["secret"], request.headers["Symbioza-Timestamp"], request.body, request.headers["Symbioza-Signature"]
        )
    gaps = [later.at - earlier.at for earlier, later in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= BACKOFF * 0.9
    assert gaps[1] >= 2 * BACKOFF * 0.9
    [logged] = deliveries(api, hook["id"])["items"]
    assert (logged["status"], logged["attempts"], logged["last_status_code"], logged["last_error"]) == (
        "delivered",
        MAX_ATTEMPTS,
        204,
        None,
    )


def test_a_receiver_that_always_fails_ends_failed(
    api: Api, receiver: Receiver, dispatcher: Dispatcher, session: Session
) -> None:
    org = api.organization()
    hook = subscribe(api, api.admin, org["id"], receiver.url)
    receiver.fail_always = True
    service.emit(session, "match.updated", org_uuid(org), {"n": 1})
    session.commit()

    drain(dispatcher, lambda: deliveries(api, hook["id"])["items"][0]["status"] == "failed")
    [logged] = deliveries(api, hook["id"])["items"]
    assert (logged["attempts"], logged["last_status_code"]) == (MAX_ATTEMPTS, 500)
    assert logged["last_error"].startswith("HTTP 500")
    assert logged["next_attempt_at"] is None and logged["delivered_at"] is None
    time.sleep(BACKOFF * 4)
    assert dispatcher.run_once() == 0
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_unreachable_and_too_slow_receivers_are_logged_and_retried(
    api: Api, receiver: Receiver, dead_url: str, fast_settings: Settings, session: Session
) -> None:
    org = api.organization()
    dead = subscribe(api, api.admin, org["id"], dead_url)
    slow = subscribe(api, api.admin, org["id"], receiver.url)
    receiver.delay = 1.0
    service.emit(session, "match.updated", org_uuid(org), {"n": 1})
    session.commit()

    with Dispatcher(fast_settings, timeout=0.3, expiring_scan_seconds=None) as dispatcher:
        started = time.monotonic()
        assert dispatcher.run_once() == 2
        assert time.monotonic() - started < 0.9  # both sent at once, each cut off by the timeout
    for hook, error in ((dead, "ConnectError"), (slow, "ReadTimeout")):
        [logged] = deliveries(api, hook["id"])["items"]
        assert (logged["status"], logged["attempts"], logged["last_status_code"]) == ("pending", 1, None)
        assert logged["last_error"].startswith(error), logged["last_error"]
        assert logged["next_attempt_at"] is not None


def test_a_sleeping_receiver_does_not_slow_the_api(
    api: Api, client: TestClient, receiver: Receiver, fast_settings: Settings, session: Session
) -> None:
    org = api.organization()
    member = api.key(org["id"])
    hook = subscribe(api, member, org["id"], receiver.url)
    receiver.delay = 1.5
    for number in range(3):
        service.emit(session, "match.updated", org_uuid(org), {"n": number})
    session.commit()

    enabled = fast_settings.model_copy(update={"webhooks_enabled": True})
    with Dispatcher(enabled, timeout=1.0, expiring_scan_seconds=None).start():
        assert receiver.wait_for(1), "the dispatcher thread did not start sending"
        timings = []
        for method, url, body in (
            ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", None),
            ("GET", f"/api/v1/organizations/{org['id']}/webhooks", None),
            ("POST", f"/api/v1/organizations/{org['id']}/webhooks", {"url": receiver.url, "events": ["match.created"]}),
            ("GET", f"/api/v1/organizations/{org['id']}", None),
        ):
            started = time.monotonic()
            response = client.request(method, url, json=body, headers=member)
            timings.append(time.monotonic() - started)
            assert response.status_code in (200, 201), response.text
        started = time.monotonic()
        service.emit(session, "match.updated", org_uuid(org), {"n": 3})  # what a write's request would add
        session.commit()
        timings.append(time.monotonic() - started)
        in_flight = [d for d in deliveries(api, hook["id"], member)["items"] if d["attempts"] == 1]
        assert in_flight and all(d["status"] == "pending" and d["last_status_code"] is None for d in in_flight)
    assert max(timings) < 0.5, timings  # the receiver takes 1.5 s to answer


def test_the_app_runs_a_dispatcher_thread(
    api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, session: Session
) -> None:
    org = api.organization()
    hook = subscribe(api, api.admin, org["id"], receiver.url)
    monkeypatch.setenv("SYMBIOZA_WEBHOOKS_ENABLED", "true")
    config.get_settings.cache_clear()
    with TestClient(create_app()) as live:
        assert any(t.name == "symbioza-webhooks" for t in threading.enumerate())
        service.emit(session, "match.updated", org_uuid(org), {"n": 1})
        session.commit()
        assert receiver.wait_for(1), "the app's dispatcher thread sent nothing"
        deadline = time.monotonic() + 5
        while (
            live.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=api.admin).json()["items"][0]["status"]
            != "delivered"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert not any(t.name == "symbioza-webhooks" for t in threading.enumerate())


def test_two_dispatchers_never_send_the_same_delivery_twice(
    api: Api, receiver: Receiver, fast_settings: Settings, session: Session
) -> None:
    org = api.organization()
    for number in range(4):
        subscribe(api, api.admin, org["id"], receiver.url, description=f"hook {number}")
    for number in range(6):
        service.emit(session, "match.updated", org_uuid(org), {"n": number})
    session.commit()
    total = 4 * 6

    def work(dispatcher: Dispatcher, ready: threading.Barrier) -> None:
        ready.wait()
        while dispatcher.run_once():
            pass

    ready = threading.Barrier(3)
    with (
        Dispatcher(fast_settings, batch_size=3, expiring_scan_seconds=None) as one,
        Dispatcher(fast_settings, batch_size=3, expiring_scan_seconds=None) as two,
    ):
        workers = [threading.Thread(target=work, args=(d, ready)) for d in (one, two, one)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=10)
    ids = [r.headers["Symbioza-Delivery"] for r in receiver.requests]
    assert len(ids) == total
    assert len(set(ids)) == total
    statuses = session.scalars(select(WebhookDelivery.status).execution_options(populate_existing=True)).all()
    assert statuses == ["delivered"] * total


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(attempt, 2.0) for attempt in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_seconds(40, 2.0) == 3600.0
