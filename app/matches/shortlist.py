"""Which candidates are stored as matches: every listing's K best, from either side.

A pair is stored when the need is among the offer's K best candidates or the offer among the need's K best
(K = SYMBIOZA_MATCHES_PER_LISTING). Without the cap the stored matches grow with the square of the listings: in a
country-sized data set every offer has hundreds of candidates within reach, most of them weak.

Because every listing's K best are stored, a listing's stored matches, ranked, begin with its K best. A write can
therefore tell from stored rows alone whether a new pair enters a counterpart's K best and which pair it pushes out
(see sync.py); only when a pair leaves a counterpart's K best must that counterpart be matched again, since its
next best may not be stored.
"""

import uuid
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Generic, NamedTuple, TypeVar

import numpy as np

from matching.columns import Written
from matching.engine import Index
from matching.ranking import Pairing
from matching.records import Candidate
from matching.tally import Seen

P = TypeVar("P", bound=Pairing)


class Entry(NamedTuple):
    """One stored match as seen from one of its listings."""

    score: float
    other: uuid.UUID  # the counterpart listing
    match_id: uuid.UUID
    untouched: bool  # still proposed on both sides: the engine may remove it


def rank_key(score: float, other: uuid.UUID | str) -> tuple[float, str]:
    """The engine's order (matching.ranking): best score first, then the counterpart's id."""
    return (-score, str(other))


class Selection(NamedTuple, Generic[P]):
    kept: list[P]  # the listing's candidates to store
    displaced: list[tuple[uuid.UUID, Entry]]  # (counterpart, its match pushed out of the counterpart's K best)


def enters(score: float, listing_id: uuid.UUID | str, kth: Entry | None) -> bool:
    """Whether a pair of this score with `listing_id` stands among a counterpart's k best, given the counterpart's
    k-th best other match (None: it has fewer than k others)."""
    return kth is None or rank_key(score, listing_id) < rank_key(kth.score, kth.other)


def holds(score: float, listing_id: uuid.UUID | str, kth: Entry | None) -> bool:
    """Whether a stored pair of this score with `listing_id` stands among a counterpart's k best, given the
    counterpart's k-th best match (None: it has fewer than k)."""
    return kth is None or rank_key(score, listing_id) <= rank_key(kth.score, kth.other)


def select(listing_id: uuid.UUID, candidates: Sequence[P], kths: Mapping[uuid.UUID, Entry], k: int) -> Selection[P]:
    """The candidates of one listing to store, given each counterpart's k-th best stored match without this
    listing (absent when it has fewer than k such matches).

    `candidates` are the listing's candidates ranked for it, its k best first (Engine.shortlist). A candidate is
    kept when it is among the listing's k best or would enter the counterpart's k best; in that case the
    counterpart's k-th match moves to k+1 and is reported as displaced."""
    kept: list[P] = []
    displaced: list[tuple[uuid.UUID, Entry]] = []
    for position, candidate in enumerate(candidates):
        other = uuid.UUID(candidate.need_id if candidate.offer_id == str(listing_id) else candidate.offer_id)
        kth = kths.get(other)
        enters_theirs = enters(candidate.score, listing_id, kth)
        if position < k or enters_theirs:
            kept.append(candidate)
        if enters_theirs and kth is not None:
            displaced.append((other, kth))
    return Selection(kept, displaced)


# --- a full rebuild: the same selection, for every listing at once, from an in-memory index ---------------------


def rank_needs(
    index: Index, needs: Sequence[str], k: int, floors: np.ndarray
) -> tuple[list[list[str]], Seen, np.ndarray]:
    """The offers each need counts among its k best; the pairs the needs' reaches saw that may count among the
    offers' own k best given their floors (Tally.floors), joined, and aligned with them the index row of the need
    that saw each (what Tally.add takes)."""
    tops, seen, by = index.tops_and_seen(needs, k, floors)
    return [[offer for offer, _ in top] for top in tops], seen, by


def chosen_by_needs(best: Iterable[tuple[str, Sequence[str]]]) -> dict[str, list[str]]:
    """For each offer, the needs that count it among their k best, from each need's best_offers (in that order)."""
    chosen: dict[str, list[str]] = {}
    for need, offers in best:
        for offer in offers:
            chosen.setdefault(offer, []).append(need)
    return chosen


def kept_needs(index: Index, offer: str, chosen_by: Iterable[str], k: int, tallied: Seen | None = None) -> list[str]:
    """The needs of the offer's kept pairs: its k best, from the pairs the needs' reaches saw (`tallied`, see
    matching.tally) when given, else from the offer's own reach; then the needs that count it among theirs."""
    if tallied is None:
        best = [scored.need_id for scored in index.ranked(offer, k)]
    else:
        best = [need for need, _ in index.top_of_tallied(offer, tallied, k)]
    have = set(best)
    return best + [need for need in chosen_by if need not in have]


def written_apart(
    index: Index, pairs: Sequence[tuple[str, str]], explained: Mapping[str, Container[str]]
) -> tuple[Written, list[Candidate]]:
    """The candidates of these (offer, need) pairs that pass, in two parts: those of the pairs without sentences as
    columns (Engine.written, in the pairs' order: the way to write many), and those with sentences (the needs in
    explained[offer], written one by one) as candidates."""
    profiles, engine = index.profiles, index.engine
    plain = [(profiles[o], profiles[n]) for o, n in pairs if n not in explained.get(o, ())]
    told = [engine.pair(profiles[o], profiles[n], sentences=True) for o, n in pairs if n in explained.get(o, ())]
    return engine.written(plain, index.profile_table()), [candidate for candidate in told if candidate is not None]
