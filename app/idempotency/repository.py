import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.idempotency.models import IdempotencyKey


def get(session: Session, api_key_id: uuid.UUID, key: str) -> IdempotencyKey | None:
    query = select(IdempotencyKey).where(IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == key)
    return session.scalar(query)


def insert(session: Session, record: IdempotencyKey) -> bool:
    """Adds the record; False when a concurrent request with the same key committed it first.

    That request's transaction is rolled back whole: so far it has only read, and it answers with the first
    request's response instead.
    """
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    return True


def delete_expired(session: Session, now: datetime, *, limit: int = 100) -> None:
    """Removes some expired records; rows another transaction is removing are skipped, not waited for."""
    expired = select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= now).limit(limit)
    ids = session.scalars(expired.with_for_update(skip_locked=True)).all()
    if ids:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids)))


def remove(session: Session, record_id: uuid.UUID) -> None:
    # A statement rather than session.delete(): a concurrent request may have removed the row already.
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
