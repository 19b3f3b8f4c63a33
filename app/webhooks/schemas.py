import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    UrlConstraints,
    field_validator,
)

Event = Literal["match.created", "match.updated", "listing.expiring"]
EVENTS: tuple[Event, ...] = ("match.created", "match.updated", "listing.expiring")
DeliveryStatus = Literal["pending", "delivered", "failed"]
WebhookUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="Where deliveries are POSTed (http or https)")
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS))
    min_score: float = Field(default=0.0, ge=0, le=1, description="match.created only for matches scoring this much")
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @field_validator("events")
    @classmethod
    def _each_event_once(cls, events: list[Event]) -> list[Event]:
        if len(set(events)) != len(events):
            raise ValueError("lists an event twice")
        return events


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    events: list[Event]
    min_score: float
    description: str | None
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="Signs every delivery (Symbioza-Signature). It is shown only this once.")


class SubscriptionList(BaseModel):
    items: list[SubscriptionRead]
    total: int
    limit: int
    offset: int


class DeliveryRead(BaseModel):
    id: uuid.UUID = Field(description="Also sent as Symbioza-Delivery and as the body's id: the same on every retry")
    subscription_id: uuid.UUID
    event: Event
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = Field(description="The receiver's HTTP status on the last attempt")
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    data: dict[str, Any] = Field(
        validation_alias=AliasChoices("payload", "data"), description="The event's data, as sent"
    )


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int
