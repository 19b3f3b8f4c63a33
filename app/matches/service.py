"""Reading matches and moving them through the exchange workflow, as each caller is allowed to."""

import uuid
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.db import get_session_factory
from app.errors import Conflict, Forbidden, InvalidField, NotFound
from app.listings import service as listings
from app.listings.models import Listing
from app.matches import adapter, repository, workflow
from app.matches.models import Match, MatchEvent
from app.matches.page_cache import page_cache
from app.matches.repository import MatchFilter
from app.matches.schemas import ContactRead, Contacts, MatchDetail, MatchList, MatchRead, WorkflowUpdate
from app.organizations.models import Organization
from app.versioning import check_if_match
from app.webhooks import service as webhooks
from matching.records import Profile

# An export keeps up to this many listings' profiles from chunk to chunk to write sentences (a few KB each).
EXPORT_PROFILES = 20_000

Row = tuple[Match, Listing, Listing, Organization, Organization]


def sides(match: Match) -> workflow.Sides:
    return workflow.Sides(match.offer_state, match.need_state)


def can_read(principal: Principal, offer: Listing, need: Listing) -> bool:
    if principal.is_admin:
        return True
    if principal.is_agency:
        return any(principal.covers_region(x.organization.region) for x in (offer, need))
    return principal.owns(offer.organization_id) or principal.owns(need.organization_id)


def identities_open(principal: Principal, match: Match, offer_owner: uuid.UUID, need_owner: uuid.UUID) -> bool:
    """Double opt-in: the two parties learn who is behind the other side once both said interested. Agencies are no
    party: they see the owners (and contacts) inside their regions only, whatever the workflow says."""
    party = principal.owns(offer_owner) or principal.owns(need_owner)
    return principal.is_admin or (party and sides(match).mutual)


def get(session: Session, principal: Principal, match_id: uuid.UUID) -> Row:
    match = repository.get_match(session, match_id)
    if match is None:
        raise NotFound(f"No match {match_id} that you can see.")
    offer, need = session.get(Listing, match.offer_id), session.get(Listing, match.need_id)
    if offer is None or need is None or not can_read(principal, offer, need):
        raise NotFound(f"No match {match_id} that you can see.")
    return match, offer, need, offer.organization, need.organization


@dataclass(frozen=True)
class ListingPage:
    """What GET /listings/{id}/matches asks for."""

    listing_id: uuid.UUID
    min_score: float
    max_distance_km: float | None
    rule: str | None
    limit: int
    offset: int


def for_listing(session: Session, principal: Principal, asked: ListingPage) -> tuple[list[MatchRead], int]:
    """One listing's ranked matches, with only the counterparts the caller may see."""
    listing = listings.get(session, principal, asked.listing_id)
    if not (principal.is_admin or principal.is_agency or principal.owns(listing.organization_id)):
        # Seeing a listing is not seeing whom it is matched with, nor how far their talks went.
        raise Forbidden("Only the listing's owner, agencies and admins read its matches.")
    found, total = repository.page_for_listing(
        session,
        principal,
        listing,
        min_score=asked.min_score,
        max_distance_km=asked.max_distance_km,
        rule=asked.rule,
        limit=asked.limit,
        offset=asked.offset,
    )
    pages: list[dict[str, Any]] = []
    revealed: set[uuid.UUID] = set()
    said = adapter.sentences_of(session, [match for match, _ in found], [listing, *(other for _, other in found)])
    for match, other in found:
        offer, need = (listing, other) if listing.kind == "offer" else (other, listing)
        pages.append(_fields(principal, match, offer.organization, need.organization, said.get(match.id)))
        if identities_open(principal, match, offer.organization_id, need.organization_id):
            revealed.add(other.id)
    # One call for the whole page: it looks up the code labels of every counterpart at once.
    shown = listings.to_read(session, principal, [other for _, other in found], revealed=frozenset(revealed))
    return [
        MatchRead.model_validate(fields | {"listing": read}) for fields, read in zip(pages, shown, strict=True)
    ], total


def listing_page(session: Session, principal: Principal, asked: ListingPage) -> bytes:
    """The page as sent (JSON of a MatchList), from this process's page cache when nothing it shows has changed.
    Callers with the same role, organization and regions see the same page."""

    def build() -> bytes:
        items, total = for_listing(session, principal, asked)
        return MatchList(items=items, total=total, limit=asked.limit, offset=asked.offset).model_dump_json().encode()

    def depends_on() -> set[uuid.UUID]:
        return {asked.listing_id, *repository.matched_with(session, asked.listing_id)}

    return page_cache().page(session, _page_key(principal, asked), build, depends_on)


def kept_listing_page(session: Session, principal: Principal, asked: ListingPage) -> bytes | None:
    """listing_page() when this process keeps the page and nothing it shows has changed; else None (the session
    only reads what changed since)."""
    return page_cache().kept(session, _page_key(principal, asked))


def _page_key(principal: Principal, asked: ListingPage) -> Hashable:
    return asked, _scope_key(principal)


def _scope_key(principal: Principal) -> Hashable:
    """What decides which matches a caller sees: callers alike in it share kept pages and totals."""
    return principal.role, principal.organization_id, principal.regions


def page(
    session: Session, principal: Principal, f: MatchFilter, *, sort: str, limit: int, offset: int
) -> tuple[list[MatchDetail], int]:
    query = repository.match_query(principal, f)
    total = page_cache().total(
        session, (_scope_key(principal), f), lambda: repository.match_count(session, principal, f)
    )
    rows = session.execute(repository.ordered(query, sort).limit(limit).offset(offset)).all()
    said = adapter.sentences_of(session, [row[0] for row in rows], _listings_of(rows))
    return [detail(session, principal, row, said.get(row[0].id)) for row in rows], total


def detail(session: Session, principal: Principal, row: Row, said: Sequence[str] | None = None) -> MatchDetail:
    """The match in full; `said`: its sentences when it is stored without them (read here if not given)."""
    match, offer, need, offer_owner, need_owner = row
    if said is None:
        said = adapter.sentences_of(session, [match], [offer, need]).get(match.id)
    fields = _fields(principal, match, offer_owner, need_owner, said)
    open_ = identities_open(principal, match, offer_owner.id, need_owner.id)
    fields["offer"], fields["need"] = _listings(session, principal, open_, [offer, need])
    return MatchDetail.model_validate(fields)


class Exported(NamedTuple):
    row: Row
    identities_open: bool
    said: Sequence[str] | None  # the match's sentences when it is stored without them


def rows_for_export(principal: Principal, f: MatchFilter, sort: str) -> Iterator[Exported]:
    """Every matching row with whether identities are open, read in chunks on a session of its own, so that
    an export of a whole country streams without being held in memory (and outlives the request's session)."""
    with get_session_factory()() as session:
        query = repository.ordered(repository.match_query(principal, f), sort).execution_options(yield_per=500)
        profiles: dict[uuid.UUID, Profile] = {}  # a region's listings recur across its chunks
        for chunk in session.execute(query).partitions():
            if len(profiles) > EXPORT_PROFILES:
                profiles.clear()
            said = adapter.sentences_of(session, [row[0] for row in chunk], _listings_of(chunk), profiles)
            for row in chunk:
                open_ = identities_open(principal, row[0], row[3].id, row[4].id)
                yield Exported(row, open_, said.get(row[0].id))


def update(
    session: Session, principal: Principal, match_id: uuid.UUID, body: WorkflowUpdate, if_match: int | None
) -> Row:
    # Taken before the match row is: writers hold it while they update match rows (the other order deadlocks).
    repository.lock_matches(session)
    row = get(session, principal, match_id)
    match, offer, need = row[0], row[1], row[2]
    side = _side(principal, offer, need, body.side)
    check_if_match("match", match.version, if_match)
    try:
        moved = workflow.move(sides(match), side, body.state)
    except workflow.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    adapter.keep_sentences(session, match, [offer, need])  # acted on, the match stores its sentences from now on
    before = sides(match).of(side)
    match.offer_state, match.need_state = moved.offer, moved.need
    match.status = workflow.status(moved)
    match.version += 1
    if body.state == "realised":
        match.realised_quantity, match.realised_start = body.quantity, body.start_date
        match.realised_unit = match.impact.get("unit")
    for owner in (offer.organization_id, need.organization_id):
        payload = {
            "match_id": match.id,
            "status": match.status,
            "offer_state": match.offer_state,
            "need_state": match.need_state,
            "changed_side": side,
        }
        webhooks.emit(session, "match.updated", owner, payload)
    repository.add_event(
        session,
        MatchEvent(
            match_id=match.id,
            side=side,
            organization_id=principal.organization_id,
            from_state=before,
            to_state=body.state,
            reason=body.reason,
            note=body.note,
            quantity=body.quantity,
            start_date=body.start_date,
        ),
    )
    repository.log_match_changes(session, {offer.id, need.id})  # pages showing the match are out of date
    return row


def events(session: Session, principal: Principal, match_id: uuid.UUID) -> Sequence[MatchEvent]:
    get(session, principal, match_id)
    return repository.events_of(session, match_id)


def _listings_of(rows: Iterable[Any]) -> list[Listing]:
    """The offers and needs of these rows (match, offer, need, offer's owner, need's owner)."""
    return [listing for row in rows for listing in (row[1], row[2])]


def _side(principal: Principal, offer: Listing, need: Listing, requested: str | None) -> workflow.Side:
    if principal.is_admin:
        if requested not in ("offer", "need"):
            raise InvalidField("side", "an admin says which party it acts for: offer or need")
        return "offer" if requested == "offer" else "need"
    if principal.owns(offer.organization_id):
        return "offer"
    if principal.owns(need.organization_id):
        return "need"
    raise Forbidden("Only the two parties (or an admin) move a match through the workflow.")


def _fields(
    principal: Principal, match: Match, offer_owner: Organization, need_owner: Organization, said: Sequence[str] | None
) -> dict[str, Any]:
    names = (
        "id",
        "offer_id",
        "need_id",
        "score",
        "rule",
        "distance_km",
        "engine_version",
        "status",
        "offer_state",
        "need_state",
        "realised_quantity",
        "realised_unit",
        "realised_start",
        "created_at",
        "updated_at",
        "version",
    )
    fields = {name: getattr(match, name) for name in names} | {
        "components": adapter.components_of(match, said),
        "impact": adapter.impact_of(match),
        "explanation": adapter.explanation(match, said),
    }
    open_ = identities_open(principal, match, offer_owner.id, need_owner.id)
    offer, need = (
        _contact(owner) if open_ or (principal.is_agency and principal.covers_region(owner.region)) else None
        for owner in (offer_owner, need_owner)
    )
    fields["contacts"] = Contacts(offer=offer, need=need) if offer or need else None
    return fields


def _listings(session: Session, principal: Principal, open_: bool, shown: list[Listing]) -> list[Any]:
    revealed = frozenset(x.id for x in shown) if open_ else frozenset()
    return list(listings.to_read(session, principal, shown, revealed=revealed))


def _contact(owner: Organization) -> ContactRead:
    contact = owner.contact or {}
    return ContactRead(
        organization_id=owner.id,
        name=owner.name,
        person=contact.get("person"),
        email=contact.get("email"),
        phone=contact.get("phone"),
    )
