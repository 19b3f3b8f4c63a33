import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from app.listings.models import Listing
from app.webhooks.models import WebhookDelivery, WebhookSubscription


def get_subscription(session: Session, subscription_id: uuid.UUID) -> WebhookSubscription | None:
    return session.get(WebhookSubscription, subscription_id)


def add_subscription(session: Session, subscription: WebhookSubscription) -> WebhookSubscription:
    session.add(subscription)
    session.flush()
    return subscription


def delete_subscription(session: Session, subscription: WebhookSubscription) -> None:
    # Its deliveries go with it (also those still pending): nothing more is sent to a deleted subscription.
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id))
    session.delete(subscription)
    session.flush()


def subscriptions_of(session: Session, organization_id: uuid.UUID) -> Sequence[WebhookSubscription]:
    query = select(WebhookSubscription).where(WebhookSubscription.organization_id == organization_id)
    return session.scalars(query.order_by(WebhookSubscription.created_at, WebhookSubscription.id)).all()


def all_subscriptions(session: Session) -> Sequence[WebhookSubscription]:
    return session.scalars(select(WebhookSubscription)).all()


def subscriptions_page(
    session: Session, organization_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[WebhookSubscription], int]:
    where = WebhookSubscription.organization_id == organization_id
    total = session.scalar(select(func.count()).select_from(WebhookSubscription).where(where)) or 0
    query = select(WebhookSubscription).where(where).order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    return session.scalars(query.limit(limit).offset(offset)).all(), total


def add_deliveries(session: Session, deliveries: Sequence[WebhookDelivery]) -> None:
    session.add_all(deliveries)
    session.flush()


def deliveries_page(
    session: Session, subscription_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    where = WebhookDelivery.subscription_id == subscription_id
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(where)) or 0
    query = select(WebhookDelivery).where(where).order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    return session.scalars(query.limit(limit).offset(offset)).all(), total


def existing_keys(
    session: Session, subscription_ids: Collection[uuid.UUID], keys: Collection[str]
) -> set[tuple[uuid.UUID, str]]:
    """Which (subscription, dedupe key) pairs already have a delivery."""
    if not subscription_ids or not keys:
        return set()
    query = select(WebhookDelivery.subscription_id, WebhookDelivery.dedupe_key).where(
        WebhookDelivery.subscription_id.in_(subscription_ids), WebhookDelivery.dedupe_key.in_(keys)
    )
    return {(row[0], row[1]) for row in session.execute(query) if row[1] is not None}


def expiring_listings(
    session: Session, organization_ids: Collection[uuid.UUID], first: date, last: date
) -> Sequence[Listing]:
    """Active listings of these organizations whose availability ends between first and last (inclusive)."""
    if not organization_ids:
        return []
    query = select(Listing).where(
        Listing.organization_id.in_(organization_ids),
        Listing.status == "active",
        Listing.available_until >= first,
        Listing.available_until <= last,
    )
    return session.scalars(query.order_by(Listing.available_until, Listing.id)).all()


def claim_due(
    session: Session, *, now: datetime, limit: int, lease_until: datetime
) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
    """Takes up to `limit` due pending deliveries for one sender: counts the attempt and leases them until then.

    On PostgreSQL the rows are read FOR UPDATE SKIP LOCKED, so concurrent senders take different rows without
    waiting for each other. Every row is then taken with a compare-and-set on its attempt count, which also keeps
    two senders on one SQLite file (where FOR UPDATE does not exist) from taking the same row.
    """
    due = (
        select(WebhookDelivery.id, WebhookDelivery.attempts)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken: list[uuid.UUID] = []
    for delivery_id, attempts in session.execute(due).all():
        claim = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.attempts == attempts,
            )
            .values(attempts=attempts + 1, next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], session.execute(claim)).rowcount == 1:
            taken.append(delivery_id)
    if not taken:
        return []
    query = (
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.id.in_(taken))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .execution_options(populate_existing=True)
    )
    return [(row[0], row[1]) for row in session.execute(query).all()]


def record_attempt(session: Session, delivery_id: uuid.UUID, attempt: int, values: dict[str, Any]) -> bool:
    """Writes an attempt's outcome, unless the delivery was meanwhile deleted or taken again; says whether it did."""
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.attempts == attempt,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1
