import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from app.auth.models import ApiKey


def get_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


Credentials = Row[uuid.UUID, str, str, uuid.UUID | None, list[str], datetime | None]


def credentials(session: Session, prefix: str) -> Credentials | None:
    """What authenticating needs of the key with this prefix, as a plain row: every request reads it."""
    columns = (ApiKey.id, ApiKey.secret_hash, ApiKey.role, ApiKey.organization_id, ApiKey.regions, ApiKey.revoked_at)
    return session.execute(select(*columns).where(ApiKey.prefix == prefix)).first()


def get(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_for_organization(session: Session, organization_id: uuid.UUID) -> Sequence[ApiKey]:
    query = select(ApiKey).where(ApiKey.organization_id == organization_id).order_by(ApiKey.created_at)
    return session.scalars(query).all()


def add(session: Session, key: ApiKey) -> ApiKey:
    session.add(key)
    session.flush()
    return key
