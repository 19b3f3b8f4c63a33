import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text
from sqlalchemy.orm import Session, selectinload

from app.listings.models import Listing
from app.matches.models import ListingConcept, Match

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
