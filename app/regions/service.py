"""What an agency reports for its region: totals, workflow, realised impact and the best feasible plan."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import cast

from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.errors import Forbidden
from app.matches import repository as matches
from app.matches.adapter import record
from app.matches.repository import MatchFilter
from app.matches.service import Row
from app.regions import repository
from app.regions.schemas import ImpactTotals, KindCounts, Objective, PlanAllocation, PlanRead, RegionSummary
from matching.plan import Edge, allocate
from matching.records import annual_rate


def check_access(principal: Principal, code: str) -> None:
    if not (principal.is_admin or (principal.is_agency and principal.covers_region(code))):
        raise Forbidden(f"Only admins and agencies covering {code} read its regional figures.")


def summary(session: Session, principal: Principal, code: str, min_score: float) -> RegionSummary:
    check_access(principal, code)
    listings = repository.active_listings(session, code)
    by_type: dict[str, KindCounts] = defaultdict(KindCounts)
    chapters: Counter[str] = Counter()
    offered: dict[str, float] = defaultdict(float)
    needed: dict[str, float] = defaultdict(float)
    for listing in listings:
        counts = by_type[listing.resource_type]
        if listing.kind == "offer":
            counts.offers += 1
            code_ = listing.ewc or listing.suggested_ewc
            if code_:
                chapters[code_[:2]] += 1
        else:
            counts.needs += 1
        rate = annual_rate(record(listing))
        if rate:
            (offered if listing.kind == "offer" else needed)[rate[1]] += rate[0]
    rows = _rows(session, principal, code)
    plan = _plan(code, rows, "co2e", min_score)
    return RegionSummary(
        region=code,
        organizations=repository.count_organizations(session, code),
        listings_by_resource_type=dict(sorted(by_type.items())),
        offers_by_ewc_chapter=dict(sorted(chapters.items())),
        offered_per_year=_rounded(offered),
        needed_per_year=_rounded(needed),
        candidate_matches=sum(row[0].score >= min_score for row in rows),
        min_score=min_score,
        matches_by_status=dict(sorted(Counter(row[0].status for row in rows).items())),
        realised=_realised(row for row in rows if row[0].status == "realised"),
        best_plan=ImpactTotals(
            exchanges=len(plan.allocations), quantity=plan.quantity, co2e_avoided_t=plan.co2e_avoided_t
        ),
    )


def plan(session: Session, principal: Principal, code: str, objective: Objective, min_score: float) -> PlanRead:
    check_access(principal, code)
    return _plan(code, _rows(session, principal, code), objective, min_score)


def _rows(session: Session, principal: Principal, code: str) -> list[Row]:
    query = matches.match_query(principal, MatchFilter(region=code))
    return [cast(Row, tuple(row)) for row in session.execute(query)]


def _plan(code: str, rows: list[Row], objective: Objective, min_score: float) -> PlanRead:
    """Offers and needs both inside the region, joined by matches nobody declined, in comparable units."""
    inside = [
        row
        for row in rows
        if all((owner.region or "").startswith(code) for owner in (row[3], row[4]))
        and row[0].status != "declined"
        and row[0].score >= min_score
        and row[1].status == row[2].status == "active"
    ]
    supply: dict[str, float] = {}
    demand: dict[str, float | None] = {}
    edges: list[Edge] = []
    per_unit: dict[str, tuple[float, str]] = {}
    for match, offer, need, _, _ in inside:
        quantity, unit = match.impact.get("quantity"), match.impact.get("unit")
        offered, needed = annual_rate(record(offer)), annual_rate(record(need))
        if not quantity or offered is None or offered[1] != unit:
            continue
        supply[str(offer.id)] = offered[0]
        demand[str(need.id)] = needed[0] if needed and needed[1] == unit else None
        per_unit[str(match.id)] = ((match.co2e_avoided_t or 0.0) / quantity, unit)
        value = {"co2e": per_unit[str(match.id)][0], "quantity": 1.0, "score": match.score}[objective]
        edges.append(Edge(str(match.id), str(offer.id), str(need.id), value))
    result = allocate(supply, demand, edges)
    allocations = [
        PlanAllocation(
            match_id=a.key,
            offer_id=a.offer,
            need_id=a.need,
            quantity=a.quantity,
            unit=per_unit[a.key][1],
            value=a.value,
        )
        for a in result.allocations
    ]
    totals: dict[str, float] = defaultdict(float)
    for a in allocations:
        totals[a.unit or "?"] += a.quantity
    co2e = sum(a.quantity * per_unit[a.match_id][0] for a in allocations)
    return PlanRead(
        region=code,
        objective=objective,
        status=result.status,
        total=result.total,
        co2e_avoided_t=round(co2e, 3),
        quantity=_rounded(totals),
        allocations=allocations,
    )


def _realised(rows: Iterable[Row]) -> ImpactTotals:
    count, co2e = 0, 0.0
    quantity: dict[str, float] = defaultdict(float)
    for match, *_ in rows:
        count += 1
        amount, unit = match.realised_quantity or 0.0, match.realised_unit or "?"
        quantity[unit] += amount
        planned = match.impact.get("quantity")
        if planned and match.co2e_avoided_t is not None:
            co2e += match.co2e_avoided_t * amount / planned
    return ImpactTotals(exchanges=count, quantity=_rounded(quantity), co2e_avoided_t=round(co2e, 3))


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {unit: round(amount, 3) for unit, amount in sorted(values.items())}
