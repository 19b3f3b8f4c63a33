import uuid

from fastapi import APIRouter, status

from app.deps import IdempotencyDep, PageDep, PrincipalDep, SessionDep
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryList,
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionRead,
)

router = APIRouter(tags=["webhooks"])


@router.post("/organizations/{organization_id}/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(
    organization_id: uuid.UUID,
    body: SubscriptionCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency: IdempotencyDep,
) -> SubscriptionCreated:
    """Subscribes a URL to events. The answer carries the signing `secret`, shown only this once."""
    subscription = service.create(session, principal, organization_id, body)
    created = SubscriptionCreated.model_validate(subscription, from_attributes=True)
    return idempotency.remember(created, secret="secret")  # the secret itself is never stored for a retry


@router.get("/organizations/{organization_id}/webhooks")
def list_webhooks(
    organization_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> SubscriptionList:
    rows, total = service.page(session, principal, organization_id, limit=page.limit, offset=page.offset)
    items = [SubscriptionRead.model_validate(row, from_attributes=True) for row in rows]
    return SubscriptionList(items=items, total=total, limit=page.limit, offset=page.offset)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    """Deletes the subscription with its delivery log; what is still pending is not sent."""
    service.delete(session, principal, webhook_id)


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(webhook_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, page: PageDep) -> DeliveryList:
    """The delivery log, newest first: each delivery's status, attempts and the receiver's last answer."""
    rows, total = service.deliveries(session, principal, webhook_id, limit=page.limit, offset=page.offset)
    items = [DeliveryRead.model_validate(row, from_attributes=True) for row in rows]
    return DeliveryList(items=items, total=total, limit=page.limit, offset=page.offset)
