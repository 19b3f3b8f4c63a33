"""Idempotency-Key: a POST retried with the same key and the same request gets the first answer again.

The first request stores a record (in its own transaction, before it does its work) and fills in its answer before
that transaction commits. A retry finds the record and raises Replay, which the app answers with the stored
response. Two identical requests at once cannot both run: the second one's INSERT waits for the first transaction
and fails on the unique constraint, and then it replays the answer the first one committed. Only answers that were
committed are kept: a request that failed stored nothing and may be retried with the same key.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import NoReturn, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.errors import Conflict, InvalidField
from app.idempotency import repository
from app.idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("etag", "location")  # besides the status and the body, what a retry gets back

Result = TypeVar("Result", bound=BaseModel)


class Replay(Exception):
    """Not an error: the answer this request already got, to be sent again as it was."""

    def __init__(self, status_code: int, body: str, headers: dict[str, str]) -> None:
        super().__init__(f"replay of a {status_code} answer")
        self.status_code = status_code
        self.body = body
        self.headers = headers


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()


class Idempotency:
    """What an endpoint does with the request's Idempotency-Key: `remember` its answer (nothing without a key)."""

    def __init__(self, session: Session | None = None, record: IdempotencyKey | None = None, status_code: int = 200):
        self._session = session
        self._record = record
        self._status_code = status_code

    def remember(
        self, result: Result, headers: Mapping[str, str] | None = None, *, secret: str | None = None
    ) -> Result:
        """Stores the answer for retries and returns it unchanged. `secret` names a field shown only once: it is
        never stored, and a retry is told so instead of getting the answer without it."""
        if self._record is None or self._session is None:
            return result
        kept = {name: value for name, value in (headers or {}).items() if name.lower() in KEPT_HEADERS}
        self._record.status_code = self._status_code
        self._record.body = result.model_dump_json(exclude={secret} if secret else None)
        self._record.headers = kept
        self._record.replayable = secret is None
        self._session.flush()
        return result


def begin(
    session: Session, api_key_id: uuid.UUID, key: str | None, request_fingerprint: str, *, status_code: int
) -> Idempotency:
    """Before a POST does its work: raises Replay for a retry, refuses the key reused for another request."""
    if key is None:
        return Idempotency()
    now = utcnow()
    found = repository.get(session, api_key_id, key)
    if found is not None and found.expires_at <= now:
        repository.remove(session, found.id)
        found = None
    if found is None:
        ttl = timedelta(seconds=get_settings().idempotency_ttl_seconds)
        record = IdempotencyKey(api_key_id=api_key_id, key=key, fingerprint=request_fingerprint, expires_at=now + ttl)
        if repository.insert(session, record):
            repository.delete_expired(session, now)
            return Idempotency(session, record, status_code)
        found = repository.get(session, api_key_id, key)  # a concurrent duplicate committed first
        if found is None:
            raise Conflict(f"Another request with this {HEADER} is being handled; retry shortly.")
    _replay(found, request_fingerprint)


def _replay(found: IdempotencyKey, request_fingerprint: str) -> NoReturn:
    if found.fingerprint != request_fingerprint:
        raise InvalidField(HEADER, "already used for another request (method, path or body); use a new key")
    if found.status_code is None or found.body is None:
        raise Conflict(f"Another request with this {HEADER} is being handled; retry shortly.")
    if not found.replayable:
        created = json.loads(found.body).get("id")
        raise Conflict(
            f"A request with this {HEADER} already succeeded and created {created}. Its answer held a secret that "
            "is shown only once and is not kept: revoke or delete what it created if the secret was lost."
        )
    raise Replay(found.status_code, found.body, dict(found.headers) | {REPLAYED_HEADER: "true"})
