import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.listings.schemas import ListingRead
from app.matches.workflow import DeclineReason
from app.organizations.schemas import Number

WorkflowStep = Literal["interested", "in_contact", "realised", "declined"]
MatchStatus = Literal["proposed", "interested", "in_contact", "realised", "declined"]


class ComponentRead(BaseModel):
    name: str
    value: float = Field(description="How well this aspect fits, 0 to 1")
    weight: float
    contribution: float = Field(description="Share of the score this comparison adds")
    level: str
    reason: str


class ImpactRead(BaseModel):
    quantity: float | None = Field(description="Exchangeable quantity per year")
    unit: str | None
    co2e_avoided_t: float | None = Field(description="t CO2e per year: substitution + disposal avoided - transport")
    substitution_t: float | None
    disposal_avoided_t: float | None
    transport_t: float | None
    basis: str = Field(description="What the estimate rests on: the route, its emission factors and sources")
    route: str | None = Field(description="The knowledge route whose factors the estimate applies")


class ContactRead(BaseModel):
    organization_id: uuid.UUID
    name: str
    person: str | None = None
    email: str | None = None
    phone: str | None = None


class Contacts(BaseModel):
    """Who to call: both, once both parties are interested; to admins always; to an agency, the parties inside its
    regions (the other side is null)."""

    offer: ContactRead | None
    need: ContactRead | None


class MatchFields(BaseModel):
    id: uuid.UUID
    offer_id: uuid.UUID
    need_id: uuid.UUID
    score: float
    rule: str = Field(description="The blocking rule that found the pair")
    components: list[ComponentRead]
    explanation: list[str]
    distance_km: float | None
    impact: ImpactRead
    engine_version: str
    status: MatchStatus
    offer_state: MatchStatus
    need_state: MatchStatus
    realised_quantity: float | None
    realised_unit: str | None
    realised_start: date | None
    contacts: Contacts | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description='Raised by every change; the ETag is this number in quotes, e.g. "3"')


class MatchRead(MatchFields):
    """A match seen from one of its listings."""

    listing: ListingRead = Field(description="The other side of the exchange, as the caller may see it")


class MatchDetail(MatchFields):
    """A match with both sides."""

    offer: ListingRead
    need: ListingRead


class MatchList(BaseModel):
    items: list[MatchRead]
    total: int
    limit: int
    offset: int


class MatchDetailList(BaseModel):
    items: list[MatchDetail]
    total: int
    limit: int
    offset: int


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: WorkflowStep
    side: Literal["offer", "need"] | None = Field(default=None, description="Admins only: which party they act for")
    reason: DeclineReason | None = Field(default=None, description="Required when declining")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
    quantity: Annotated[Number, Field(gt=0, le=1e12)] | None = Field(default=None, description="Realised, per year")
    start_date: date | None = Field(default=None, description="When the realised exchange started")

    @model_validator(mode="after")
    def _complete(self) -> "WorkflowUpdate":
        if self.state == "declined" and self.reason is None:
            raise ValueError("declining needs a reason: quality, quantity, distance, price, regulation, timing, other")
        if self.state == "realised" and (self.quantity is None or self.start_date is None):
            raise ValueError("a realised exchange needs the actual quantity and its start_date")
        return self


class EventRead(BaseModel):
    id: uuid.UUID
    side: str
    from_state: str
    to_state: str
    reason: str | None
    note: str | None
    quantity: float | None
    start_date: date | None
    created_at: datetime


class EventList(BaseModel):
    items: list[EventRead]
    total: int
