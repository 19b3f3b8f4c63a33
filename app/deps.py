"""Dependencies shared by the routers, as Annotated aliases."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.auth.service import authenticate
from app.config import get_settings
from app.db import get_session_factory
from app.errors import InvalidField, Unauthorized


def get_session() -> Iterator[Session]:
    """The request's unit of work: committed when the endpoint succeeds, rolled back when it raises."""
    session = get_session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


def get_principal(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthorized("This endpoint needs an API key: send 'Authorization: Bearer <key>'.")
    return authenticate(session, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


class Page:
    """limit/offset pagination parameters, bounded by the settings."""

    def __init__(
        self,
        limit: Annotated[int | None, Query(ge=1, description="Items per page")] = None,
        offset: Annotated[int, Query(ge=0, description="Items to skip")] = 0,
    ) -> None:
        settings = get_settings()
        self.limit = min(limit or settings.page_size_default, settings.page_size_max)
        self.offset = offset


PageDep = Annotated[Page, Depends()]


def get_if_match(
    if_match: Annotated[str | None, Header(description='The ETag last read, e.g. "3"')] = None,
) -> int | None:
    """A listing's ETag is its version number in quotes."""
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise InvalidField("If-Match", 'expected an ETag such as "3"')
    return int(raw)


IfMatchDep = Annotated[int | None, Depends(get_if_match)]


def etag(version: int) -> str:
    return f'"{version}"'
