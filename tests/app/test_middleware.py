"""Hardening over HTTP: security headers on every answer, CORS only for configured origins, the request id in and
out, JSON log lines without keys, and errors (500s, database errors) that show neither traceback nor SQL."""

import json
import logging
import re
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from httpx import Headers
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import config
from app.deps import get_session
from app.logs import JsonFormatter, redact
from app.main import create_app
from tests.conftest import Api, bearer

PROBLEM = "application/problem+json"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
ORIGIN = "https://app.symbioza.example"


def _assert_security_headers(headers: Headers, *, docs: bool = False) -> None:
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("referrer-policy") == "no-referrer"
    policy = headers["content-security-policy"]
    if docs:
        assert "https://cdn.jsdelivr.net" in policy and "frame-ancestors 'none'" in policy
    else:
        assert policy.startswith("default-src 'none'") and "frame-ancestors 'none'" in policy


def test_security_headers_on_every_kind_of_answer(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    answers = {
        "ok": client.get("/api/v1/me", headers=member),
        "created": client.post("/api/v1/taxonomy/suggest", json={"text": "popiół lotny"}, headers=member),
        "export": client.get("/api/v1/matches?format=csv", headers=member),
        "unauthorized": client.get("/api/v1/me"),
        "not found": client.get("/api/v1/nothing-here", headers=member),
        "invalid": client.get("/api/v1/listings?limit=0", headers=member),
        "too large": client.post(
            "/api/v1/listings", content=b"{}", headers=member | {"Content-Length": str(50 * 1024 * 1024)}
        ),
    }
    for name, response in answers.items():
        _assert_security_headers(response.headers)
        assert response.headers["cache-control"] == "no-store", name  # keyed answers stay out of every cache
    assert answers["too large"].status_code == 413
    for path in ("/health", "/ready", "/openapi.json"):
        response = client.get(path)
        _assert_security_headers(response.headers)
        assert "cache-control" not in response.headers, path
    for path in ("/docs", "/redoc"):
        _assert_security_headers(client.get(path).headers, docs=True)  # the pages load Swagger UI from its CDN


def test_cors_is_off_unless_configured(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    plain = client.get("/api/v1/me", headers=member | {"Origin": ORIGIN})
    assert plain.status_code == 200
    assert "access-control-allow-origin" not in plain.headers
    preflight = client.options("/api/v1/listings", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert not [name for name in preflight.headers if name.startswith("access-control-")]


@pytest.fixture
def cors_client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("SYMBIOZA_CORS_ORIGINS", f"{ORIGIN}, http://localhost:5173")
    config.get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            yield client
    finally:
        monkeypatch.delenv("SYMBIOZA_CORS_ORIGINS")
        config.get_settings.cache_clear()


def test_cors_answers_configured_origins_with_explicit_methods_and_headers(
    cors_client: TestClient, admin_key: str
) -> None:
    asked = {"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "If-Match"}
    preflight = cors_client.options("/api/v1/listings/00000000-0000-0000-0000-000000000001", headers=asked)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert set(preflight.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST", "PATCH", "DELETE"}
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "if-match", "idempotency-key", "x-request-id"} <= allowed
    assert "access-control-allow-credentials" not in preflight.headers  # keys are never cookies
    _assert_security_headers(preflight.headers)

    answer = cors_client.get("/api/v1/me", headers=bearer(admin_key) | {"Origin": ORIGIN})
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location", "retry-after", "x-request-id"} <= exposed

    stranger = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    refused = cors_client.options("/api/v1/me", headers=stranger)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    other = cors_client.get("/api/v1/me", headers=bearer(admin_key) | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_origins_must_be_plain_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("*", "https://app.example/path", "app.example"):
        monkeypatch.setenv("SYMBIOZA_CORS_ORIGINS", bad)
        with pytest.raises(ValueError, match="not an origin"):
            config.Settings()
    monkeypatch.setenv("SYMBIOZA_CORS_ORIGINS", '["https://a.example/", "http://localhost:3000"]')
    assert config.Settings().cors_origins == ["https://a.example", "http://localhost:3000"]


def test_the_request_id_goes_round_trip(client: TestClient) -> None:
    given = client.get("/api/v1/me", headers={"X-Request-ID": "erp-7f3a:retry.2"})
    assert given.headers["x-request-id"] == "erp-7f3a:retry.2"
    assert given.headers["content-type"] == PROBLEM
    assert given.json()["request_id"] == "erp-7f3a:retry.2"  # also in the problem body, to quote when reporting

    generated = [client.get("/health").headers["x-request-id"] for _ in range(2)]
    assert all(GENERATED_ID.fullmatch(value) for value in generated)
    assert generated[0] != generated[1]
    for forged in ("two words", "x" * 129, "-leading-dash", "semi;colon", '"quoted"'):
        answer = client.get("/api/v1/me", headers={"X-Request-ID": forged})
        assert GENERATED_ID.fullmatch(answer.headers["x-request-id"]), forged
        assert answer.json()["request_id"] == answer.headers["x-request-id"]


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "symbioza.access"]


def test_one_json_log_line_per_request_and_never_a_key(
    api: Api, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    member = api.key(api.organization()["id"])
    key = member["Authorization"].removeprefix("Bearer ")
    unknown = "sbz_" + "q" * 43
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="symbioza"):
        client.get("/api/v1/me", headers=member | {"X-Request-ID": "req-1"})
        client.get("/api/v1/listings?limit=0", headers=member | {"X-Request-ID": "req-2"})
        client.get("/api/v1/me", headers=bearer(unknown) | {"X-Request-ID": "req-3"})
        client.get("/health", headers={"Authorization": "Basic dXNlcjpwYXNzd29yZA==", "X-Request-ID": "req-4"})
    lines = _access_lines(caplog)
    assert [(line["request_id"], line["status"]) for line in lines] == [
        ("req-1", 200),
        ("req-2", 422),
        ("req-3", 401),
        ("req-4", 200),
    ]
    first = lines[0]
    assert (first["method"], first["path"], first["logger"], first["level"]) == (
        "GET",
        "/api/v1/me",
        "symbioza.access",
        "INFO",
    )
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert first["key_prefix"] == key[:12]  # the part shown in key lists anyway
    assert lines[3]["key_prefix"] is None  # other credentials leave nothing
    formatter = JsonFormatter()
    everything = "\n".join(formatter.format(record) for record in caplog.records)
    for secret in (key, key[12:], unknown, "dXNlcjpwYXNzd29yZA=="):
        assert secret not in everything
    assert "authorization" not in everything.lower()


def test_secrets_are_scrubbed_from_log_lines_even_by_mistake(caplog: pytest.LogCaptureFixture) -> None:
    key, hook = "sbz_" + "K" * 43, "whsec_" + "W" * 43
    logger = logging.getLogger("symbioza.test")
    with caplog.at_level(logging.INFO, logger="symbioza"):
        try:
            raise ValueError(f"bad credentials {key}")
        except ValueError:
            logger.exception("header was Bearer %s, webhook %s", key, hook)
    line = JsonFormatter().format(caplog.records[-1])
    assert key not in line and hook not in line and "K" * 20 not in line and "W" * 20 not in line
    assert "sbz_KKKKKKKK[redacted]" in line  # the prefix still says which key it was
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"


def test_an_unhandled_error_is_a_500_problem_with_headers_and_no_traceback(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app()

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals in /srv/symbioza/app/secret.py")

    with caplog.at_level(logging.INFO, logger="symbioza"), TestClient(app) as client:
        response = client.get("/api/v1/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"] == "boom-1"
    assert body["detail"] == "The server failed to handle this request."
    for internal in ("Traceback", "secret", "RuntimeError", ".py", "File "):
        assert internal not in response.text
    _assert_security_headers(response.headers)
    # The traceback goes to the log instead, with the request id that the client was given.
    logged = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("RuntimeError: secret internals" in str(line.get("exception")) for line in logged)
    assert all(line["request_id"] == "boom-1" for line in logged)
    assert [line["status"] for line in _access_lines(caplog)] == [500]


def test_database_errors_show_no_sql(engine: Engine) -> None:
    app = create_app()

    @app.get("/api/v1/broken-query")
    def broken_query(session: Annotated[Session, Depends(get_session)]) -> None:
        session.execute(text("SELECT hidden_column FROM no_such_table WHERE token = :token"), {"token": "t0ps3cret"})

    @app.get("/api/v1/broken-insert")
    def broken_insert(session: Annotated[Session, Depends(get_session)]) -> None:
        session.execute(text("INSERT INTO organizations (id, name) VALUES (NULL, 'Sekret Sp. z o.o.')"))

    with TestClient(app) as client:
        for path in ("/api/v1/broken-query", "/api/v1/broken-insert"):
            response = client.get(path)
            assert response.status_code in (500, 503), (path, response.status_code)
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["request_id"] == response.headers["x-request-id"]
            for internal in ("SELECT", "INSERT", "no_such_table", "hidden_column", "t0ps3cret", "Sekret", "SQL"):
                assert internal not in response.text, (path, internal)
