"""Webhooks: organizations subscribe URLs to events; events become pending deliveries (an outbox) in the
emitter's own transaction, and app/webhooks/delivery.py sends them, signed, outside any request.

Signature scheme: every delivery carries `Symbioza-Timestamp: <unix seconds>` and
`Symbioza-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.{raw body}" keyed with the subscription's secret>`.
"""

import hashlib
import hmac
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.db import utcnow
from app.errors import Forbidden, NotFound
from app.listings.models import Listing
from app.organizations import repository as organizations
from app.webhooks import repository
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.schemas import EVENTS, SubscriptionCreate

SECRET_MARK = "whsec_"
SIGNATURE_SCHEME = "sha256="
LISTING_EXPIRING = "listing.expiring"
MATCH_CREATED = "match.created"


def new_secret() -> str:
    return SECRET_MARK + secrets.token_urlsafe(32)  # 32 random bytes


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The Symbioza-Signature header value for a body sent at a timestamp (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_SCHEME + digest


def verify_signature(secret: str, timestamp: int | str, body: bytes | str, header: str) -> bool:
    """Whether a Symbioza-Signature header matches the raw body and Symbioza-Timestamp (constant-time compare).

    Receivers should also refuse timestamps far from their own clock (say five minutes) against replays.
    """
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, str(timestamp).strip(), raw)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


# --- subscriptions --------------------------------------------------------------------------------------------


def _refuse_agencies(principal: Principal) -> None:
    if principal.is_agency:
        raise Forbidden("Agency keys read; they do not manage webhooks.")


def _may_manage(principal: Principal, organization_id: uuid.UUID) -> bool:
    return principal.is_admin or principal.owns(organization_id)


def _organization_for(session: Session, principal: Principal, organization_id: uuid.UUID) -> uuid.UUID:
    _refuse_agencies(principal)
    if not _may_manage(principal, organization_id) or organizations.get(session, organization_id) is None:
        raise NotFound(f"No organization {organization_id} whose webhooks you can manage.")
    return organization_id


def get(session: Session, principal: Principal, subscription_id: uuid.UUID) -> WebhookSubscription:
    _refuse_agencies(principal)
    subscription = repository.get_subscription(session, subscription_id)
    if subscription is None or not _may_manage(principal, subscription.organization_id):
        raise NotFound(f"No webhook {subscription_id} that you can manage.")
    return subscription


def create(
    session: Session, principal: Principal, organization_id: uuid.UUID, data: SubscriptionCreate
) -> WebhookSubscription:
    """A new subscription; its `secret` is readable on the returned object only until the session ends."""
    _organization_for(session, principal, organization_id)
    subscription = WebhookSubscription(
        organization_id=organization_id,
        url=str(data.url),
        events=list(data.events),
        min_score=data.min_score,
        description=data.description or None,
        secret=new_secret(),
    )
    return repository.add_subscription(session, subscription)


def page(
    session: Session, principal: Principal, organization_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[WebhookSubscription], int]:
    _organization_for(session, principal, organization_id)
    return repository.subscriptions_page(session, organization_id, limit=limit, offset=offset)


def delete(session: Session, principal: Principal, subscription_id: uuid.UUID) -> None:
    repository.delete_subscription(session, get(session, principal, subscription_id))


def deliveries(
    session: Session, principal: Principal, subscription_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    subscription = get(session, principal, subscription_id)
    return repository.deliveries_page(session, subscription.id, limit=limit, offset=offset)


# --- events ---------------------------------------------------------------------------------------------------


def emit(
    session: Session,
    event: str,
    organization_id: uuid.UUID,
    payload: dict[str, Any],
    *,
    score: float | None = None,
) -> int:
    """Queues `event` for every subscription of the organization to it; returns how many deliveries were queued.

    The deliveries are rows in the caller's transaction (an outbox): they are sent only if it commits, and sending
    happens later, in the dispatcher's thread, so a slow receiver never slows the caller. match.created needs the
    match's `score`: it goes only to subscriptions whose min_score is at most that. `payload` becomes the body's
    "data"; UUIDs, dates and datetimes in it are written as strings.
    """
    return len(_emit(session, event, organization_id, payload, score=score))


def _emit(
    session: Session,
    event: str,
    organization_id: uuid.UUID,
    payload: dict[str, Any],
    *,
    score: float | None = None,
    dedupe_key: str | None = None,
    subscriptions: Sequence[WebhookSubscription] | None = None,
) -> list[WebhookDelivery]:
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}; expected one of {', '.join(EVENTS)}")
    if event == MATCH_CREATED and score is None:
        raise ValueError("match.created needs the match's score")
    if subscriptions is None:
        subscriptions = repository.subscriptions_of(session, organization_id)
    targets = [
        s
        for s in subscriptions
        if event in s.events and (event != MATCH_CREATED or score is None or s.min_score <= score)
    ]
    if not targets:
        return []
    data = to_jsonable_python(payload)
    now = utcnow()
    rows = [
        WebhookDelivery(
            subscription_id=s.id,
            event=event,
            payload=data,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            dedupe_key=dedupe_key,
            created_at=now,
        )
        for s in targets
    ]
    repository.add_deliveries(session, rows)
    return rows


def _expiring_key(listing: Listing) -> str:
    # The date is part of the key: a listing whose availability is extended is announced again near the new date.
    assert listing.available_until is not None
    return f"{LISTING_EXPIRING}:{listing.id}:{listing.available_until.isoformat()}"


def expiring_listings(session: Session, within_days: int) -> int:
    """Emits listing.expiring for active listings whose available_until falls within the next `within_days` days
    (today included) and that their subscriptions have not been told about yet; returns how many were queued.

    The delivery rows remember what they announced (dedupe_key), so scanning again queues nothing new.
    """
    if within_days < 0:
        raise ValueError("within_days must not be negative")
    by_organization: dict[uuid.UUID, list[WebhookSubscription]] = defaultdict(list)
    for subscription in repository.all_subscriptions(session):
        if LISTING_EXPIRING in subscription.events:
            by_organization[subscription.organization_id].append(subscription)
    if not by_organization:
        return 0
    today = utcnow().date()
    listings = repository.expiring_listings(session, by_organization.keys(), today, today + timedelta(days=within_days))
    keys = {listing.id: _expiring_key(listing) for listing in listings}
    subscription_ids = [s.id for subs in by_organization.values() for s in subs]
    announced = repository.existing_keys(session, subscription_ids, set(keys.values()))
    queued = 0
    for listing in listings:
        key = keys[listing.id]
        fresh = [s for s in by_organization[listing.organization_id] if (s.id, key) not in announced]
        if not fresh:
            continue
        assert listing.available_until is not None
        payload = {
            "listing_id": listing.id,
            "organization_id": listing.organization_id,
            "kind": listing.kind,
            "resource_type": listing.resource_type,
            "title": listing.title,
            "available_until": listing.available_until,
            "days_left": (listing.available_until - today).days,
        }
        queued += len(
            _emit(session, LISTING_EXPIRING, listing.organization_id, payload, dedupe_key=key, subscriptions=fresh)
        )
    return queued
