"""Reading matches: a listing's ranked candidates as its caller may see them."""

import uuid

from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.listings import service as listings
from app.listings.models import Listing
from app.matches import repository
from app.matches.models import Match


def for_listing(
    session: Session,
    principal: Principal,
    listing_id: uuid.UUID,
    *,
    min_score: float,
    max_distance_km: float | None,
    rule: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Match, Listing]], int]:
    """The caller's view of a listing's matches: only counterparts the caller may see."""
    listing = listings.get(session, principal, listing_id)
    matches = repository.page_for_listing(
        session, listing, min_score=min_score, max_distance_km=max_distance_km, rule=rule
    )
    visible = []
    for match in matches:
        other = session.get(Listing, match.need_id if listing.kind == "offer" else match.offer_id)
        if other is not None and listings.can_see(principal, other):
            visible.append((match, other))
    return visible[offset : offset + limit], len(visible)
