"""Dependencies shared by the routers, as Annotated aliases."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.auth.ratelimit import RateLimiter
from app.auth.service import authenticate
from app.config import get_settings
from app.db import loop_session, session_scope
from app.errors import InvalidField, Unauthorized
from app.idempotency import service as idempotency


def get_session() -> Iterator[Session]:
    """The request's unit of work: committed when the endpoint succeeds, rolled back when it raises."""
    with session_scope() as session:
        yield session


# scope="function": the transaction commits before the answer is sent, so a client that got 201 finds the row.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """On the event loop (one indexed read, on its own connection): a worker thread for it would cost more."""
    if credentials is None:
        raise Unauthorized("This endpoint needs an API key: send 'Authorization: Bearer <key>'.")
    with loop_session() as session:
        principal = authenticate(session, credentials.credentials)
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.take(principal.key_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


# Far beyond any real list, and within the 64-bit integers SQLite and PostgreSQL take for OFFSET.
MAX_OFFSET = 1_000_000_000


# Read once, when the routes are declared, so that the OpenAPI schema states the maximum.
PAGE_SIZE_MAX = get_settings().page_size_max


class Page:
    """limit/offset pagination parameters; a limit above the maximum is refused (422), not silently cut."""

    def __init__(
        self,
        limit: Annotated[
            int | None, Query(ge=1, le=PAGE_SIZE_MAX, description=f"Items per page, at most {PAGE_SIZE_MAX}")
        ] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
    ) -> None:
        settings = get_settings()
        self.limit = min(limit or settings.page_size_default, PAGE_SIZE_MAX)
        self.offset = offset


PageDep = Annotated[Page, Depends()]


def get_if_match(
    if_match: Annotated[
        str | None,
        Header(description='Required: the ETag last read, e.g. "3". Missing: 428; no longer current: 412.'),
    ] = None,
) -> int | None:
    """A listing's or match's ETag is its version number in quotes. The service requires it (after checking that
    the caller may write at all), so None here means "not sent"."""
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidField("If-Match", 'expected an ETag such as "3"')
    return int(raw)


IfMatchDep = Annotated[int | None, Depends(get_if_match)]


def etag(version: int) -> str:
    return f'"{version}"'


async def _fingerprint(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Any unique string, e.g. a UUID. A retry with the same key and body gets the first answer "
            "and creates nothing new (for 24 hours); the same key with another body is refused (422).",
        ),
    ] = None,
) -> tuple[str, str] | None:
    """The Idempotency-Key and a digest of the request it came with (the body is read here, and kept)."""
    if idempotency_key is None:
        return None
    body = await request.body()
    return idempotency_key, idempotency.fingerprint(request.method, request.url.path, request.url.query, body)


def get_idempotency(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    keyed: Annotated[tuple[str, str] | None, Depends(_fingerprint)],
) -> idempotency.Idempotency:
    if keyed is None:
        return idempotency.Idempotency()
    status_code = getattr(request.scope.get("route"), "status_code", None) or 200
    return idempotency.begin(session, principal.key_id, keyed[0], keyed[1], status_code=status_code)


# POST endpoints take this (before anything that reads the body) and pass their answer to its `remember`.
IdempotencyDep = Annotated[idempotency.Idempotency, Depends(get_idempotency)]


async def replay_response(_: Request, exc: Exception) -> Response:
    """Answers a retried POST with the response the first one got (see app/idempotency/service.py)."""
    assert isinstance(exc, idempotency.Replay)
    return Response(exc.body, status_code=exc.status_code, headers=exc.headers, media_type="application/json")
