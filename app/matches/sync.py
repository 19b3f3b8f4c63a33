"""Keeps the stored matches equal to what the engine computes: on every listing write, and in a full rebuild."""

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.listings.models import Listing
from app.matches import adapter, repository
from app.matches.engine import get_engine
from app.matches.models import Match
from app.webhooks import service as webhooks
from matching.engine import Index
from matching.records import Candidate, Profile

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RebuildReport:
    listings: int
    matches: int
    added: int
    changed: int
    removed: int


def is_eligible(listing: Listing) -> bool:
    return listing.status == "active" and listing.visibility != "private"


def refresh(session: Session, listing: Listing) -> None:
    """Recomputes one listing's profile and every match it takes part in, inside the caller's transaction."""
    engine = get_engine()
    repository.lock_matches(session)
    profile = engine.profiles([adapter.record(listing)])[0]
    _store_profile(session, listing, profile)
    if not is_eligible(listing):
        repository.delete_matches_of(session, listing.id)
        return
    others = repository.sharing_concepts(session, listing, list(profile.concepts))
    stored = repository.concepts_of(session, [other.id for other in others])
    pool = [adapter.profile(other, stored[other.id]) for other in others]
    owners = {x.id: x.organization_id for x in (listing, *others)}
    candidates = engine.candidates(profile, pool)
    _sync(session, repository.matches_of(session, listing.id), candidates, engine.version_, owners)


def forget(session: Session, listing: Listing) -> None:
    """Before a listing is deleted: take the lock, so no concurrent refresh pairs with it meanwhile."""
    repository.lock_matches(session)
    repository.delete_matches_of(session, listing.id)


def refresh_organization(session: Session, listings_of_owner: Iterable[Listing]) -> None:
    for listing in listings_of_owner:
        refresh(session, listing)


def rebuild(session: Session, progress: Progress | None = None) -> RebuildReport:
    """Recomputes every profile and every match in one transaction: a failure leaves the previous matches intact."""
    engine = get_engine()
    repository.lock_matches(session)
    rows = repository.all_listings(session)
    profiles = _profiles_in_batches(rows, progress)
    for row, profile in zip(rows, profiles, strict=True):
        _store_profile(session, row, profile)
    index = Index(engine).add_profiles(p for row, p in zip(rows, profiles, strict=True) if is_eligible(row))
    offers = [p for row, p in zip(rows, profiles, strict=True) if is_eligible(row) and row.kind == "offer"]
    candidates: list[Candidate] = []
    for done, profile in enumerate(offers, start=1):
        candidates.extend(index.candidates(profile.listing.id))
        if progress and (done % 200 == 0 or done == len(offers)):
            progress("matching offers", done, len(offers))
    existing = repository.all_matches(session)
    owners = {row.id: row.organization_id for row in rows}
    added, changed, removed = _sync(session, existing, candidates, engine.version_, owners)
    return RebuildReport(len(rows), len(candidates), added, changed, removed)


def _profiles_in_batches(rows: Sequence[Listing], progress: Progress | None, size: int = 500) -> list[Profile]:
    engine = get_engine()
    profiles: list[Profile] = []
    for start in range(0, len(rows), size):
        profiles.extend(engine.profiles([adapter.record(row) for row in rows[start : start + size]]))
        if progress:
            progress("enriching listings", len(profiles), len(rows))
    return profiles


def _store_profile(session: Session, listing: Listing, profile: Profile) -> None:
    listing.suggested_ewc = None if listing.ewc else profile.suggested_ewc
    listing.suggested_ewc_confidence = None if listing.ewc else profile.suggested_confidence
    repository.replace_concepts(session, listing.id, adapter.concept_rows(profile))


def _sync(
    session: Session,
    existing: dict[tuple[uuid.UUID, uuid.UUID], Match],
    candidates: Iterable[Candidate],
    version: str,
    owners: Mapping[uuid.UUID, uuid.UUID],
) -> tuple[int, int, int]:
    """Makes the stored rows equal to the candidates; a pair that stays keeps its id and creation time.
    Each new pair is announced to both owners' match.created subscriptions (in this transaction's outbox)."""
    added = changed = 0
    seen = set()
    for candidate in candidates:
        key = (uuid.UUID(candidate.offer_id), uuid.UUID(candidate.need_id))
        seen.add(key)
        values = adapter.match_values(candidate, version)
        if key in existing:
            changed += adapter.apply(existing[key], values)
        else:
            match = Match(id=uuid.uuid4(), offer_id=key[0], need_id=key[1], **values)
            session.add(match)
            _announce(session, match, owners)
            added += 1
    # A pair the engine no longer proposes goes, unless a party already acted on it: that history stays.
    stale = [
        match
        for key, match in existing.items()
        if key not in seen and match.status == "proposed" and match.offer_state == match.need_state == "proposed"
    ]
    for match in stale:
        session.delete(match)
    session.flush()
    return added, changed, len(stale)


def _announce(session: Session, match: Match, owners: Mapping[uuid.UUID, uuid.UUID]) -> None:
    for own, other in ((match.offer_id, match.need_id), (match.need_id, match.offer_id)):
        payload = {
            "match_id": match.id,
            "listing_id": own,
            "counterpart_listing_id": other,
            "score": match.score,
            "rule": match.rule,
        }
        webhooks.emit(session, "match.created", owners[own], payload, score=match.score)
