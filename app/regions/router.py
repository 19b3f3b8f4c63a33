from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.deps import PrincipalDep, SessionDep
from app.regions import service
from app.regions.schemas import Objective, PlanRead, RegionSummary

router = APIRouter(prefix="/regions", tags=["regions"])

Code = Annotated[str, Path(pattern=r"^[A-Z]{2}[0-9A-Z]{0,3}$", description="NUTS code, e.g. PL21 or PL213")]


@router.get("/{code}/summary")
def region_summary(
    code: Code,
    session: SessionDep,
    principal: PrincipalDep,
    min_score: Annotated[float, Query(ge=0, le=1, description="Threshold for counting candidates")] = 0.5,
) -> RegionSummary:
    return service.summary(session, principal, code, min_score)


@router.get("/{code}/plan")
def region_plan(
    code: Code,
    session: SessionDep,
    principal: PrincipalDep,
    objective: Objective = "co2e",
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.3,
) -> PlanRead:
    """A feasible allocation of the region's offers to its needs that maximises the objective (linear programme)."""
    return service.plan(session, principal, code, objective, min_score)
