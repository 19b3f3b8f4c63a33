"""Adapts database rows to the engine's plain records and back."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from app.db import json_dumps
from app.listings.models import Listing
from app.matches import repository
from app.matches.engine import get_engine
from app.matches.models import Match
from matching.columns import Written
from matching.engine import Engine, latitude_order
from matching.explain import explain
from matching.impact import basis
from matching.records import Candidate, Comparison, Evidence, Impact, Profile
from matching.records import Listing as ListingRecord
from matching.scoring import COMPARISONS


def record(listing: Listing) -> ListingRecord:
    owner = listing.organization
    return record_of(listing, Owner(owner.lat, owner.lon, owner.nace, owner.region))


class Owner(NamedTuple):
    """What a listing takes from its organization: the place (when it has none of its own), activities, region."""

    lat: float | None
    lon: float | None
    nace: list[str]
    region: str | None


def record_of(listing: Any, owner: Owner) -> ListingRecord:
    """The engine's record of a listing: an ORM row, or a Core row with the same column names."""
    lat, lon = _place(listing, owner.lat, owner.lon)
    return ListingRecord(
        id=str(listing.id),
        organization_id=str(listing.organization_id),
        kind=listing.kind,
        resource_type=listing.resource_type,
        title=listing.title,
        description=listing.description,
        language=listing.language,
        ewc=listing.ewc,
        hazardous=listing.hazardous,
        quantity=listing.quantity,
        unit=listing.unit,
        period=listing.period,
        available_from=listing.available_from,
        available_until=listing.available_until,
        legal_status=listing.legal_status,
        recovery_operations=tuple(listing.recovery_operations),
        properties=dict(listing.properties),
        max_distance_km=listing.max_distance_km,
        lat=lat,
        lon=lon,
        nace=tuple(owner.nace),
        region=owner.region,
    )


def _place(listing: Any, owner_lat: float | None, owner_lon: float | None) -> tuple[float | None, float | None]:
    """Where the engine places a listing: its own place, else its owner's."""
    located = listing.lat is not None and listing.lon is not None
    return (listing.lat, listing.lon) if located else (owner_lat, owner_lon)


def index_order(row: Any) -> float:
    """Where the record of a Core row of listing and owner columns (repository.listing_rows) goes in
    Index.add_profiles' order, without making the record."""
    return latitude_order(*_place(row, row.owner_lat, row.owner_lon))


def stored_profile(row: Any, concepts: Iterable[tuple[str, float, str]]) -> Profile:
    """The same from a Core row of listing and owner columns (see repository.listing_rows) and concept tuples."""
    owner = Owner(row.owner_lat, row.owner_lon, row.owner_nace, row.owner_region)
    return _profile_of(record_of(row, owner), row, concepts)


def _profile_of(listing: ListingRecord, row: Any, concepts: Iterable[tuple[str, float, str]]) -> Profile:
    evidence = {concept: Evidence(weight, source) for concept, weight, source in concepts}
    return Profile(listing, evidence, row.suggested_ewc, row.suggested_ewc_confidence)


def concept_rows(listing_id: uuid.UUID, profile: Profile) -> list[tuple[uuid.UUID, str, str, float, str]]:
    """The profile's concepts as rows of listing_concepts, in repository.CONCEPT_COLUMNS order (tuples: a rebuild
    writes ~800k of them at 100k listings)."""
    kind = profile.listing.kind
    return [(listing_id, c, kind, e.weight, e.source) for c, e in profile.concepts.items()]


# What a match row stores of the impact: its figures and route, not its basis (matching.impact.basis writes that
# when the match is read: ~600 bytes a row, the same for every pair of a route). In declaration order.
IMPACT_STORED = tuple(name for name in Impact._fields if name != "basis")


def match_values(candidate: Candidate, engine_version: str) -> dict[str, Any]:
    """The engine fields of a match row. Each comparison is stored as a list of its values in Comparison's order,
    which components_of() names again (the names, repeated in every row, were ~400 bytes of it), and without its
    reason when the candidate was written without sentences (a match no party acted on: sentences_of() writes
    them when it is read)."""
    return {
        "score": candidate.score,
        "rule": candidate.rule,
        "components": [list(c) if c.reason else list(c[:-1]) for c in candidate.components],
        "distance_km": candidate.distance_km,
        "impact": {name: getattr(candidate.impact, name) for name in IMPACT_STORED},
        "co2e_avoided_t": candidate.impact.co2e_avoided_t,
        "engine_version": engine_version,
    }


def encoded_values(candidate: Candidate, engine_version: str) -> tuple[Any, ...]:
    """match_values in repository.ENGINE_FIELDS order with the JSON fields encoded (db.json_dumps): what a rebuild
    digests and writes of each of its ~1.44 M kept pairs at 100k listings, made without the dict and lists in
    between (orjson writes a tuple as it writes a list)."""
    impact = candidate.impact
    return (
        candidate.score,
        candidate.rule,
        json_dumps([c[:] if c.reason else c[:-1] for c in candidate.components]),
        candidate.distance_km,
        json_dumps({name: impact[at] for name, at in _IMPACT_STORED_AT}),
        impact.co2e_avoided_t,
        engine_version,
    )


_IMPACT_STORED_AT = tuple((name, Impact._fields.index(name)) for name in IMPACT_STORED)


def encoded_written(written: Written, engine_version: str) -> list[tuple[Any, ...]]:
    """encoded_values of each candidate of `written` (matching.columns), made from its columns."""
    names, weights = COMPARISONS, written.weights
    return [
        (
            score,
            rule,
            json_dumps(list(zip(names, shown, weights, parts, levels, strict=True))),
            km,
            json_dumps({name: impact[at] for name, at in _IMPACT_STORED_AT}),
            impact.co2e_avoided_t,
            engine_version,
        )
        for score, rule, shown, parts, levels, km, impact in zip(
            written.scores,
            written.rules,
            written.shown,
            written.parts,
            written.levels,
            written.distances,
            written.impacts,
            strict=True,
        )
    ]


def has_sentences(match: Any) -> bool:
    """Whether the stored components keep their reasons (a match a party acted on)."""
    return all(len(c) == len(Comparison._fields) for c in match.components)


def sentences_of(
    session: Session,
    matches: Iterable[Any],
    listings: Iterable[Listing] = (),
    profiles: dict[uuid.UUID, Profile] | None = None,
) -> dict[uuid.UUID, tuple[str, ...]]:
    """The reasons of the matches stored without them, by match id, in the order of their components. They are
    written from the two listings as stored now, which is what the engine last compared such a match from: every
    write compares its listing's matches again, and a party acting on a match stores its reasons first. Pass the
    `listings` the caller has loaded (with their organizations); the others are read. A caller asking again and
    again (an export, chunk by chunk) passes the same `profiles`: the listings' profiles built so far, which this
    uses and adds to. A comparison whose value or level the listings no longer give (the engine changed and no
    rebuild has run) is said by its level alone."""
    wanting = [match for match in matches if not has_sentences(match)]
    if not wanting:
        return {}
    known = {} if profiles is None else profiles
    ids = sorted({i for match in wanting for i in (match.offer_id, match.need_id)} - known.keys())
    concepts = repository.stored_concepts(session, ids)
    loaded = {listing.id: listing for listing in listings}
    known |= {i: _profile_of(record(loaded[i]), loaded[i], concepts[i]) for i in ids if i in loaded and i in concepts}
    unread = [i for i in ids if i not in known]
    known |= {row.id: stored_profile(row, concepts[row.id]) for row in repository.listing_rows(session, unread)}
    engine = get_engine()
    return {m.id: _said(engine, m, known.get(m.offer_id), known.get(m.need_id)) for m in wanting}


def _said(engine: Engine, match: Any, offer: Profile | None, need: Profile | None) -> tuple[str, ...]:
    scored = engine.score(offer, need) if offer is not None and need is not None else None
    outcomes = scored.outcomes if scored is not None else (None,) * len(match.components)
    return tuple(
        o.reason if o is not None and (round(o.value, 4), o.level) == (c[1], c[4]) else f"{c[0].capitalize()}: {c[4]}."
        for c, o in zip(match.components, outcomes, strict=True)
    )


def comparisons(match: Any, said: Sequence[str] | None = None) -> tuple[Comparison, ...]:
    """The stored components of a match (an ORM or a Core row) as the engine wrote them, with the reasons `said`
    (sentences_of) where the row keeps none."""
    if has_sentences(match):
        return tuple(Comparison(*c) for c in match.components)
    if said is None:
        raise ValueError(f"match {match.id} is stored without its sentences: read them with sentences_of()")
    return tuple(Comparison._make([*c, reason]) for c, reason in zip(match.components, said, strict=True))


def components_of(match: Any, said: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The components as the API shows them: one object per comparison."""
    return [c._asdict() for c in comparisons(match, said)]


def impact_of(match: Any) -> dict[str, Any]:
    """The impact as the API shows it: the stored figures and route, and the basis written from them."""
    stored: dict[str, Any] = match.impact
    return stored | {"basis": basis(Impact(**stored, basis=""), match.distance_km, get_engine().knowledge)}


def explanation(match: Any, said: Sequence[str] | None = None) -> list[str]:
    """The match's sentences, most important first: written when read from the stored rule and components (what
    the engine's explanation is made of), not stored beside them (~500 bytes a row, round 6)."""
    return list(explain(match.rule, comparisons(match, said)))


def keep_sentences(session: Session, match: Match, listings: Iterable[Listing] = ()) -> None:
    """Stores the reasons of a match a party is about to act on: from then on it shows them as they were, even if
    the engine stops proposing it or its listings change (the engine writes them again whenever it rewrites the
    match's values). `listings`: as for sentences_of."""
    said = sentences_of(session, [match], listings).get(match.id)
    if said is None:
        return
    match.components = [list(c) for c in comparisons(match, said)]
    match.engine_digest = repository.digest({f: getattr(match, f) for f in repository.ENGINE_FIELDS})


def apply(match: Match, values: dict[str, Any]) -> bool:
    """Writes the values into the row; says whether anything changed (so unchanged rows keep their timestamp)."""
    changed = any(getattr(match, key) != value for key, value in values.items())
    if changed:
        match.version += 1  # a new ETag: the score, its values or its stored reasons changed (see Match.version)
        for key, value in values.items():
            setattr(match, key, value)
    if changed or match.engine_digest is None:  # unchanged values keep the digest they were written with
        match.engine_digest = repository.digest(values)
    return changed
