import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, delete, false, func, or_, select, text
from sqlalchemy.orm import Session, aliased, selectinload

from app.auth.principal import Principal
from app.listings.models import Listing
from app.matches.models import ListingConcept, Match, MatchEvent
from app.organizations.models import Organization

# Match updates take this lock so that two writers never compute against each other's unseen rows.
MATCH_LOCK_KEY = 0x53594D42  # "SYMB"


def lock_matches(session: Session) -> None:
    """On PostgreSQL, serialise match updates for the rest of the transaction; SQLite writers are serial anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MATCH_LOCK_KEY})


def replace_concepts(session: Session, listing_id: uuid.UUID, rows: Iterable[ListingConcept]) -> None:
    session.execute(delete(ListingConcept).where(ListingConcept.listing_id == listing_id))
    session.add_all(rows)
    session.flush()


def concepts_of(session: Session, listing_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ListingConcept]]:
    found: dict[uuid.UUID, list[ListingConcept]] = {i: [] for i in listing_ids}
    for row in session.scalars(select(ListingConcept).where(ListingConcept.listing_id.in_(listing_ids))):
        found[row.listing_id].append(row)
    return found


def eligible() -> ColumnElement[bool]:
    """Listings that take part in matching: active and not private."""
    return and_(Listing.status == "active", Listing.visibility != "private")


def sharing_concepts(session: Session, listing: Listing, concepts: Sequence[str]) -> Sequence[Listing]:
    """Eligible listings of the opposite kind and same resource type that share a concept with this one."""
    if not concepts:
        return []
    other = "need" if listing.kind == "offer" else "offer"
    ids = (
        select(ListingConcept.listing_id)
        .where(ListingConcept.concept.in_(concepts), ListingConcept.kind == other)
        .distinct()
    )
    query = (
        select(Listing)
        .where(
            Listing.id.in_(ids),
            Listing.resource_type == listing.resource_type,
            Listing.organization_id != listing.organization_id,
            eligible(),
        )
        .options(selectinload(Listing.organization))
        .order_by(Listing.id)
    )
    return session.scalars(query).all()


def all_listings(session: Session) -> Sequence[Listing]:
    return session.scalars(select(Listing).order_by(Listing.id)).all()


def matches_of(session: Session, listing_id: uuid.UUID) -> dict[tuple[uuid.UUID, uuid.UUID], Match]:
    query = select(Match).where(or_(Match.offer_id == listing_id, Match.need_id == listing_id))
    return {(m.offer_id, m.need_id): m for m in session.scalars(query)}


def all_matches(session: Session) -> dict[tuple[uuid.UUID, uuid.UUID], Match]:
    return {(m.offer_id, m.need_id): m for m in session.scalars(select(Match))}


def delete_matches_of(session: Session, listing_id: uuid.UUID) -> None:
    session.execute(delete(Match).where(or_(Match.offer_id == listing_id, Match.need_id == listing_id)))


def page_for_listing(
    session: Session,
    listing: Listing,
    *,
    min_score: float,
    max_distance_km: float | None,
    rule: str | None,
) -> Sequence[Match]:
    side = Match.offer_id if listing.kind == "offer" else Match.need_id
    query = select(Match).where(side == listing.id, Match.score >= min_score)
    if max_distance_km is not None:
        query = query.where(Match.distance_km <= max_distance_km)
    if rule:
        query = query.where(Match.rule == rule)
    other = Match.need_id if listing.kind == "offer" else Match.offer_id
    return session.scalars(query.order_by(Match.score.desc(), other)).all()


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Match)) or 0


@dataclass(frozen=True)
class MatchFilter:
    region: str | None = None
    resource_type: str | None = None
    ewc: str | None = None
    nace: str | None = None
    min_score: float = 0.0
    status: str | None = None
    organization_id: uuid.UUID | None = None
    bbox: tuple[float, float, float, float] | None = None
    created_since: datetime | None = None


SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "score": (Match.score.desc(),),
    "impact": (Match.co2e_avoided_t.desc().nulls_last(),),
    "distance": (Match.distance_km.asc().nulls_last(),),
    "date": (Match.created_at.desc(),),
}

offer_listing, need_listing = aliased(Listing), aliased(Listing)
offer_owner, need_owner = aliased(Organization), aliased(Organization)


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    if principal.is_admin:
        return None
    if principal.is_agency:
        return or_(in_region(offer_owner, principal.regions), in_region(need_owner, principal.regions))
    return or_(
        offer_listing.organization_id == principal.organization_id,
        need_listing.organization_id == principal.organization_id,
    )


def in_region(owner: Any, prefixes: Sequence[str]) -> ColumnElement[bool]:
    return or_(false(), *(owner.region.startswith(prefix) for prefix in prefixes))


def _place(listing: Any, owner: Any) -> tuple[ColumnElement[float], ColumnElement[float]]:
    return func.coalesce(listing.lat, owner.lat), func.coalesce(listing.lon, owner.lon)


def match_query(principal: Principal, f: MatchFilter) -> Select[Any]:
    """Matches with both listings and both owners, within what the caller may see, filtered."""
    query: Select[Any] = (
        select(Match, offer_listing, need_listing, offer_owner, need_owner)  # type: ignore[assignment]
        .join(offer_listing, Match.offer_id == offer_listing.id)
        .join(need_listing, Match.need_id == need_listing.id)
        .join(offer_owner, offer_listing.organization_id == offer_owner.id)
        .join(need_owner, need_listing.organization_id == need_owner.id)
    )
    scope = _scope(principal)
    if scope is not None:
        query = query.where(scope)
    if f.region:
        query = query.where(in_region(offer_owner, [f.region]) | in_region(need_owner, [f.region]))
    if f.resource_type:
        query = query.where(offer_listing.resource_type == f.resource_type)
    if f.ewc:
        code = func.coalesce(offer_listing.ewc, offer_listing.suggested_ewc)
        query = query.where(code.startswith(f.ewc))
    if f.nace:
        # NACE lists are stored as JSON text, e.g. ["23.51", "35.11"]: look for the quoted code or prefix.
        pattern = f'%"{f.nace}%'
        query = query.where(cast(offer_owner.nace, String).like(pattern) | cast(need_owner.nace, String).like(pattern))
    if f.min_score:
        query = query.where(Match.score >= f.min_score)
    if f.status:
        query = query.where(Match.status == f.status)
    if f.organization_id:
        query = query.where(
            (offer_listing.organization_id == f.organization_id) | (need_listing.organization_id == f.organization_id)
        )
    if f.bbox:
        west, south, east, north = f.bbox
        for listing, owner in ((offer_listing, offer_owner), (need_listing, need_owner)):
            lat, lon = _place(listing, owner)
            query = query.where(lat.between(south, north), lon.between(west, east))
    if f.created_since:
        query = query.where(Match.created_at >= f.created_since)
    return query


def count_matches(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def ordered(query: Select[Any], sort: str) -> Select[Any]:
    return query.order_by(*SORTS[sort], Match.id)


def get_match(session: Session, match_id: uuid.UUID) -> Match | None:
    return session.get(Match, match_id)


def events_of(session: Session, match_id: uuid.UUID) -> Sequence[MatchEvent]:
    query = select(MatchEvent).where(MatchEvent.match_id == match_id).order_by(MatchEvent.created_at, MatchEvent.id)
    return session.scalars(query).all()


def add_event(session: Session, event: MatchEvent) -> None:
    session.add(event)
    session.flush()
