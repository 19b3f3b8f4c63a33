import functools
import hashlib
import os
import struct
import time
import typing
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    Numeric,
    Select,
    String,
    Table,
    Text,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased, contains_eager

from app.auth.principal import Principal
from app.db import json_bytes, json_dumps, json_loads, utcnow
from app.listings.models import Listing
from app.matches.models import ListingChange, ListingConcept, Match, MatchEvent
from app.matches.workflow import ENGAGED
from app.organizations.models import Organization
from app.webhooks.models import WebhookSubscription

# Match updates take this lock so that two writers never compute against each other's unseen rows.
MATCH_LOCK_KEY = 0x53594D42  # "SYMB"


def lock_matches(session: Session) -> None:
    """On PostgreSQL, serialise match updates for the rest of the transaction; SQLite writers are serial anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MATCH_LOCK_KEY})


def eligible() -> ColumnElement[bool]:
    """Listings that take part in matching: active and not private."""
    return and_(Listing.status == "active", Listing.visibility != "private")


def matches_of(session: Session, listing_id: uuid.UUID) -> dict[tuple[uuid.UUID, uuid.UUID], Match]:
    query = select(Match).where(or_(Match.offer_id == listing_id, Match.need_id == listing_id))
    return {(m.offer_id, m.need_id): m for m in session.scalars(query)}


def delete_matches_of(session: Session, listing_id: uuid.UUID) -> None:
    session.execute(delete(Match).where(or_(Match.offer_id == listing_id, Match.need_id == listing_id)))


def page_for_listing(
    session: Session,
    principal: Principal,
    listing: Listing,
    *,
    min_score: float,
    max_distance_km: float | None,
    rule: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[tuple[Match, Listing]], int]:
    """One page of a listing's matches, best first, each with its counterpart (and the counterpart's owner, loaded
    with it), among the counterparts the caller may see; and how many there are in all. Visibility is decided in
    SQL so that only the page is loaded, however many matches the listing has."""
    side, other = (Match.offer_id, Match.need_id) if listing.kind == "offer" else (Match.need_id, Match.offer_id)
    # Aliases of this call's own: fresh aliases still hit SQLAlchemy's statement cache (its key is structural),
    # while module-wide ones are filled lazily and were raced by a new worker's first requests (NoSuchColumnError
    # on the alias's id, then on every later read in that worker: `bench reads`, 2026-11-23).
    counterpart, owner = aliased(Listing), aliased(Organization)
    query: Select[Any] = (
        select(Match, counterpart)  # type: ignore[assignment]
        .join_from(Match, counterpart, other == counterpart.id)
        .join_from(counterpart, owner, counterpart.organization_id == owner.id)
        .options(contains_eager(counterpart.organization.of_type(owner)))  # see match_query
        .where(side == listing.id, Match.score >= min_score)
    )
    visible = _can_see(principal, counterpart, owner)
    if visible is not None:
        query = query.where(visible)
    if max_distance_km is not None:
        query = query.where(Match.distance_km <= max_distance_km)
    if rule:
        query = query.where(Match.rule == rule)
    rows = session.execute(query.order_by(Match.score.desc(), other).limit(limit).offset(offset)).all()
    # A page that ends before its limit says the total itself. Most listings' matches fill a page, so the count
    # is a query of its own: a window count in the page query costs more (it reads every match's wide row).
    total = offset + len(rows) if len(rows) < limit and (rows or not offset) else count_matches(session, query)
    return [(match, other_listing) for match, other_listing in rows], total


def _can_see(principal: Principal, listing: Any, owner: Any) -> ColumnElement[bool] | None:
    """listings.service.can_see as a condition (None: everything)."""
    if principal.is_admin:
        return None
    shown = listing.visibility != "private"
    if principal.is_agency:
        return and_(shown, in_region(owner, principal.regions))
    return or_(listing.organization_id == principal.organization_id, shown)


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


class _Sides(NamedTuple):
    """The aliases a match list joins: both listings and both owners."""

    offer_listing: Any
    need_listing: Any
    offer_owner: Any
    need_owner: Any


def _joined() -> _Sides:
    # Aliases of each call's own, as in page_for_listing: module-wide ones were raced by concurrent first requests
    # (round 1: InvalidRequestError "Can't determine which FROM clause to join from").
    return _Sides(aliased(Listing), aliased(Listing), aliased(Organization), aliased(Organization))


def _scope(principal: Principal, sides: _Sides) -> ColumnElement[bool] | None:
    """The matches the caller may see at all: an agency's have a side owned in its regions, a member's a side of its
    own."""
    if principal.is_admin:
        return None
    if principal.is_agency:
        return _either_owner_in(sides, principal.regions)
    return or_(
        sides.offer_listing.organization_id == principal.organization_id,
        sides.need_listing.organization_id == principal.organization_id,
    )


def _scope_unjoined(principal: Principal) -> ColumnElement[bool] | None:
    """_scope for the matches alone, its listings and owners in subqueries (see match_count)."""
    if principal.is_admin:
        return None
    if principal.is_agency:
        return _either_side_in(_listings_in_regions(principal.regions))
    return _either_side_in(select(Listing.id).where(Listing.organization_id == principal.organization_id))


def _listings_in_regions(prefixes: Sequence[str]) -> Select[Any]:
    return (
        select(Listing.id)
        .join(Organization, Listing.organization_id == Organization.id)
        .where(in_region(Organization, prefixes))
    )


def _either_owner_in(sides: _Sides, prefixes: Sequence[str]) -> ColumnElement[bool]:
    return or_(in_region(sides.offer_owner, prefixes), in_region(sides.need_owner, prefixes))


def _either_side_in(listings: Select[Any]) -> ColumnElement[bool]:
    return or_(Match.offer_id.in_(listings), Match.need_id.in_(listings))


def in_region(owner: Any, prefixes: Sequence[str]) -> ColumnElement[bool]:
    return or_(false(), *(owner.region.startswith(prefix) for prefix in prefixes))


def _hidden(principal: Principal, listing: Any, owner: Any) -> ColumnElement[bool]:
    """A side whose owner the caller is not shown (anonymous, not its own, no double opt-in yet; for an agency,
    outside its regions). Filters must not find such a side by owner, activity or exact place either."""
    if principal.is_admin:
        return false()
    anonymous = listing.visibility == "anonymous"
    if principal.is_agency:
        return and_(anonymous, ~in_region(owner, principal.regions))
    mutual = and_(Match.offer_state.in_(ENGAGED), Match.need_state.in_(ENGAGED))
    return and_(anonymous, listing.organization_id != principal.organization_id, ~mutual)


def _place(principal: Principal, listing: Any, owner: Any) -> tuple[ColumnElement[float], ColumnElement[float]]:
    """Where the caller is shown a side: hidden owners at the rounded point the API shows (0.1 degree)."""
    hidden = _hidden(principal, listing, owner)

    def shown(value: ColumnElement[float]) -> ColumnElement[float]:
        return case((hidden, cast(func.round(cast(value, Numeric), 1), Float)), else_=value)

    return shown(func.coalesce(listing.lat, owner.lat)), shown(func.coalesce(listing.lon, owner.lon))


def match_query(principal: Principal, f: MatchFilter) -> Select[Any]:
    """Matches with both listings and both owners, within what the caller may see, filtered."""
    sides = _joined()
    query: Select[Any] = (
        select(Match, *sides)
        .join_from(Match, sides.offer_listing, Match.offer_id == sides.offer_listing.id)
        .join_from(Match, sides.need_listing, Match.need_id == sides.need_listing.id)
        .join_from(sides.offer_listing, sides.offer_owner, sides.offer_listing.organization_id == sides.offer_owner.id)
        .join_from(sides.need_listing, sides.need_owner, sides.need_listing.organization_id == sides.need_owner.id)
        # Each listing's organization is the owner joined here: without this, loading Listing.organization
        # (lazy="joined") joins organizations twice more, their every column in every row.
        .options(
            contains_eager(sides.offer_listing.organization.of_type(sides.offer_owner)),
            contains_eager(sides.need_listing.organization.of_type(sides.need_owner)),
        )
    )
    scope = _scope(principal, sides)
    if scope is not None:
        query = query.where(scope)
    if f.region:
        query = query.where(_either_owner_in(sides, [f.region]))
    return query.where(*_match_conditions(f), *_side_conditions(principal, f, sides))


def match_count(session: Session, principal: Principal, f: MatchFilter) -> int:
    """How many matches match_query finds. When no filter looks at the listings or owners but for the caller's
    scope and the region, the matches alone are counted, those two written as subqueries: every match has both
    listings and owners, and joining 1.44 M matches to them took most of a region's count at 100k listings (PL22:
    672-692 ms against 428-448 ms, round 13). A page keeps the joins: there the subqueries cost more (65-114 ms
    against 151-164 ms for PL21's tenth page)."""
    if _side_conditions(principal, f, _joined()):
        return count_matches(session, match_query(principal, f))
    query = select(func.count()).select_from(Match).where(*_match_conditions(f))
    if (scope := _scope_unjoined(principal)) is not None:
        query = query.where(scope)
    if f.region:
        query = query.where(_either_side_in(_listings_in_regions([f.region])))
    return session.scalar(query) or 0


def _match_conditions(f: MatchFilter) -> list[ColumnElement[bool]]:
    """The conditions on the match's own columns."""
    conditions = []
    if f.min_score:
        conditions.append(Match.score >= f.min_score)
    if f.status:
        conditions.append(Match.status == f.status)
    if f.created_since:
        conditions.append(Match.created_at >= f.created_since)
    return conditions


def _side_conditions(principal: Principal, f: MatchFilter, sides: _Sides) -> list[ColumnElement[bool]]:
    """The conditions on the joined listings and owners, but for the scope and the region."""
    offer_listing, need_listing, offer_owner, need_owner = sides
    conditions: list[ColumnElement[bool]] = []
    if f.resource_type:
        conditions.append(offer_listing.resource_type == f.resource_type)
    if f.ewc:
        code = func.coalesce(offer_listing.ewc, offer_listing.suggested_ewc)
        conditions.append(code.startswith(f.ewc))
    if f.nace:
        # NACE lists are stored as JSON text, e.g. ["23.51", "35.11"]: look for the quoted code or prefix.
        pattern = f'%"{f.nace}%'
        conditions.append(
            (cast(offer_owner.nace, String).like(pattern) & ~_hidden(principal, offer_listing, offer_owner))
            | (cast(need_owner.nace, String).like(pattern) & ~_hidden(principal, need_listing, need_owner))
        )
    if f.organization_id:
        conditions.append(
            ((offer_listing.organization_id == f.organization_id) & ~_hidden(principal, offer_listing, offer_owner))
            | ((need_listing.organization_id == f.organization_id) & ~_hidden(principal, need_listing, need_owner))
        )
    if f.bbox:
        west, south, east, north = f.bbox
        for listing, owner in ((offer_listing, offer_owner), (need_listing, need_owner)):
            lat, lon = _place(principal, listing, owner)
            conditions.extend([lat.between(south, north), lon.between(west, east)])
    return conditions


def matched_with(session: Session, listing_id: uuid.UUID) -> set[uuid.UUID]:
    """Every listing one listing has a stored match with (read from the rank indexes alone)."""
    as_offer = select(Match.need_id).where(Match.offer_id == listing_id)
    as_need = select(Match.offer_id).where(Match.need_id == listing_id)
    return set(session.scalars(as_offer.union_all(as_need)))


def count_matches(session: Session, query: Select[Any]) -> int:
    """The rows of a query whose joins are explicit (join_from), counted without a subquery around it."""
    return session.scalar(query.with_only_columns(func.count())) or 0


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


# --- bulk reads and writes of matching: full rebuilds and per-listing refreshes (see sync.py) --------------------

# Bulk statements name this many rows at most (SQLite allows 32766 bound parameters per statement).
CHUNK = 1000
MATCHES = typing.cast(Table, Match.__table__)
LISTINGS = typing.cast(Table, Listing.__table__)
CONCEPTS = typing.cast(Table, ListingConcept.__table__)
ORGANIZATIONS = typing.cast(Table, Organization.__table__)
OWNER_COLUMNS = (
    Organization.lat.label("owner_lat"),
    Organization.lon.label("owner_lon"),
    Organization.nace.label("owner_nace"),
    Organization.region.label("owner_region"),
)


# What the engine and a rebuild read of a listing: not its form, version and timestamps. A rebuild's parent reads
# 100k rows with one core busy: 3.1 s with every column, 2.2-2.4 s without these (the timestamps' conversion alone
# was a tenth).
MATCHED_COLUMNS = tuple(c for c in LISTINGS.c if c.name not in {"form", "version", "created_at", "updated_at"})


def _listing_rows() -> Select[Any]:
    """The listing columns and what the engine takes from the owner, as plain rows (no ORM objects)."""
    return select(*MATCHED_COLUMNS, *OWNER_COLUMNS).join(Organization, Listing.organization_id == Organization.id)


def all_listing_rows(session: Session) -> Sequence[Any]:
    return session.execute(_listing_rows().order_by(Listing.id)).all()


def stored_concepts(
    session: Session, listing_ids: Sequence[uuid.UUID] | None
) -> dict[uuid.UUID, list[tuple[str, float, str]]]:
    """Each listing's stored concepts as (concept, weight, source); None: every listing's, in one query."""
    found: dict[uuid.UUID, list[tuple[str, float, str]]] = {i: [] for i in listing_ids or ()}
    c = CONCEPTS.c  # the table's columns, not the model's: see stored_concept_digests (SQLite)
    columns = (c.listing_id, c.concept, c.weight, c.source)
    queries = (
        [select(*columns)]
        if listing_ids is None
        else [
            select(*columns).where(c.listing_id.in_(listing_ids[start : start + CHUNK]))
            for start in range(0, len(listing_ids), CHUNK)
        ]
    )
    for query in queries:
        for listing_id, concept, weight, source in session.execute(query):
            found.setdefault(listing_id, []).append((concept, weight, source))
    return found


def concepts_digest(concepts: Iterable[tuple[Any, ...]]) -> int:
    """One number for a listing's set of concepts, each (concept, kind, weight, source): the sum of their hashes,
    the same in any order and summed row by row as the table is read. Two different sets give the same number with
    odds of about 2**-64; numbers made in different processes differ (Python salts the hashes of strings)."""
    return sum(hash(concept) for concept in concepts)


def stored_concept_digests(session: Session) -> dict[str, int]:
    """Every listing's stored concepts as concepts_digest, by listing id as text, to compare with fresh profiles: held
    while the needs are ranked, 100k numbers at 100k rather than ~800k tuples in sets (a rebuild's peak RSS 957
    against 1,267 MiB: the sets' pages stayed with the process once they were freed)."""
    found: dict[str, int] = {}
    if session.get_bind().dialect.name == "postgresql":
        rows = _driver_rows(session, "SELECT listing_id::text, concept, kind, weight, source FROM listing_concepts")
    else:
        c = CONCEPTS.c
        # The table's columns, not the model's: a Core select skips the ORM's loading, half the time of ~800k rows.
        selected = session.execute(select(c.listing_id, c.concept, c.kind, c.weight, c.source))
        rows = ((str(listing_id), *values) for listing_id, *values in selected)
    for listing_id, *values in rows:
        found[listing_id] = found.get(listing_id, 0) + hash(tuple(values))
    return found


CONCEPT_COLUMNS = ("listing_id", "concept", "kind", "weight", "source")


def replace_concepts_of(session: Session, listing_ids: Sequence[uuid.UUID], rows: Sequence[Sequence[Any]]) -> None:
    """Deletes the stored concepts of these listings and inserts `rows` (tuples in CONCEPT_COLUMNS order) in bulk."""
    table = CONCEPTS
    for start in range(0, len(listing_ids), CHUNK):
        session.execute(delete(table).where(table.c.listing_id.in_(listing_ids[start : start + CHUNK])))
    insert_tuples(session, table, CONCEPT_COLUMNS, rows, _concepts_copy_data)


# COPY's binary format (PostgreSQL's documentation, "COPY: Binary Format"): a signature, flags and extension length,
# then each row as its field count and each field as its length (-1: NULL) and bytes, big-endian; then -1.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
_LEADING = struct.Struct(">hi16si16si16siqid")  # ranked_copy: the field count, then id, offer, need, digest, score
_LENGTH = struct.Struct(">i")
_FLOAT8 = struct.Struct(">id")
_NULL = _LENGTH.pack(-1)
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # timestamptz counts microseconds from it


def _text_field(value: str) -> bytes:
    encoded = value.encode()
    return _LENGTH.pack(len(encoded)) + encoded


def _uuid_field(value: uuid.UUID) -> bytes:
    return _LENGTH.pack(16) + value.bytes


def _state_field(value: str | int | datetime) -> bytes:
    """A field of a new match's state (NEW_MATCH_STATE) or time, in COPY's binary format."""
    if isinstance(value, str):
        return _text_field(value)
    if isinstance(value, datetime):
        return struct.pack(">iq", 8, (value - _POSTGRES_EPOCH) // timedelta(microseconds=1))
    return struct.pack(">ii", 4, value)


def _concepts_copy_data(rows: Sequence[Sequence[Any]]) -> bytes:
    """The concept rows in COPY's binary format (see ranked_copy), which PostgreSQL takes without parsing the ids and
    weights: a first load at 100k writes ~800k of them while the needs are ranked. The listing ids and texts
    (concept names, kinds, sources) are few and recur, so each is converted once."""
    converted: dict[Any, bytes] = {}

    def once(value: Any) -> bytes:
        found = converted.get(value)
        if found is None:
            found = converted[value] = _uuid_field(value) if isinstance(value, uuid.UUID) else _text_field(value)
        return found

    leading, weight_of = struct.pack(">h", len(CONCEPT_COLUMNS)), _FLOAT8.pack
    parts = [_BINARY_HEADER]
    for listing_id, concept, kind, weight, source in rows:
        parts += (leading, once(listing_id), once(concept), once(kind), weight_of(8, weight), once(source))
    parts.append(_BINARY_TRAILER)
    return b"".join(parts)


def update_suggestions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """rows: {"listing_id", "suggested_ewc", "suggested_ewc_confidence"}; the listing's version is not touched. On
    PostgreSQL in one statement, from arrays: one UPDATE a listing (executemany) took 1.46 s for the 33,538 codes of
    a first load at 100k (round 20, a side measurement)."""
    table = LISTINGS
    if rows and session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                f"UPDATE {table.name} SET suggested_ewc = s.code, suggested_ewc_confidence = s.confidence,"
                " updated_at = :now FROM unnest(CAST(:ids AS uuid[]), CAST(:codes AS text[]),"
                f" CAST(:confidences AS float8[])) AS s(id, code, confidence) WHERE {table.name}.id = s.id"
            ),
            {
                "ids": [row["listing_id"] for row in rows],
                "codes": [row["suggested_ewc"] for row in rows],
                "confidences": [row["suggested_ewc_confidence"] for row in rows],
                "now": utcnow(),
            },
        )
    elif rows:
        statement = (
            update(table)
            .where(table.c.id == bindparam("listing_id"))
            .values(suggested_ewc=bindparam("suggested_ewc"), suggested_ewc_confidence=bindparam("confidence"))
        )
        session.execute(statement, [dict(r, confidence=r["suggested_ewc_confidence"]) for r in rows])


# The match columns the engine writes; JSON ones are read back as text, to compare with what would be written.
ENGINE_FIELDS = (
    "score",
    "rule",
    "components",
    "distance_km",
    "impact",
    "co2e_avoided_t",
    "engine_version",
)
JSON_FIELDS = frozenset({"components", "impact"})


class JsonText(str):
    """A JSON value already encoded (db.json_dumps): bulk writes send it as it is."""


def json_text(value: Any) -> str:
    """The text the JSON type stores for a value (encoded or not)."""
    return value if isinstance(value, JsonText) else json_dumps(value)


def digest_of(fields: Sequence[Any]) -> int:
    """A fingerprint of a match's engine fields, given in ENGINE_FIELDS order with the JSON ones encoded: stored
    beside them (matches.engine_digest), so that a rebuild compares 8 bytes a pair instead of reading ~2 KB back.
    Signed, to fit a BIGINT on both databases."""
    return int.from_bytes(hashlib.blake2b(json_bytes(list(fields)), digest_size=8).digest(), "big", signed=True)


def digest(values: Mapping[str, Any]) -> int:
    """digest_of a match's engine field values (JSON ones encoded or not)."""
    return digest_of([json_text(values[f]) if f in JSON_FIELDS else values[f] for f in ENGINE_FIELDS])


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """The row with encoded JSON values decoded, for statements whose JSON columns encode them."""
    return {name: json_loads(value) if isinstance(value, JsonText) else value for name, value in row.items()}


class StoredDigest(NamedTuple):
    """What a rebuild reads of a stored match, ids as text (as its ranking processes name listings)."""

    id: str
    offer_id: str
    need_id: str
    untouched: bool
    engine_digest: int | None


def stored_digests_of_offers(session: Session, offer_ids: Sequence[uuid.UUID]) -> list[StoredDigest]:
    """The stored matches of these offers: what a rebuild reads of every stored match (1.44 M rows at 100k)."""
    if session.get_bind().dialect.name == "postgresql":
        # _untouched() as SQLAlchemy writes it for this database, ids as text
        untouched = _untouched().compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        statement = (
            f"SELECT matches.id::text, matches.offer_id::text, matches.need_id::text, {untouched},"
            " matches.engine_digest FROM matches WHERE matches.offer_id = ANY(%s)"
        )
        return list(map(StoredDigest._make, _driver_rows(session, statement, (list(offer_ids),))))
    table = MATCHES
    columns = (table.c.id, table.c.offer_id, table.c.need_id, _untouched(), table.c.engine_digest)
    found: list[StoredDigest] = []
    for start in range(0, len(offer_ids), CHUNK):
        rows = session.execute(select(*columns).where(table.c.offer_id.in_(offer_ids[start : start + CHUNK])))
        found.extend(StoredDigest(str(i), str(offer), str(need), u, d) for i, offer, need, u, d in rows)
    return found


def _driver_rows(session: Session, statement: str, parameters: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
    """Rows as psycopg's cursor reads them (PostgreSQL), one at a time, for the reads of every stored row a rebuild
    makes: through SQLAlchemy's rows, with a UUID object an id, the stored matches took ~20 us a row and this ~2.5;
    the concepts ~4 us and ~2 (round 26, side measurements with the ids cast to text). One at a time: all ~800k
    concepts at once held ~280 MiB more at a rebuild's peak."""
    try:
        with _driver(session).cursor() as cursor:
            cursor.execute(statement, parameters)
            yield from cursor
    except psycopg.Error as error:
        # As SQLAlchemy raises the driver's errors, so that callers catch one kind (a lock timeout: OperationalError).
        raise DBAPIError.instance(statement, parameters, error, psycopg.Error, hide_parameters=True) from error


def stored_engine_fields(session: Session, match_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """These matches' engine fields by match id, in ENGINE_FIELDS order (JSON ones as the text stored)."""
    table = MATCHES
    fields = [cast(table.c[f], Text).label(f) if f in JSON_FIELDS else table.c[f] for f in ENGINE_FIELDS]
    found: dict[uuid.UUID, Any] = {}
    for start in range(0, len(match_ids), CHUNK):
        chunk = match_ids[start : start + CHUNK]
        found |= {row.id: row for row in session.execute(select(table.c.id, *fields).where(table.c.id.in_(chunk)))}
    return found


def stored_pairs(session: Session, listing_ids: Iterable[uuid.UUID], kind: str) -> dict[uuid.UUID, list[Any]]:
    """For each of these listings (all of one kind), its stored matches as (score, counterpart, match id,
    untouched) rows; listings without matches are left out."""
    table = MATCHES
    own, other = _sides(kind)
    columns = (own, table.c.score, other, table.c.id, _untouched())
    ids = list(listing_ids)
    found: dict[uuid.UUID, list[Any]] = {}
    for start in range(0, len(ids), CHUNK):
        for listing_id, *entry in session.execute(select(*columns).where(own.in_(ids[start : start + CHUNK]))):
            found.setdefault(listing_id, []).append((entry[0], entry[1], entry[2], bool(entry[3])))
    return found


def kth_entries(
    session: Session,
    listing_ids: Sequence[uuid.UUID] | None,
    kind: str,
    k: int,
    leaving_out: uuid.UUID | None = None,
) -> dict[uuid.UUID, tuple[float, uuid.UUID, uuid.UUID, bool]]:
    """For those of these listings (all of one kind; None: every listing of the kind) with at least k stored
    matches besides the one with `leaving_out`, their k-th best as (score, counterpart, match id, untouched): what a
    new pair must beat to enter their k best, and what it would push out. Ranked in SQL; on PostgreSQL from the
    rank-ordered covering indexes alone (models.RANK_COVERS), without reading the wide match rows."""
    dialect = session.get_bind().dialect.name
    statement = _kth_statement(kind, "all" if listing_ids is None else dialect)
    nobody = uuid.UUID(int=0)  # no listing has this id: nothing is left out
    chunks = [[]] if listing_ids is None else [listing_ids[i : i + CHUNK] for i in range(0, len(listing_ids), CHUNK)]
    found: dict[uuid.UUID, tuple[float, uuid.UUID, uuid.UUID, bool]] = {}
    for chunk in chunks:
        values = {"k": k, "skip": k - 1, "leaving_out": leaving_out or nobody, "ids": list(chunk)}
        for listing_id, score, counterpart, match_id, untouched in session.execute(statement, values):
            found[listing_id] = (score, counterpart, match_id, bool(untouched))
    return found


@functools.cache
def _kth_statement(kind: str, among: str) -> Select[Any]:
    """kth_entries' statement, built once: for the listings in :ids (`among` says how the dialect takes a list of
    ids; "all" for every listing), the match in place :k without the one with :leaving_out."""
    if among == "postgresql":
        return _kth_lateral(kind)
    table = MATCHES
    own, other = _sides(kind)
    place = func.row_number().over(partition_by=own, order_by=(table.c.score.desc(), other)).label("place")
    untouched = _untouched().label("untouched")
    ranked = select(own.label("listing_id"), table.c.score, other.label("other"), table.c.id, untouched, place)
    ranked = ranked.where(other != bindparam("leaving_out", type_=Uuid()))
    if among != "all":
        ranked = ranked.where(own.in_(bindparam("ids", expanding=True)))
    rows = ranked.subquery()
    return select(rows.c.listing_id, rows.c.score, rows.c.other, rows.c.id, rows.c.untouched).where(
        rows.c.place == bindparam("k")
    )


def _kth_lateral(kind: str) -> Select[Any]:
    """The k-th match of each listing in :ids on PostgreSQL: per listing, the rank-ordered index read from its start
    to place :k and no further. Ranking every match of the listings in a window (as on SQLite) read all of them,
    the largest part of a write that enters many listings' best (round 5)."""
    table = MATCHES
    own, other = _sides(kind)
    ids = func.unnest(bindparam("ids", type_=postgresql.ARRAY(Uuid()))).table_valued("listing_id").render_derived()
    kth = (
        select(table.c.score, other.label("other"), table.c.id, _untouched().label("untouched"))
        .where(own == ids.c.listing_id, other != bindparam("leaving_out", type_=Uuid()))
        .order_by(table.c.score.desc(), other)
        .offset(bindparam("skip"))
        .limit(1)
        .lateral()
    )
    return select(ids.c.listing_id, kth.c.score, kth.c.other, kth.c.id, kth.c.untouched).select_from(
        ids.join(kth, true())
    )


def _sides(kind: str) -> tuple[ColumnElement[uuid.UUID], ColumnElement[uuid.UUID]]:
    """The match columns holding listings of this kind and their counterparts."""
    table = MATCHES
    return (table.c.offer_id, table.c.need_id) if kind == "offer" else (table.c.need_id, table.c.offer_id)


def _untouched() -> ColumnElement[bool]:
    """A match still proposed on both sides: the engine may remove it."""
    table = MATCHES
    return and_(table.c.status == "proposed", table.c.offer_state == "proposed", table.c.need_state == "proposed")


def log_change(session: Session, listing_id: uuid.UUID | None) -> None:
    """Appends to the log the server processes replay into their matching index (None: every listing changed)."""
    session.execute(insert(ListingChange).values(listing_id=listing_id, matches_only=False, changed_at=utcnow()))


def log_match_changes(session: Session, listing_ids: Iterable[uuid.UUID]) -> None:
    """Listings whose stored matches changed (their k-th best may differ)."""
    now = utcnow()
    rows = [{"listing_id": i, "matches_only": True, "changed_at": now} for i in sorted(listing_ids)]
    bulk_insert(session, typing.cast(Table, ListingChange.__table__), rows)


def restart_change_log(session: Session) -> None:
    """A rebuild: every listing changed, so the log so far says nothing a process needs (each loads again)."""
    session.execute(delete(ListingChange))
    log_change(session, None)


def changes_since(session: Session, seq: int) -> list[tuple[int, uuid.UUID | None, bool]]:
    """(seq, listing, matches only) of each change after `seq`, in order."""
    columns = (ListingChange.seq, ListingChange.listing_id, ListingChange.matches_only)
    rows = session.execute(select(*columns).where(ListingChange.seq > seq).order_by(ListingChange.seq))
    return [(number, listing_id, matches_only) for number, listing_id, matches_only in rows]


def last_change(session: Session) -> int:
    # ORDER BY ... LIMIT 1 reads one index entry; max() was planned from the statistics of the table as a rebuild
    # left it (empty), as a scan of the whole index: 3-6 ms a write at 14k changes (round 5, EXPLAIN ANALYZE).
    return session.scalar(select(ListingChange.seq).order_by(ListingChange.seq.desc()).limit(1)) or 0


def eligible_listing_rows(session: Session, listing_ids: Sequence[uuid.UUID] | None = None) -> list[Any]:
    """Listings taking part in matching (of these ids, or all), as plain rows with the owner's columns."""
    query = _listing_rows().where(eligible())
    return list(session.execute(query)) if listing_ids is None else _in_chunks(session, query, listing_ids)


def listing_rows(session: Session, listing_ids: Sequence[uuid.UUID]) -> list[Any]:
    """These listings, whatever their status, as plain rows with the owner's columns."""
    return _in_chunks(session, _listing_rows(), listing_ids)


def _in_chunks(session: Session, query: Select[Any], listing_ids: Sequence[uuid.UUID]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(listing_ids), CHUNK):
        found.extend(session.execute(query.where(Listing.id.in_(listing_ids[start : start + CHUNK]))))
    return found


def eligible_ids(session: Session, listing_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for start in range(0, len(listing_ids), CHUNK):
        found.update(
            session.scalars(select(Listing.id).where(Listing.id.in_(listing_ids[start : start + CHUNK]), eligible()))
        )
    return found


def insert_matches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """New matches in bulk: no ORM object per row. Each row's engine digest is written as given (a rebuild's
    ranking processes compute it), else computed here."""
    bulk_insert(
        session, MATCHES, [row if "engine_digest" in row else row | {"engine_digest": digest(row)} for row in rows]
    )


# What a new match row holds besides its pair and engine fields.
NEW_MATCH_STATE: dict[str, Any] = {
    "offer_state": "proposed",
    "need_state": "proposed",
    "status": "proposed",
    "version": 1,
}


# The columns of ranked_copy's rows, in order: those of fixed width first, packed with one call a row (_LEADING).
RANKED_COLUMNS = (
    "id",
    "offer_id",
    "need_id",
    "engine_digest",
    "score",
    *NEW_MATCH_STATE,
    "created_at",
    "updated_at",
    *(field for field in ENGINE_FIELDS if field != "score"),
)


def insert_ranked_matches(session: Session, rows: Sequence[Sequence[Any]], now: datetime) -> list[str]:
    """New matches from a rebuild's ranking processes, each given as (offer_id, need_id, engine_digest, *ENGINE_FIELDS)
    with ids as text and JSON fields encoded; returns their new ids, as text, in order. On PostgreSQL they go to
    COPY as ranked_copy writes them."""
    if session.get_bind().dialect.name == "postgresql":
        raw_ids, data = ranked_copy(rows, now)
        copy_ranked(session, data)
        return _ids_text(raw_ids)
    ids = _new_ids(len(rows))
    if rows:
        bulk_insert(
            session, MATCHES, [_ranked_row(match_id, row, now) for match_id, row in zip(ids, rows, strict=True)]
        )
    return ids


def ranked_copy(rows: Sequence[Sequence[Any]], now: datetime) -> tuple[bytes, bytes]:
    """New ids for rows as insert_ranked_matches takes them (16 bytes each), and the rows in COPY's binary format
    (RANKED_COLUMNS), built straight from the tuples. PostgreSQL takes binary rows in about half the CPU that text
    costs it (300,000 stored matches: 1.1-1.3 s against 2.1-2.2 s), parsing no uuid, number or time. Pure, so that a
    ranking process can write it."""
    raw_ids = _new_raw_ids(len(rows))
    if not rows:
        return raw_ids, b""
    state = b"".join(_state_field(value) for value in [*NEW_MATCH_STATE.values(), now, now])  # the same a batch
    uuids: dict[str, bytes] = {}  # an offer's 16 bytes serve its ~25 rows
    texts: dict[str, bytes] = {}  # a rule or an engine version is one of a few texts
    fields, leading, length = len(RANKED_COLUMNS), _LEADING.pack, _LENGTH.pack
    parts = [_BINARY_HEADER]
    for start, row in zip(range(0, len(raw_ids), 16), rows, strict=True):
        offer, need, digest, score, rule, components, distance_km, impact, co2e_avoided_t, engine_version = row
        encoded, impact_encoded = components.encode(), impact.encode()
        offer_id = uuids.get(offer) or uuids.setdefault(offer, bytes.fromhex(offer.replace("-", "")))
        need_id = uuids.get(need) or uuids.setdefault(need, bytes.fromhex(need.replace("-", "")))
        parts += (
            leading(fields, 16, raw_ids[start : start + 16], 16, offer_id, 16, need_id, 8, digest, 8, score),
            state,
            texts.get(rule) or texts.setdefault(rule, _text_field(rule)),
            length(len(encoded)),
            encoded,
            _NULL if distance_km is None else _FLOAT8.pack(8, distance_km),
            length(len(impact_encoded)),
            impact_encoded,
            _NULL if co2e_avoided_t is None else _FLOAT8.pack(8, co2e_avoided_t),
            texts.get(engine_version) or texts.setdefault(engine_version, _text_field(engine_version)),
        )
    parts.append(_BINARY_TRAILER)
    return raw_ids, b"".join(parts)


def copy_ranked(session: Session, data: bytes, *, frozen: bool = False) -> None:
    """ranked_copy's rows into the matches table (PostgreSQL). `frozen`: with COPY's FREEZE, which only a table
    emptied in this transaction takes (empty_matches_for_first_load)."""
    if data:
        _copy(session, MATCHES, RANKED_COLUMNS, data, " (FORMAT BINARY, FREEZE)" if frozen else " (FORMAT BINARY)")


def engine_values(row: Sequence[Any]) -> dict[str, Any]:
    """The ENGINE_FIELDS of a row as insert_ranked_matches takes it, by name (JSON ones as JsonText)."""
    return {f: JsonText(v) if f in JSON_FIELDS else v for f, v in zip(ENGINE_FIELDS, row[3:], strict=True)}


def _ranked_row(match_id: str, row: Sequence[Any], now: datetime) -> dict[str, Any]:
    pair = {"id": uuid.UUID(match_id), "offer_id": uuid.UUID(row[0]), "need_id": uuid.UUID(row[1])}
    return (
        pair | {"engine_digest": row[2]} | engine_values(row) | NEW_MATCH_STATE | {"created_at": now, "updated_at": now}
    )


def _new_ids(count: int) -> list[str]:
    """`count` new UUIDs as text (_new_raw_ids), four times faster than str(uuid.uuid4()) each."""
    return _ids_text(_new_raw_ids(count))


def _new_raw_ids(count: int) -> bytes:
    """`count` new UUIDs, 16 bytes each, version 7 (RFC 9562: the time in milliseconds, then random bits). Ids made
    together share their leading bits, so the primary key index takes a rebuild's rows at its edge rather than all
    over it: for 1.44 M rows 1.2-1.4 s of PostgreSQL's CPU, not 3.4-3.8 s."""
    raw = bytearray(os.urandom(16 * count))
    for place, byte in enumerate((time.time_ns() // 1_000_000).to_bytes(6, "big")):
        raw[place::16] = bytes((byte,)) * count
    raw[6::16] = bytes(b & 0x0F | 0x70 for b in raw[6::16])
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])
    return bytes(raw)


def _ids_text(raw: bytes) -> list[str]:
    h = raw.hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, len(h), 32)
    ]


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Rows (dicts with the same keys, every value given) into a table: COPY on PostgreSQL, several times faster
    than multi-row INSERTs for wide rows; executemany elsewhere. JSON values are written as db.json_dumps writes
    them, as the JSON type would (rebuilds compare stored JSON text with json_dumps of fresh values)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), [_decoded(row) for row in rows])
        return
    columns = list(rows[0])
    encoded = [(name, isinstance(table.c[name].type, JSON)) for name in columns]
    lines = (_copy_line(json_text(row[c]) if j else row[c] for c, j in encoded) for row in rows)
    _copy(session, table, columns, "".join(lines))


def insert_tuples(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    binary: Callable[[Sequence[Sequence[Any]]], bytes] | None = None,
) -> None:
    """Rows given as tuples in `columns`' order (no JSON column) into a table, as bulk_insert does without a dict a
    row: building ~800k dicts of concepts was ~6 s of a rebuild from empty at 100k (round 12). `binary`: the rows in
    COPY's binary format, written for their kind (PostgreSQL; else COPY text by _copy_line)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
    elif binary is not None:
        _copy(session, table, columns, binary(rows), " (FORMAT BINARY)")
    else:
        _copy(session, table, columns, "".join(map(_copy_line, rows)))


def _copy_line(values: Iterable[Any]) -> str:
    """One row as a line of COPY's text format."""
    return "\t".join([_copy_text(value) for value in values]) + "\n"


def _copy(session: Session, table: Table, columns: Sequence[str], data: str | bytes, options: str = "") -> None:
    """COPY data into these columns of a table: text (lines of tab-separated values, as _copy_text writes them), or
    what `options` name."""
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN{options}"
    with _driver(session).cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(data)


def _driver(session: Session) -> psycopg.Connection[Any]:
    """The session's connection as psycopg's (PostgreSQL): for COPY, and for reading many rows as plain tuples."""
    return typing.cast(psycopg.Connection[Any], session.connection().connection.dbapi_connection)


def _copy_text(value: Any) -> str:
    """A value as COPY's text format writes it (psycopg's write_row does the same in Python, several times slower:
    at 1.4 M matches it was most of a rebuild's writing)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        # A backslash, tab, newline or carriage return inside a value is written escaped (backslash first).
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"no COPY text for a {type(value).__name__}")


def update_matches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """rows: the engine fields and the match's "match_id"; each changed match gets a new version (its ETag)."""
    table = MATCHES
    if rows:
        values: dict[str, Any] = {f: bindparam(f"new_{f}") for f in ENGINE_FIELDS}
        statement = (
            update(table)
            .where(table.c.id == bindparam("match_id"))
            .values(
                **values, engine_digest=bindparam("digest"), version=table.c.version + 1, updated_at=bindparam("now")
            )
        )
        session.execute(
            statement, [{"match_id": r["match_id"], "now": r["now"], "digest": digest(r)} | _prefixed(r) for r in rows]
        )


def reencode_matches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """rows: the engine fields and "match_id" of matches that hold the same values, with their JSON perhaps in
    another encoding or without a digest: the text and digest are rewritten, the version (the ETag) and the update
    time stay."""
    table = MATCHES
    if rows:
        values: dict[str, Any] = {f: bindparam(f"new_{f}") for f in sorted(JSON_FIELDS)}
        statement = (
            update(table).where(table.c.id == bindparam("match_id")).values(**values, engine_digest=bindparam("digest"))
        )
        session.execute(
            statement, [{"match_id": r["match_id"], "digest": digest(r)} | _prefixed(r, JSON_FIELDS) for r in rows]
        )


def _prefixed(row: dict[str, Any], fields: Iterable[str] = ENGINE_FIELDS) -> dict[str, Any]:
    """The row's values of these fields, as the statements' "new_" parameters take them."""
    return _decoded({f"new_{f}": row[f] for f in fields})


def delete_matches(session: Session, match_ids: Sequence[uuid.UUID]) -> None:
    table = MATCHES
    for start in range(0, len(match_ids), CHUNK):
        session.execute(delete(table).where(table.c.id.in_(match_ids[start : start + CHUNK])))


def delete_untouched_matches_of_non_offers(session: Session) -> int:
    """Matches whose offer no longer takes part in matching (paused, private, closed, now a need), unless a party
    already acted on them; returns how many went."""
    table = MATCHES
    gone = select(Listing.id).where(~and_(eligible(), Listing.kind == "offer"))
    result = session.execute(delete(table).where(table.c.offer_id.in_(gone), _untouched()))
    return int(getattr(result, "rowcount", 0) or 0)


def has_matches(session: Session) -> bool:
    return session.execute(select(MATCHES.c.id).limit(1)).first() is not None


def empty_matches_for_first_load(session: Session) -> bool:
    """On PostgreSQL, TRUNCATE the (empty) matches table and its events, so that this transaction may COPY into it
    with FREEZE (copy_ranked): rows written frozen and the visibility map set, so that the VACUUM after a first load
    at 100k skips the 1.44 M rows instead of reading them (VACUUM ANALYZE of the table 0.35-0.50 s against 1.1-1.8
    s, a side measurement). Returns whether it did. Holds the tables' exclusive locks until the transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.execute(text(f"TRUNCATE {MATCHES.name}, {MatchEvent.__tablename__}"))
    return True


# The tables a first load fills whose secondary indexes and foreign keys it builds after their rows.
FIRST_LOAD_TABLES = ("matches", "listing_concepts")


def set_aside_keys(session: Session) -> list[str]:
    """On PostgreSQL, drops the secondary indexes and foreign keys of FIRST_LOAD_TABLES (not their primary keys and
    unique constraints) for the rest of the transaction; returns the statements that make them again, as the
    database defined them (none elsewhere). At 100k `matches` then takes its 1.44 M rows in ~18 s of PostgreSQL's
    CPU instead of ~44 s, and `listing_concepts` its 812k in ~1.6 s instead of ~5.9 s: each index built by one sort
    instead of a row at a time, each foreign key checked by one join instead of a lookup a row. Dropping a foreign
    key takes the exclusive lock of its table and of `listings`: their readers wait until the transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    return [statement for table in FIRST_LOAD_TABLES for statement in _set_aside_keys_of(session, table)]


def _set_aside_keys_of(session: Session, table: str) -> list[str]:
    bind = {"table": table}
    indexes = session.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :table"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass))"
            " ORDER BY indexname"
        ),
        bind,
    ).all()
    keys = session.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY conname"
        ),
        bind,
    ).all()
    for name, _ in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    for name, _ in keys:
        session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in keys
    ]


def restore_keys(session: Session, statements: Sequence[str]) -> None:
    """Runs set_aside_keys' statements: the indexes built and the foreign keys checked over the rows written."""
    if statements:
        # PostgreSQL's default (64 MB) sorts the rank indexes' 1.44 M entries at 100k on disk: ~1 s more.
        session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for statement in statements:
        session.execute(text(statement))


def vacuum(engine: Engine) -> None:
    """On PostgreSQL, VACUUM ANALYZE the matching tables, as autovacuum does some time after large writes (if it
    runs at all: it may be off): fresh statistics for the planner, and the visibility map that lets the k-th match
    queries scan the rank indexes alone (after a rebuild at 100k, writes took p95 252 ms without it; round 5).
    Outside any transaction: VACUUM may not run inside one."""
    if engine.dialect.name != "postgresql":
        return

    def vacuum_analyze(table: str) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM ANALYZE {table}"))

    # Two tables at a time, the largest first: each VACUUM is one backend's work, and after a first load at 100k
    # `listings` alone took 1.15 s of the five tables' 2.1 s one after another.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(vacuum_analyze, ("listings", "matches", "listing_concepts", "organizations", "listing_changes")))


def match_created_subscribers(session: Session) -> set[uuid.UUID]:
    """Organizations with a webhook subscription to match.created: the only owners a new match is announced to.
    Read once per transaction (a write may store matches for several listings)."""
    if _SUBSCRIBERS not in session.info:
        rows = session.execute(select(WebhookSubscription.organization_id, WebhookSubscription.events))
        session.info[_SUBSCRIBERS] = {
            organization_id for organization_id, events in rows if "match.created" in (events or [])
        }
    found: set[uuid.UUID] = session.info[_SUBSCRIBERS]
    return found


_SUBSCRIBERS = "symbioza.match_created_subscribers"
