import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import PrincipalDep, SessionDep
from app.listings import service as listings
from app.matches import service
from app.matches.schemas import MatchList, MatchRead

router = APIRouter(tags=["matches"])

Rule = Annotated[
    str | None,
    Query(pattern="^(same_code|text_neighbour|code_proximity|knowledge_route|activity_route|same_stream)$"),
]


@router.get("/listings/{listing_id}/matches")
def listing_matches(
    listing_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    max_distance_km: Annotated[float | None, Query(gt=0)] = None,
    rule: Rule = None,
) -> MatchList:
    """Ranked candidates for one listing, best first, each with its reasons and estimated impact."""
    page, total = service.for_listing(
        session,
        principal,
        listing_id,
        min_score=min_score,
        max_distance_km=max_distance_km,
        rule=rule,
        limit=limit,
        offset=offset,
    )
    others = listings.to_read(session, principal, [other for _, other in page])
    items = [
        MatchRead.model_validate(
            {**{k: getattr(m, k) for k in MatchRead.model_fields if k != "listing"}, "listing": other}
        )
        for (m, _), other in zip(page, others, strict=True)
    ]
    return MatchList(items=items, total=total, limit=limit, offset=offset)
