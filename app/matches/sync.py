"""Keeps the stored matches equal to what the engine computes: on every listing write, and in a full rebuild.

Both paths read plain rows and write in bulk (Core statements, no ORM object per match or concept row), and a new
match is announced only to owners with a match.created subscription, looked up once per write.
"""

import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import json_loads, utcnow
from app.errors import Conflict
from app.listings.models import Listing
from app.matches import adapter, repository, shortlist
from app.matches.engine import get_engine
from app.matches.forked import Forked, collector_paused, processes_for
from app.matches.live import LiveIndex, changed_in_transaction, live_index, log_match_changes
from app.matches.models import Match
from app.webhooks import service as webhooks
from matching.engine import Engine, Index, Scored
from matching.records import Candidate, Profile
from matching.tally import Seen, Tally

Progress = Callable[[str, int, int], None]
Key = tuple[uuid.UUID, uuid.UUID]

ENRICH_BATCH = 500
BATCH = 500  # a rebuild ranks this many needs, and compares and writes the matches of this many offers, at a time
PARALLEL_FROM = 5000  # listings; below this a rebuild runs in one process
PROFILES_STEP = 2000  # listings whose profiles a rebuild stores between two results of the needs' ranking

# A candidate as a rebuild's ranking processes send it: offer and need ids, its engine digest, then the values of
# ENGINE_FIELDS with the JSON ones encoded. Plain strings and floats: encoding the JSON is the larger part of a row's
# cost, and text crosses the pipe several times faster than nested lists, dicts and UUIDs.
Fresh = tuple[Any, ...]
# A batch of offers' stored matches by (offer id, need id) as text: repository.stored_digests_of_offers rows.
Stored = dict[tuple[str, str], repository.StoredDigest]


class FirstLoadRefused(Conflict):
    title = "Matches are stored already"


@dataclass(frozen=True)
class RebuildReport:
    listings: int
    matches: int
    added: int
    changed: int
    removed: int


def is_eligible(listing: Any) -> bool:
    """Whether a listing (an ORM or a Core row) takes part in matching."""
    return bool(listing.status == "active" and listing.visibility != "private")


def refresh(session: Session, listing: Listing) -> None:
    """Recomputes one listing's profile and every match it takes part in, inside the caller's transaction."""
    engine = get_engine()
    repository.lock_matches(session)
    session.flush()  # the listing's row first: its concepts refer to it
    profile = engine.profiles([adapter.record(listing)])[0]
    listing.suggested_ewc = None if listing.ewc else profile.suggested_ewc
    listing.suggested_ewc_confidence = None if listing.ewc else profile.suggested_confidence
    repository.replace_concepts_of(session, [listing.id], adapter.concept_rows(listing.id, profile))
    live = live_index(session)  # before this write is logged: the index has seen what is committed
    repository.log_change(session, listing.id)
    holders = _holders(session, listing.id)
    if not is_eligible(listing):
        _delete_matches_of(session, live, listing.id)
        live.remove(listing.id)
        _rematch(session, live, holders)
    else:
        live.put(profile)
        kept = _match(session, live, profile)
        # A counterpart whose best K held this listing, and holds it no higher now, may have a next best to store.
        scores = {uuid.UUID(c.need_id if listing.kind == "offer" else c.offer_id): c.score for c in kept}
        _rematch(session, live, [y for y, old in holders.items() if y not in scores or scores[y] < old])
    log_match_changes(session)


# Taken by writers of anything a match shows, before they change a row (writers take it first, then rows).
lock = repository.lock_matches


def shown_changed(session: Session, listing_ids: Iterable[uuid.UUID]) -> None:
    """Something shown with these listings' matches changed, not the matches themselves (an owner's name or
    contact): logged, so that the processes' page caches forget their pages. Call under the match lock."""
    repository.log_match_changes(session, listing_ids)


def forget(session: Session, listing: Listing) -> None:
    """Before a listing is deleted: its matches go, and counterparts that held it among their best are matched
    again without it (under the lock, so no concurrent refresh pairs with it meanwhile)."""
    repository.lock_matches(session)
    live = live_index(session)
    repository.log_change(session, listing.id)
    live.remove(listing.id)
    holders = _holders(session, listing.id)
    _delete_matches_of(session, live, listing.id)
    _rematch(session, live, holders)
    log_match_changes(session)


def _delete_matches_of(session: Session, live: LiveIndex, listing_id: uuid.UUID) -> None:
    existing = repository.matches_of(session, listing_id)
    live.matches_changed(session, {listing_id, *_parties(existing)})
    repository.delete_matches_of(session, listing_id)


def _match(session: Session, live: LiveIndex, profile: Profile) -> list[Candidate]:
    """Stores the matches of one listing (its current profile): its K best candidates and those that enter their
    counterpart's K best, dropping what they push out. Returns the candidates kept."""
    k = get_settings().matches_per_listing
    listing_id = uuid.UUID(profile.listing.id)
    existing = repository.matches_of(session, listing_id)
    matched_with = _parties(existing) - {listing_id}
    candidates, kths = _candidates(session, live, profile, k, matched_with)
    selection = shortlist.select(listing_id, candidates, kths, k)
    engine = get_engine()
    acted = {key for key, match in existing.items() if not _untouched(match)}  # they keep their sentences
    kept = [engine.candidate(s, sentences=_key(s) in acted) for s in selection.kept]
    counterparts = [_other(c, profile.listing.id) for c in kept]
    owners = {uuid.UUID(p.listing.id): uuid.UUID(p.listing.organization_id) for p in _profiles(live, counterparts)}
    owners[listing_id] = uuid.UUID(profile.listing.organization_id)
    _sync(session, existing, kept, engine.version_, owners)
    live.matches_changed(session, {listing_id, *matched_with, *counterparts})
    _drop_displaced(session, live, selection.displaced, profile.listing.kind, k)
    return kept


def _candidates(
    session: Session, live: LiveIndex, profile: Profile, k: int, matched_with: set[uuid.UUID]
) -> tuple[list[Scored], dict[uuid.UUID, shortlist.Entry]]:
    """The listing's candidates worth storing (Engine.shortlist), and the k-th best stored match of each candidate's
    counterpart (without this listing), which decides that. Counterparts the database no longer holds as taking
    part (changed behind the service's back) are taken out of the index and the search runs again."""
    listing_id = uuid.UUID(profile.listing.id)
    other_kind = "need" if profile.listing.kind == "offer" else "offer"
    while True:
        scope = live.scope(profile)
        floors = live.floors(session, scope, other_kind, matched_with | changed_in_transaction(session), listing_id)
        candidates = get_engine().shortlist(scope, k, floors)
        counterparts = sorted({_other(c, profile.listing.id) for c in candidates})
        gone = set(counterparts) - repository.eligible_ids(session, counterparts)
        if not gone:
            return candidates, _kths(session, counterparts, other_kind, k, leaving_out=listing_id)
        for missing in gone:
            live.remove(missing)


def _profiles(live: LiveIndex, listing_ids: Iterable[uuid.UUID]) -> list[Profile]:
    return [p for p in (live.profile(i) for i in listing_ids) if p is not None]


def _holders(session: Session, listing_id: uuid.UUID) -> dict[uuid.UUID, float]:
    """Counterparts that hold this listing among their K best stored matches and have at least K of them (so a
    next best may exist that is not stored), with the score they hold it at. Both sides are looked at: a write
    may have changed the listing's kind."""
    k = get_settings().matches_per_listing
    found: dict[uuid.UUID, float] = {}
    for kind, other_kind in (("offer", "need"), ("need", "offer")):
        entries = [
            shortlist.Entry(*row) for row in repository.stored_pairs(session, [listing_id], kind).get(listing_id, [])
        ]
        kths = _kths(session, sorted(e.other for e in entries), other_kind, k)
        found |= {
            e.other: e.score
            for e in entries
            if (kth := kths.get(e.other)) is not None and shortlist.holds(e.score, listing_id, kth)
        }
    return found


def _rematch(session: Session, live: LiveIndex, listing_ids: Iterable[uuid.UUID]) -> None:
    """Matches these listings again from their profiles in the index (their own data did not change); listings
    that no longer take part are left alone."""
    for profile in _profiles(live, sorted(listing_ids)):
        _match(session, live, profile)


def _drop_displaced(
    session: Session, live: LiveIndex, displaced: Sequence[tuple[uuid.UUID, shortlist.Entry]], kind: str, k: int
) -> None:
    """Matches pushed out of one side's K best go, unless the other side holds them among its K best or a party
    already acted on them. `kind` is the kind of the listings whose K best the displaced matches still compete in."""
    candidates = [(holder, entry) for holder, entry in displaced if entry.untouched]
    if not candidates:
        return
    kths = _kths(session, sorted({entry.other for _, entry in candidates}), kind, k)
    gone = [
        (holder, entry)
        for holder, entry in candidates
        if not shortlist.holds(entry.score, holder, kths.get(entry.other))
    ]
    repository.delete_matches(session, [entry.match_id for _, entry in gone])
    live.matches_changed(session, {x for holder, entry in gone for x in (holder, entry.other)})


def _kths(
    session: Session, listing_ids: Sequence[uuid.UUID], kind: str, k: int, leaving_out: uuid.UUID | None = None
) -> dict[uuid.UUID, shortlist.Entry]:
    """repository.kth_entries as shortlist entries."""
    rows = repository.kth_entries(session, listing_ids, kind, k, leaving_out)
    return {listing_id: shortlist.Entry(*row) for listing_id, row in rows.items()}


def _parties(matches: Iterable[Key]) -> set[uuid.UUID]:
    """Every listing in these (offer, need) pairs."""
    return {listing_id for pair in matches for listing_id in pair}


def _key(candidate: Candidate | Scored) -> Key:
    return uuid.UUID(candidate.offer_id), uuid.UUID(candidate.need_id)


def _other(candidate: Candidate | Scored, listing_id: str) -> uuid.UUID:
    """The candidate's counterpart of this listing."""
    return uuid.UUID(candidate.need_id if candidate.offer_id == listing_id else candidate.offer_id)


def refresh_organization(session: Session, listings_of_owner: Iterable[Listing]) -> None:
    for listing in listings_of_owner:
        refresh(session, listing)


# The collector is off in this process for the whole rebuild: what it builds and reads is not garbage, and at 100k the
# full collections it triggered (the profile table's ~1 M objects before the processes fork; then ~40 in the offers
# pass, each walking the needs' 1.4 M choices) took ~8 s of its CPU and freed nothing. The processes collect.
@collector_paused()
def rebuild(
    session: Session, progress: Progress | None = None, processes: int | None = None, *, first_load: bool = False
) -> RebuildReport:
    """Recomputes every profile and every match in one transaction: a failure leaves the previous matches intact.

    Offers are matched in batches, in the index's order; each batch's stored matches are read, compared with the fresh
    candidates and only the differences written, so memory holds one batch of matches, not all of them. Enriching
    and ranking run in `processes` forked processes (default: SYMBIOZA_REBUILD_PROCESSES; small databases in this
    one) while this process writes. Once committed, the caller should run repository.vacuum.

    `first_load`: no match is stored yet (else FirstLoadRefused), and nothing reads listings or matches until this
    commits: on PostgreSQL the secondary indexes and foreign keys of the matches and concepts tables are set aside
    while their rows are written and made again at the end (repository.set_aside_keys), which makes those tables
    and `listings` exclusively this transaction's.
    """
    engine = get_engine()
    repository.lock_matches(session)
    set_aside, frozen = _set_aside_for_first_load(session) if first_load else ([], False)
    repository.restart_change_log(session)
    # First, while the table holds only the matches stored before: after the offers pass the same statement scanned
    # 1.44 M fresh rows (1.7 s at 100k). The offers pass writes no match of these listings.
    removed = repository.delete_untouched_matches_of_non_offers(session)
    index = Index(engine)
    kept, profiles = _profiles_of(session, engine, processes, progress, index)
    # The profiles are stored while the processes rank the needs, in steps between their results: alone, storing
    # them kept one core busy and the other idle (~14 s at 100k). Ranking needs none of it.
    storing = _storing_profiles(session, kept, profiles)
    listings, owners = len(kept), {row.id: row.organization_id for row in kept}
    del kept, profiles  # the index holds the profiles taking part; `storing` the rest until it is done
    workers = _processes(processes, listings)
    k = get_settings().matches_per_listing
    # In the index's order (by latitude): a batch's reaches then read nearby rows of the index's columns, and the
    # floors of a region's offers rise while its needs are ranked, so that less is tallied.
    offers = [p.listing.id for p in index.profiles.values() if p.listing.kind == "offer"]
    needs = [p.listing.id for p in index.profiles.values() if p.listing.kind == "need"]
    subscribers = repository.match_created_subscribers(session)
    subscribed = frozenset(str(listing) for listing, owner in owners.items() if owner in subscribers)
    copy = session.get_bind().dialect.name == "postgresql"
    matches = added = changed = 0
    # Made here, before the processes fork, so that they share one copy instead of each making its own (at 100k: the
    # parent's peak RSS +30-38 MiB, each ranking process's PSS 10-20 MiB less).
    index.profile_table()
    with Forked(_Ranking(index, k, engine.version_, subscribed, copy), workers) as work:
        chosen, tallied = _rank_needs(work, index, needs, progress, meanwhile=storing)
        for _ in storing:  # what the needs' results left (few needs, or a slow database)
            pass
        batches = [offers[start : start + BATCH] for start in range(0, len(offers), BATCH)]
        # Each batch's stored matches are read as its task is sent (the processes compare digests) and merged when
        # its result comes back, in the same order. Merging a batch writes only its own offers' matches.
        in_flight: deque[Stored] = deque()
        nothing = Seen.none()  # an offer no need's reach saw above the threshold

        def tasks() -> Iterator[_Task]:
            for batch in batches:
                in_flight.append({} if first_load else _stored_of(session, batch))
                digests = {key: row.engine_digest for key, row in in_flight[-1].items()}
                seen = {offer: tallied.get(index.row_of(offer), nothing) for offer in batch}
                acted = _acted_on(in_flight[-1])
                yield batch, {offer: chosen.get(offer, []) for offer in batch}, seen, digests, acted

        if progress:
            progress("matching offers", 0, len(offers))
        for done, ranked in enumerate(work.map(_kept_of_offers, tasks()), 1):
            counts = _merge(session, in_flight.popleft(), ranked, owners, subscribers, frozen=frozen)
            matches, added, changed, removed = (
                matches + ranked.kept,
                added + counts[0],
                changed + counts[1],
                removed + counts[2],
            )
            if progress:
                progress("matching offers", min(done * BATCH, len(offers)), len(offers))
    repository.restore_keys(session, set_aside)
    return RebuildReport(listings, matches, added, changed, removed)


def _set_aside_for_first_load(session: Session) -> tuple[list[str], bool]:
    """What a first load checks and sets aside: FirstLoadRefused when a match is stored; on PostgreSQL, the keys
    built after the rows (repository.set_aside_keys), whose statements it returns, and the empty table made one its
    rows may be written to frozen (repository.empty_matches_for_first_load), which it says."""
    if repository.has_matches(session):
        raise FirstLoadRefused("a first load needs an empty matches table, and matches are stored: rebuild without it")
    return repository.set_aside_keys(session), repository.empty_matches_for_first_load(session)


def refresh_profiles(session: Session, progress: Progress | None = None) -> int:
    """Recomputes and stores every listing's profile (concepts, suggested code) without matching; returns how many
    listings there are. A rebuild does this first; alone, it prepares a loaded database for incremental writes."""
    repository.lock_matches(session)
    repository.restart_change_log(session)
    kept, profiles = _profiles_of(session, get_engine(), None, progress)
    for _ in _storing_profiles(session, kept, profiles):
        pass
    return len(kept)


def _processes(asked: int | None, listings: int) -> int:
    """How many processes a rebuild uses: as asked, else as configured, except that a small database is done here
    (forking costs more than it saves)."""
    if asked is not None:
        return asked
    return processes_for(get_settings().rebuild_processes) if listings >= PARALLEL_FROM else 1


class _Kept(NamedTuple):
    """What a rebuild keeps of a listing's row once its profile is made: what storing the profile and announcing
    new matches read."""

    id: uuid.UUID
    organization_id: uuid.UUID
    eligible: bool
    ewc: str | None
    suggested_ewc: str | None
    suggested_ewc_confidence: float | None


def _profiles_of(
    session: Session, engine: Engine, processes: int | None, progress: Progress | None, index: Index | None = None
) -> tuple[list[_Kept], list[Profile]]:
    """Every listing's profile, with what is kept of its row, in the index's order (adapter.index_order). The rows
    are enriched in batches by forked processes (`processes` as _processes takes it), which inherit them; this
    process lets go of the rows once they have forked, so that the profiles coming back take the rows' place in
    its memory rather than more (at 100k, ~170 MiB of rows, which the ranking processes later inherited as well).
    The profiles of the eligible listings are added to `index` batch by batch as they come: the index is then what
    Index.add_profiles of all of them at once makes."""
    # In the index's order, so that this process builds the index while the others enrich (it was ~5 s at 100k with
    # a core idle, after them).
    rows = sorted(repository.all_listing_rows(session), key=adapter.index_order)
    kept = [
        _Kept(row.id, row.organization_id, is_eligible(row), row.ewc, row.suggested_ewc, row.suggested_ewc_confidence)
        for row in rows
    ]
    profiles: list[Profile] = []
    if progress:
        progress("enriching listings", 0, len(kept))
    with Forked((engine, rows), _processes(processes, len(kept)), handed_over=True) as work:
        del rows
        for batch in work.map(_enrich, range(0, len(kept), ENRICH_BATCH)):
            if index is not None:
                done = len(profiles)
                index.add_profiles(
                    p for row, p in zip(kept[done : done + len(batch)], batch, strict=True) if row.eligible
                )
            profiles.extend(batch)
            if progress:
                progress("enriching listings", len(profiles), len(kept))
    return kept, profiles


def _enrich(state: tuple[Engine, Sequence[Any]], start: int) -> list[Profile]:
    engine, rows = state
    batch = rows[start : start + ENRICH_BATCH]
    owners = [adapter.Owner(row.owner_lat, row.owner_lon, row.owner_nace, row.owner_region) for row in batch]
    return engine.profiles([adapter.record_of(row, owner) for row, owner in zip(batch, owners, strict=True)])


@dataclass(frozen=True)
class _Ranking:
    """What the ranking processes inherit."""

    index: Index
    k: int
    version: str
    subscribed: frozenset[str]  # the listings whose owners hear of new matches (ids as text)
    copy: bool  # whether the processes write new matches as COPY text (PostgreSQL)


def _rank_needs(
    work: "Forked[_Ranking]",
    index: Index,
    needs: Sequence[str],
    progress: Progress | None,
    meanwhile: Iterator[None] = iter(()),
) -> tuple[dict[str, list[str]], dict[int, Seen]]:
    """shortlist.chosen_by_needs, the needs ranked in the forked processes; and what their reaches saw that may
    count among each offer's own k best, by the offer's index row (matching.tally): the offers need no reach.
    Between two results, this process takes a step of `meanwhile`."""
    tally = Tally(index.rows, work.state.k, index.engine.min_score)
    chunks = [needs[start : start + BATCH] for start in range(0, len(needs), BATCH)]
    if progress:
        progress("ranking offers for needs", 0, len(needs))

    def ranked() -> Iterator[tuple[str, list[str]]]:
        done = 0
        tasks = ((chunk, tally.floors) for chunk in chunks)  # each with the floors as they are when it is sent
        for chunk, (best, seen, by) in zip(chunks, work.map(_best_of_needs, tasks), strict=True):
            tally.add(seen, by)
            next(meanwhile, None)
            yield from zip(chunk, best, strict=True)
            done += len(chunk)
            if progress:
                progress("ranking offers for needs", done, len(needs))

    return shortlist.chosen_by_needs(ranked()), tally.of_each()


def _best_of_needs(state: _Ranking, task: tuple[Sequence[str], np.ndarray]) -> tuple[list[list[str]], Seen, np.ndarray]:
    needs, floors = task
    return shortlist.rank_needs(state.index, needs, state.k, floors)


# For a batch of offers: the offers, the needs that chose each, the pairs tallied for each, the digests of their
# stored matches, and the needs of the matches a party acted on (written with their sentences).
_Task = tuple[
    Sequence[str],
    Mapping[str, Sequence[str]],
    Mapping[str, Seen],
    Mapping[tuple[str, str], int | None],
    Mapping[str, set[str]],
]


class _Ranked(NamedTuple):
    """A batch of offers ranked: how many candidates are kept; the new ones, as rows and (on PostgreSQL, those no
    subscriber hears of) as COPY data written here (repository.ranked_copy), with how many that holds; the stored
    ones whose digest differs (perhaps changed); and the stored pairs no longer kept."""

    kept: int
    new: list[Fresh]
    copied: bytes
    copied_count: int
    differing: list[Fresh]
    gone: list[tuple[str, str]]


def _kept_of_offers(state: _Ranking, task: _Task) -> _Ranked:
    """These offers' kept candidates (shortlist.kept_needs, written by shortlist.written_apart), compared with the
    stored digests: only what differs crosses back to the parent (in a rebuild with little to change, nearly
    nothing)."""
    offers, chosen, seen, digests, acted = task
    index, k = state.index, state.k
    # The batch's ~15,000 candidates are written together and live until their rows are made: none is garbage, and
    # collections walking them as they accumulate cost ~12 us a pair (a fifth of the offers pass at 30k).
    with collector_paused():
        pairs = [
            (offer, need)
            for offer in offers
            for need in shortlist.kept_needs(index, offer, chosen[offer], k, seen[offer])
        ]
        fresh = _fresh_of(index, pairs, acted, state.version)
    keys = {(row[0], row[1]) for row in fresh}
    new = [row for row in fresh if (row[0], row[1]) not in digests]
    differing = [row for row in fresh if (row[0], row[1]) in digests and digests[row[0], row[1]] != row[2]]
    gone = [key for key in digests if key not in keys]
    if not state.copy:
        return _Ranked(len(fresh), new, b"", 0, differing, gone)
    # The COPY data is built here, in parallel, rather than by the parent, whose writing is what a rebuild from empty
    # waits for; and one string of bytes crosses the pipe faster than the rows (round 12).
    quiet = [row for row in new if row[0] not in state.subscribed and row[1] not in state.subscribed]
    heard = [row for row in new if row[0] in state.subscribed or row[1] in state.subscribed]
    return _Ranked(len(fresh), heard, repository.ranked_copy(quiet, utcnow())[1], len(quiet), differing, gone)


def _fresh(candidate: Candidate, version: str) -> Fresh:
    encoded = adapter.encoded_values(candidate, version)
    return (candidate.offer_id, candidate.need_id, repository.digest_of(encoded), *encoded)


def _fresh_of(
    index: Index, pairs: Sequence[tuple[str, str]], acted: Mapping[str, set[str]], version: str
) -> list[Fresh]:
    """_fresh of the candidates of these pairs (shortlist.written_apart): those without sentences made from their
    columns. The columns are garbage when this returns, which a caller pausing the collector wants: kept alive past
    the pause, they were walked by a full collection a batch (a quarter of the offers pass at 30k)."""
    plain, told = shortlist.written_apart(index, pairs, acted)
    encoded = adapter.encoded_written(plain, version)
    ids = zip(plain.offer_ids, plain.need_ids, strict=True)
    made = [
        (offer, need, repository.digest_of(values), *values) for (offer, need), values in zip(ids, encoded, strict=True)
    ]
    return made + [_fresh(candidate, version) for candidate in told]


def _values(fresh: Fresh) -> tuple[Key, dict[str, Any]]:
    return (uuid.UUID(fresh[0]), uuid.UUID(fresh[1])), repository.engine_values(fresh)


def _acted_on(stored: Stored) -> dict[str, set[str]]:
    """For each offer, the needs of its stored matches a party acted on (written with their sentences)."""
    acted: dict[str, set[str]] = {}
    for (offer, need), row in stored.items():
        if not row.untouched:
            acted.setdefault(offer, set()).add(need)
    return acted


def _stored_of(session: Session, offers: Sequence[str]) -> Stored:
    rows = repository.stored_digests_of_offers(session, _uuids(offers))
    return {(row.offer_id, row.need_id): row for row in rows}


def _storing_profiles(session: Session, rows: Sequence[_Kept], profiles: Sequence[Profile]) -> Iterator[None]:
    """Stores the profiles in steps of PROFILES_STEP listings, one a `next()`."""
    stored = repository.stored_concept_digests(session)
    for start in range(0, len(rows), PROFILES_STEP):
        end = start + PROFILES_STEP
        _store_profiles(session, rows[start:end], profiles[start:end], stored)
        yield


def _store_profiles(
    session: Session,
    rows: Sequence[_Kept],
    profiles: Sequence[Profile],
    stored: dict[str, int],
) -> None:
    """Writes what changed from the `stored` concepts (repository.stored_concept_digests, whose entries for these
    listings it takes out): the concepts of listings whose profile differs, the suggested codes that differ."""
    changed: list[uuid.UUID] = []
    concept_rows: list[tuple[Any, ...]] = []
    suggestions: list[dict[str, Any]] = []
    for row, profile in zip(rows, profiles, strict=True):
        values = adapter.concept_rows(row.id, profile)
        if stored.pop(str(row.id), 0) != repository.concepts_digest(value[1:] for value in values):
            changed.append(row.id)
            concept_rows.extend(values)
        suggested = (None, None) if row.ewc else (profile.suggested_ewc, profile.suggested_confidence)
        if suggested != (row.suggested_ewc, row.suggested_ewc_confidence):
            suggestions.append(
                {"listing_id": row.id, "suggested_ewc": suggested[0], "suggested_ewc_confidence": suggested[1]}
            )
    repository.replace_concepts_of(session, changed, concept_rows)
    repository.update_suggestions(session, suggestions)


def _merge(
    session: Session,
    stored: Stored,
    ranked: _Ranked,
    owners: Mapping[uuid.UUID, uuid.UUID],
    subscribers: set[uuid.UUID],
    *,
    frozen: bool = False,
) -> tuple[int, int, int]:
    """Makes the stored matches of a batch of offers equal to their fresh candidates; returns (added, changed,
    removed). A stored pair whose digest differs is compared in full: only a change of value is a change. `frozen`:
    the new rows are copied with FREEZE (repository.copy_ranked)."""
    now = utcnow()
    compared = [(uuid.UUID(stored[row[0], row[1]].id), _values(row)[1]) for row in ranked.differing]
    fields = repository.stored_engine_fields(session, [match_id for match_id, _ in compared])
    updates: list[dict[str, Any]] = []
    rewritten: list[dict[str, Any]] = []
    for match_id, values in compared:
        if _changed(fields[match_id], values):
            updates.append(values | {"match_id": match_id, "now": now})
        else:
            rewritten.append(values | {"match_id": match_id})
    stale = [uuid.UUID(match.id) for key in ranked.gone if (match := stored[key]).untouched]
    repository.delete_matches(session, stale)
    repository.update_matches(session, updates)
    repository.reencode_matches(session, rewritten)
    repository.copy_ranked(session, ranked.copied, frozen=frozen)
    ids = repository.insert_ranked_matches(session, ranked.new, now)
    for new_id, row in zip(ids, ranked.new, strict=True):
        key, values = _values(row)
        _announce(
            session, values | {"id": uuid.UUID(new_id), "offer_id": key[0], "need_id": key[1]}, owners, subscribers
        )
    return len(ranked.new) + ranked.copied_count, len(updates), len(stale)


def _sync(
    session: Session,
    existing: dict[Key, Match],
    candidates: Iterable[Candidate],
    version: str,
    owners: Mapping[uuid.UUID, uuid.UUID],
) -> tuple[int, int, int]:
    """Makes one listing's stored rows equal to its candidates; a pair that stays keeps its id and creation time.
    Each new pair is announced to both owners' match.created subscriptions (in this transaction's outbox)."""
    changed = 0
    seen = set()
    new_rows: list[dict[str, Any]] = []
    now = utcnow()
    for candidate in candidates:
        key = _key(candidate)
        seen.add(key)
        values = adapter.match_values(candidate, version)
        if key in existing:
            changed += adapter.apply(existing[key], values)
        else:
            new_rows.append(_new_match(key, values, now))
    # A pair the engine no longer proposes goes, unless a party already acted on it: that history stays.
    stale = [match for key, match in existing.items() if key not in seen and _untouched(match)]
    for match in stale:
        session.delete(match)
    session.flush()
    repository.insert_matches(session, new_rows)
    subscribers = repository.match_created_subscribers(session) if new_rows else set()
    for row in new_rows:
        _announce(session, row, owners, subscribers)
    return len(new_rows), changed, len(stale)


def _new_match(key: Key, values: dict[str, Any], now: Any) -> dict[str, Any]:
    """Every column of a new match row (bulk inserts bypass the ORM's defaults only where the values are given)."""
    pair = {"id": uuid.uuid4(), "offer_id": key[0], "need_id": key[1]}
    return values | pair | repository.NEW_MATCH_STATE | {"created_at": now, "updated_at": now}


def _untouched(match: Any) -> bool:
    return bool(match.status == "proposed" and match.offer_state == match.need_state == "proposed")


def _changed(stored: Any, values: Mapping[str, Any]) -> bool:
    """Whether the stored engine fields hold other values than fresh ones. JSON fields come back as the text stored;
    text written another way (json.dumps, before orjson) with the same values is not a change."""
    for field in repository.ENGINE_FIELDS:
        old, fresh = getattr(stored, field), values[field]
        if field not in repository.JSON_FIELDS:
            if old != fresh:
                return True
        elif old != (fresh := repository.json_text(fresh)) and json_loads(old) != json_loads(fresh):
            return True
    return False


def _announce(
    session: Session, row: Mapping[str, Any], owners: Mapping[uuid.UUID, uuid.UUID], subscribers: set[uuid.UUID]
) -> None:
    for own, other in ((row["offer_id"], row["need_id"]), (row["need_id"], row["offer_id"])):
        if owners[own] not in subscribers:
            continue
        payload = {
            "match_id": row["id"],
            "listing_id": own,
            "counterpart_listing_id": other,
            "score": row["score"],
            "rule": row["rule"],
        }
        webhooks.emit(session, "match.created", owners[own], payload, score=row["score"])


def _uuids(ids: Iterable[str]) -> list[uuid.UUID]:
    return [uuid.UUID(i) for i in ids]
