from typing import Literal

from pydantic import BaseModel, Field

Objective = Literal["co2e", "quantity", "score"]


class KindCounts(BaseModel):
    offers: int = 0
    needs: int = 0


class ImpactTotals(BaseModel):
    exchanges: int
    quantity: dict[str, float] = Field(description="Per year, by unit")
    co2e_avoided_t: float


class PlanAllocation(BaseModel):
    match_id: str
    offer_id: str
    need_id: str
    quantity: float
    unit: str | None
    value: float = Field(description="Contribution to the objective")


class PlanRead(BaseModel):
    region: str
    objective: Objective
    status: str
    total: float = Field(description="The objective's value: t CO2e per year, units per year, or summed score")
    co2e_avoided_t: float
    quantity: dict[str, float]
    allocations: list[PlanAllocation]


class RegionSummary(BaseModel):
    region: str
    organizations: int
    listings_by_resource_type: dict[str, KindCounts]
    offers_by_ewc_chapter: dict[str, int]
    offered_per_year: dict[str, float] = Field(description="Active offers, annual rates by unit")
    needed_per_year: dict[str, float]
    candidate_matches: int = Field(description="Matches at or above min_score touching the region")
    min_score: float
    matches_by_status: dict[str, int]
    realised: ImpactTotals
    best_plan: ImpactTotals
