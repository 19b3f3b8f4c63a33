import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.listings.schemas import ListingRead


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
    basis: str


class MatchRead(BaseModel):
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
    updated_at: datetime
    listing: ListingRead = Field(description="The other side of the exchange, as the caller may see it")


class MatchList(BaseModel):
    items: list[MatchRead]
    total: int
    limit: int
    offset: int
