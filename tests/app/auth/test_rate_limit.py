"""Per-key rate limiting (off unless SYMBIOZA_RATE_LIMIT_PER_MINUTE is set), and keys kept out of the logs."""

import logging
import uuid

import pytest
from fastapi.testclient import TestClient

from app.auth.ratelimit import RateLimiter
from app.config import get_settings
from app.errors import TooManyRequests
from app.main import create_app
from tests.conftest import Api, bearer


def test_rate_limiting_is_off_by_default(api: Api, client: TestClient) -> None:
    assert get_settings().rate_limit_per_minute == 0
    member = api.key(api.organization()["id"])
    assert all(client.get("/api/v1/me", headers=member).status_code == 200 for _ in range(30))


def test_a_key_over_its_rate_gets_429_with_retry_after(
    api: Api, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, other = api.key(api.organization()["id"]), api.key(api.organization()["id"])
    monkeypatch.setattr(get_settings(), "rate_limit_per_minute", 3)
    with TestClient(create_app()) as limited:
        assert [limited.get("/api/v1/me", headers=member).status_code for _ in range(3)] == [200, 200, 200]
        refused = limited.get("/api/v1/me", headers=member)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 20  # 3 a minute: one more every 20 seconds
        assert refused.json()["status"] == 429
        assert "3 requests a minute" in refused.json()["detail"]
        assert limited.post("/api/v1/listings", json={}, headers=member).status_code == 429  # every endpoint
        assert limited.get("/api/v1/me", headers=other).status_code == 200  # each key has its own budget
        assert limited.get("/health").status_code == 200
        wrong = bearer("sbz_" + "x" * 40)
        assert limited.get("/api/v1/me", headers=wrong).status_code == 401  # unknown keys are not counted


def test_the_bucket_refills_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    key = uuid.uuid4()
    for _ in range(60):
        limiter.take(key)  # a burst of a minute's worth
    with pytest.raises(TooManyRequests) as refused:
        limiter.take(key)
    assert refused.value.headers == {"Retry-After": "1"}
    now[0] += 1.0  # one request a second comes back
    limiter.take(key)
    with pytest.raises(TooManyRequests):
        limiter.take(key)
    now[0] += 120.0  # never more than the burst
    for _ in range(60):
        limiter.take(key)
    with pytest.raises(TooManyRequests):
        limiter.take(key)
    RateLimiter(0).take(key)  # 0: off


def test_keys_never_reach_the_logs(
    api: Api, client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    org = api.organization()
    created = client.post(f"/api/v1/organizations/{org['id']}/api-keys", json={}, headers=api.admin).json()
    secret = created["key"]
    unknown = "sbz_" + "y" * 43
    client.get("/api/v1/me", headers=bearer(secret))
    client.get("/api/v1/me", headers=bearer(unknown))
    client.post("/api/v1/listings", json={"kind": "gift"}, headers=bearer(secret))
    monkeypatch.setattr(get_settings(), "rate_limit_per_minute", 1)
    with TestClient(create_app()) as limited:
        limited.get("/api/v1/me", headers=bearer(secret))
        limited.get("/api/v1/me", headers=bearer(secret))  # 429
    client.delete(f"/api/v1/api-keys/{created['id']}", headers=bearer(secret))
    client.get("/api/v1/me", headers=bearer(secret))  # 401: revoked
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert secret not in logged
    assert secret[4:] not in logged
    assert unknown not in logged
