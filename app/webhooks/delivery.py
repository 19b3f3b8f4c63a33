"""Sends pending webhook deliveries, signed, from a background thread: never inside an API request.

Every API process runs one Dispatcher (started by the FastAPI lifespan). A round takes a small batch of due
deliveries, leases them (FOR UPDATE SKIP LOCKED on PostgreSQL, plus a compare-and-set on the attempt count, so two
processes never take the same one), commits, and only then sends them over HTTP, a few at a time. Each outcome is
written back at once: 2xx -> delivered; otherwise the delivery is due again after an exponential back-off, until
the last attempt, after which it is failed. A process that dies while sending leaves its lease to run out; the
delivery is then sent again, so receivers should expect (rarely) the same Symbioza-Delivery twice.
"""

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import get_session_factory, utcnow
from app.webhooks import repository, service

logger = logging.getLogger("symbioza.webhooks")

USER_AGENT = "Symbioza-Webhooks/1"
MAX_BACKOFF_SECONDS = 3600.0
MAX_ERROR_LENGTH = 500
# The listing.expiring scan: once at start and then hourly, for listings ending within a week.
EXPIRING_SCAN_SECONDS = 3600.0
EXPIRING_WITHIN_DAYS = 7


@dataclass(frozen=True)
class Claimed:
    """What one attempt needs, read while the delivery was leased (no ORM object leaves that transaction)."""

    id: uuid.UUID
    attempt: int
    event: str
    created_at: datetime
    payload: dict[str, Any]
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(delivery: Claimed) -> bytes:
    """The JSON body: the same bytes on every attempt of a delivery."""
    document = {
        "id": str(delivery.id),
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def backoff_seconds(attempt: int, base: float) -> float:
    """The wait after failed attempt number `attempt` (1, 2, ...): base, 2 base, 4 base, ... at most an hour."""
    return float(min(base * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))


class Dispatcher:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        session_factory: Callable[[], Session] | None = None,
        batch_size: int = 10,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        expiring_scan_seconds: float | None = EXPIRING_SCAN_SECONDS,
        expiring_within_days: int = EXPIRING_WITHIN_DAYS,
    ) -> None:
        self.settings = settings or get_settings()
        self.batch_size = batch_size
        self.timeout = timeout
        self.expiring_scan_seconds = expiring_scan_seconds
        self.expiring_within_days = expiring_within_days
        self._sessions = session_factory or get_session_factory()
        # Long enough for connect + write + read timeouts of a whole batch; then another sender may try again.
        self._lease = timedelta(seconds=4 * timeout + 30)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=batch_size, max_keepalive_connections=batch_size),
            transport=transport,
        )
        self._pool = ThreadPoolExecutor(max_workers=batch_size, thread_name_prefix="symbioza-webhook-send")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Starts the background thread, unless webhooks are disabled in the settings."""
        if self.settings.webhooks_enabled and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="symbioza-webhooks", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stops the thread (an attempt under way may finish first) and closes the HTTP client."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=4 * self.timeout + self.settings.webhook_poll_seconds)
            self._thread = None
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _loop(self) -> None:
        next_scan = time.monotonic()
        while not self._stopping.is_set():
            busy = False
            try:
                if self.expiring_scan_seconds is not None and time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + self.expiring_scan_seconds
                    self.scan_expiring()
                busy = self.run_once() >= self.batch_size
            except Exception:
                logger.exception("webhook dispatcher: a round failed; trying again after the poll interval")
            if not busy:  # a full batch means more may be due: go on at once
                self._stopping.wait(self.settings.webhook_poll_seconds)

    # --- work --------------------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Sends one batch of due deliveries and records every outcome; returns how many were attempted."""
        now = utcnow()
        with self._sessions() as session, session.begin():
            rows = repository.claim_due(session, now=now, limit=self.batch_size, lease_until=now + self._lease)
            claimed = [Claimed(d.id, d.attempts, d.event, d.created_at, d.payload, s.url, s.secret) for d, s in rows]
        if len(claimed) == 1:
            self._attempt(claimed[0])
        elif claimed:
            list(self._pool.map(self._attempt, claimed))
        return len(claimed)

    def scan_expiring(self) -> int:
        """Queues listing.expiring for listings ending soon (see service.expiring_listings); returns how many."""
        try:
            with self._sessions() as session, session.begin():
                return service.expiring_listings(session, self.expiring_within_days)
        except IntegrityError:
            # Another process queued the same announcements at the same moment; they are queued once.
            return 0

    def _attempt(self, delivery: Claimed) -> None:
        outcome = self.send(delivery)
        try:
            self._record(delivery, outcome)
        except Exception:
            # The lease runs out and the delivery is tried again later.
            logger.exception("webhook dispatcher: could not record the outcome of delivery %s", delivery.id)

    def send(self, delivery: Claimed) -> Outcome:
        """One HTTP attempt. Never raises: transport errors and timeouts become the outcome's error."""
        body = body_of(delivery)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Symbioza-Event": delivery.event,
            "Symbioza-Delivery": str(delivery.id),
            "Symbioza-Timestamp": timestamp,
            "Symbioza-Signature": service.sign(delivery.secret, timestamp, body),
        }
        try:
            # Streamed and closed unread: the receiver's body does not matter, only its status.
            with self._client.stream("POST", delivery.url, content=body, headers=headers) as response:
                code = response.status_code
                error = None if 200 <= code < 300 else f"HTTP {code} {response.reason_phrase}".strip()
                return Outcome(code, error)
        except Exception as exc:  # timeouts, refused connections, TLS and protocol errors, bad URLs
            message = str(exc) or "no details"
            return Outcome(None, f"{type(exc).__name__}: {message}"[:MAX_ERROR_LENGTH])

    def _record(self, delivery: Claimed, outcome: Outcome) -> None:
        now = utcnow()
        values: dict[str, Any] = {"last_status_code": outcome.status_code, "last_error": outcome.error}
        if outcome.ok:
            values |= {"status": "delivered", "delivered_at": now, "next_attempt_at": None}
        elif delivery.attempt >= self.settings.webhook_max_attempts:
            values |= {"status": "failed", "next_attempt_at": None}
        else:
            wait = backoff_seconds(delivery.attempt, self.settings.webhook_backoff_seconds)
            values |= {"next_attempt_at": now + timedelta(seconds=wait)}
        with self._sessions() as session, session.begin():
            if not repository.record_attempt(session, delivery.id, delivery.attempt, values):
                logger.info(
                    "webhook delivery %s was deleted or taken again before its outcome could be written", delivery.id
                )
