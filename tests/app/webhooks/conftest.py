"""Webhook fixtures: a real HTTP receiver on localhost, fast retry settings and a dispatcher driven by the test."""

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app import config
from app.config import Settings
from app.main import create_app
from app.webhooks.delivery import Dispatcher
from tests.conftest import Api

MAX_ATTEMPTS = 3
BACKOFF = 0.05


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """A ThreadingHTTPServer on a free port that records every POST and answers as it is told to."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.fail_next = 0  # answer 500 to this many requests, then 204
        self.fail_always = False
        self.delay = 0.0  # seconds to sleep before answering
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._record(Received(dict(self.headers.items()), body, time.monotonic()))
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/symbioza"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def _record(self, request: Received) -> int:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
            if self.fail_always:
                return 500
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500
            return 204

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def dead_url() -> str:
    """A localhost URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


@pytest.fixture
def fast_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Small back-off and few attempts; the app's own dispatcher thread off, so tests drive delivery themselves."""
    monkeypatch.setenv("SYMBIOZA_WEBHOOKS_ENABLED", "false")
    monkeypatch.setenv("SYMBIOZA_WEBHOOK_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    monkeypatch.setenv("SYMBIOZA_WEBHOOK_BACKOFF_SECONDS", str(BACKOFF))
    monkeypatch.setenv("SYMBIOZA_WEBHOOK_POLL_SECONDS", "0.05")
    config.get_settings.cache_clear()
    yield config.get_settings()
    config.get_settings.cache_clear()


@pytest.fixture
def client(engine: Engine, fast_settings: Settings) -> Iterator[TestClient]:
    """The app under the fast settings (overrides tests/conftest.py's client)."""
    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def dispatcher(fast_settings: Settings, engine: Engine) -> Iterator[Dispatcher]:
    with Dispatcher(fast_settings, timeout=1.0, expiring_scan_seconds=None) as dispatcher:
        yield dispatcher


def drain(dispatcher: Dispatcher, done: Callable[[], bool], within: float = 5.0) -> None:
    """Runs the dispatcher until `done()` (waiting out back-offs), or fails after `within` seconds."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, "the deliveries did not settle in time"
        if dispatcher.run_once() == 0:
            time.sleep(0.01)


def subscribe(api: Api, headers: dict[str, str], organization_id: str, url: str, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "events": ["match.created", "match.updated", "listing.expiring"]} | fields
    response = api.client.post(f"/api/v1/organizations/{organization_id}/webhooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def deliveries(api: Api, webhook_id: str, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=headers or api.admin, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def org_uuid(organization: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(organization["id"])
