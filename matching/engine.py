"""The engine: enrich, block, compare, score, explain and estimate impact, for plain listing records.

engine = Engine.from_seed_data(Path("seed_data")).fit()
index = engine.index(listings)
index.candidates("listing-id", k=10)
"""

import hashlib
import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Self

import numpy as np

from matching import blocking, columns, impact, ranking
from matching.blocked import ProfileTable
from matching.comparisons import Outcome, Pair
from matching.enrich import Enricher
from matching.knowledge import Knowledge, Route
from matching.records import Candidate, Listing, Profile
from matching.rounding import rounded
from matching.scoring import BOUND_SLACK, RuleScorer
from matching.tally import Seen
from matching.taxonomy import EwcEntry, Suggestion, read_ewc_catalogue

ENGINE_VERSION = "1.0"


class Engine:
    def __init__(
        self,
        knowledge: Knowledge,
        catalogue: Sequence[EwcEntry],
        *,
        min_score: float = 0.3,
        scorer: RuleScorer | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.catalogue = catalogue
        self.min_score = min_score
        self.scorer = scorer or RuleScorer()

    @classmethod
    def from_seed_data(cls, seed_dir: Path, *, min_score: float = 0.3) -> Self:
        knowledge = Knowledge.load(seed_dir / "knowledge")
        return cls(knowledge, read_ewc_catalogue(seed_dir / "taxonomy" / "ewc"), min_score=min_score)

    def fit(self) -> Self:
        self.enricher_ = Enricher(self.knowledge, self.catalogue).fit()
        digest = hashlib.sha256(repr(sorted(self.knowledge.routes)).encode()).hexdigest()[:8]
        self.version_ = f"{ENGINE_VERSION}+{digest}"
        return self

    def suggest(self, text: str, k: int = 5) -> list[Suggestion]:
        return self.enricher_.suggester_.suggest(text, k)

    def profiles(self, listings: Sequence[Listing]) -> list[Profile]:
        return self.enricher_.profiles(listings)

    def pair(self, offer: Profile, need: Profile, *, sentences: bool = True) -> Candidate | None:
        """The candidate for one offer and one need, or None when blocking or a hard constraint rules it out."""
        scored = self.score(offer, need)
        return None if scored is None else self.candidate(scored, sentences=sentences)

    def pairs(
        self, pairs: Sequence[tuple[Profile, Profile]], table: ProfileTable | None = None
    ) -> list[Candidate | None]:
        """[self.pair(offer, need, sentences=False) for offer, need in pairs], with blocking and the arithmetic after
        the comparisons done for all pairs at once (matching.columns): the way to write many candidates. `table`:
        what blocking reads of the pairs' profiles (Index.profile_table), else made for the call."""
        return columns.candidates(self, pairs, table)

    def written(self, pairs: Sequence[tuple[Profile, Profile]], table: ProfileTable | None = None) -> columns.Written:
        """The candidates pairs() makes, as columns, without a Candidate of each: the way to store many."""
        return columns.written(self, pairs, table)

    def score(self, offer: Profile, need: Profile) -> "Scored | None":
        """What pair() decides, without writing the sentences and the impact estimate: enough to rank the pair."""
        pair = self.blocked(offer, need)
        if pair is None:
            return None
        outcomes = self.scorer.outcomes(pair)
        if outcomes is None:
            return None
        parts = self.scorer.parts_of(outcomes)
        score = self.scorer.score_of(parts)
        if score < self.min_score:
            return None
        return Scored(offer.listing.id, need.listing.id, score, pair, outcomes, parts)

    def blocked(self, offer: Profile, need: Profile) -> Pair | None:
        """The pair as blocking sees it (its shared concepts, route, distance and distance limit), or None when a
        hard filter rules it out before any comparison."""
        if not blocking.compatible(offer, need):
            return None
        shared = blocking.shared_concepts(offer, need)
        if not shared:
            return None
        route = self._route(shared)
        distance = blocking.distance_between(offer, need)
        limit_km = blocking.distance_limit_km(offer, need, route.max_distance_km if route else None)
        if distance is not None and distance > limit_km:
            return None  # what the distance comparison would say; the rest need not be computed
        return Pair(offer, need, shared, distance, limit_km, route, self.knowledge)

    def candidate(self, scored: "Scored", *, sentences: bool = True) -> Candidate:
        """The scored pair with its comparisons and impact written out; without `sentences`, the comparisons'
        reasons and the impact's basis are left empty (what a stored match keeps; it writes them when read)."""
        pair = scored.pair
        components = self.scorer.comparisons(scored.outcomes, scored.parts, sentences)
        rule = pair.shared[0].rule
        return Candidate(
            offer_id=scored.offer_id,
            need_id=scored.need_id,
            score=scored.score,
            rule=rule,
            components=components,
            distance_km=rounded(pair.distance_km, 2) if pair.distance_km is not None else None,
            impact=impact.estimate(
                pair.offer.listing, pair.need.listing, pair.route, pair.distance_km, self.knowledge, sentences=sentences
            ),
        )

    def candidates(self, profile: Profile, pool: Iterable[Profile]) -> list[Candidate]:
        """Every candidate of one listing among a pool of opposite listings, ranked."""
        found = []
        for other in pool:
            offer, need = (profile, other) if profile.listing.kind == "offer" else (other, profile)
            candidate = self.pair(offer, need)
            if candidate is not None:
                found.append(candidate)
        return ranking.rank(found, of=profile.listing.id)

    def best(self, profile: Profile, pool: Sequence[Profile], bounds: np.ndarray, k: int | None) -> list["Scored"]:
        """The ranked candidates of candidates(profile, pool)[:k], scored, for a pool whose score upper bounds are
        known (see ConceptIndex.reach): pairs that cannot reach min_score are not compared, and with k, comparing
        stops once no pair left can enter the k best."""
        found: list[Scored] = []
        floor = self.min_score
        for i in np.argsort(-bounds, kind="stable"):
            if bounds[i] < floor - BOUND_SLACK:
                break  # the bounds are sorted: no pair left can reach the floor
            other = pool[i]
            offer, need = (profile, other) if profile.listing.kind == "offer" else (other, profile)
            scored = self.score(offer, need)
            if scored is not None:
                found.append(scored)
            if k is not None and len(found) > k:
                found = ranking.rank(found, of=profile.listing.id, limit=k)
                floor = max(self.min_score, found[-1].score)
        return ranking.rank(found, of=profile.listing.id, limit=k)

    def top(
        self,
        profile: Profile,
        pool: Sequence[Profile],
        bounds: np.ndarray,
        scores: np.ndarray,
        settled: np.ndarray,
        k: int,
        ids_at: Callable[[np.ndarray], list[str]] | None = None,
    ) -> list[tuple[str, float]]:
        """The counterpart ids and scores of best(profile, pool, bounds, k), given the scores the arrays settle
        (RuleScorer.scores): only unsettled pairs whose bound reaches the k-th best score are compared in Python.
        `ids_at`: the ids of the pool's listings at some of its positions, when the caller has them cheaper than
        through the profiles (a rebuild reads them for ~20 settled pairs of every listing)."""
        is_offer = profile.listing.kind == "offer"
        ranked = np.flatnonzero(settled & (scores >= self.min_score))
        if len(ranked) > k:  # the k best and every tie with the k-th: the order among them is decided by id below
            kth = np.partition(scores[ranked], len(ranked) - k)[len(ranked) - k]
            ranked = ranked[scores[ranked] >= kth]
        ids = ids_at(ranked) if ids_at else [pool[i].listing.id for i in ranked.tolist()]
        found = sorted(zip((-scores[ranked]).tolist(), ids, strict=True))[:k]
        floor = -found[-1][0] if len(found) == k else self.min_score
        unsettled = np.flatnonzero(~settled & (bounds >= self.min_score - BOUND_SLACK))
        for i in unsettled[np.argsort(-bounds[unsettled], kind="stable")].tolist():
            if bounds[i] < floor - BOUND_SLACK:
                break
            other = pool[i]
            scored = self.score(profile, other) if is_offer else self.score(other, profile)
            if scored is not None:
                found = sorted([*found, (-scored.score, other.listing.id)])[:k]
                floor = -found[-1][0] if len(found) == k else self.min_score
        return [(other_id, -negative) for negative, other_id in found]

    def shortlist(self, scope: "Scope", k: int, floors: np.ndarray) -> list["Scored"]:
        """The k best candidates of the scope's listing, and every other candidate that may be worth storing for
        its counterpart: one whose score may reach the counterpart's floor (aligned with the scope: the score that
        enters the counterpart's own best; 0 when any does, NaN when not known). Ranked, scored only (Engine.candidate
        writes out those kept); pairs that can reach neither floor are not compared."""
        profile = scope.profile
        found: list[Scored] = []
        best_k: list[float] = []  # a min-heap of the k best scores so far: its least is the listing's own floor

        def compare(i: int) -> None:
            other = scope.pool[i]
            offer, need = (profile, other) if profile.listing.kind == "offer" else (other, profile)
            scored = self.score(offer, need)
            if scored is not None:
                found.append(scored)
                (heapq.heappush if len(best_k) < k else heapq.heappushpop)(best_k, scored.score)

        done = 0  # the scope is ordered by bound: its own k best are found from the front
        for bound in scope.bounds.tolist():
            if bound < (best_k[0] if len(best_k) == k else self.min_score) - BOUND_SLACK:
                break
            compare(done)
            done += 1
        for i in np.flatnonzero(~(scope.bounds[done:] < floors[done:] - BOUND_SLACK)).tolist():  # NaN: compared
            compare(done + i)
        return ranking.rank(found, of=profile.listing.id)

    def index(self, listings: Iterable[Listing]) -> "Index":
        return Index(self).add_all(listings)

    def _route(self, shared: list[blocking.Shared]) -> Route | None:
        """The route behind the pair: the strongest shared route; among equally strong ones, the one that lets
        the exchange travel farthest (the pair qualifies under it), then by id. `shared` is strongest first
        (blocking.shared_concepts): once a route rounds weaker than the first, none after it can tie."""
        best: tuple[float, float, str] | None = None
        chosen = None
        for s in shared:
            if s.concept.startswith("route:"):
                strength = rounded(s.strength, 4)
                if best is not None and -strength > best[0]:
                    break
                route = self.knowledge.routes[s.concept[6:]]
                key = (-strength, -(route.max_distance_km or 0.0), route.id)
                if best is None or key < best:
                    best, chosen = key, route
        return chosen


class Scored(NamedTuple):
    """A pair that passed every hard constraint, with its score: what ranking needs. Engine.candidate writes out
    the sentences and the impact for the pairs kept, a fraction of those compared. A named tuple: one is made for
    every pair compared."""

    offer_id: str
    need_id: str
    score: float
    pair: Pair
    outcomes: tuple[Outcome, ...]
    parts: tuple[float, ...]  # each comparison's share of the score (RuleScorer.parts_of)


@dataclass(frozen=True)
class Scope:
    """The listings of an index that may pair with one profile above the threshold, with the most each pair can
    score, highest first (see Index.scope), and the floor the index holds for each (NaN: not known)."""

    profile: Profile
    pool: Sequence[Profile]
    bounds: np.ndarray
    floors: np.ndarray
    rows: np.ndarray

    def ids(self, positions: Iterable[int] | None = None) -> list[str]:
        chosen = range(len(self.pool)) if positions is None else positions
        return [self.pool[i].listing.id for i in chosen]


class Index:
    """Listings held in memory with their profiles: add, update, remove, and candidates for any of them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.profiles: dict[str, Profile] = {}
        self._concepts = blocking.ConceptIndex(engine.knowledge.routes.values())
        self._table: ProfileTable | None = None

    def add_all(self, listings: Iterable[Listing]) -> Self:
        return self.add_profiles(self.engine.profiles(list(listings)))

    def add_profiles(self, profiles: Iterable[Profile]) -> Self:
        """Profiles computed here or elsewhere (for example stored in a database), added from south to north (those
        without a place first): the blocking index's postings then hold them in latitude order, from which a reach
        takes only the band its distance limits allow."""
        for profile in sorted(profiles, key=_latitude):
            self._put(profile)
        return self

    def add(self, listing: Listing) -> Profile:
        profile = self.engine.profiles([listing])[0]
        self._put(profile)
        return profile

    update = add

    def remove(self, listing_id: str) -> None:
        self.profiles.pop(listing_id, None)
        self._concepts.remove(listing_id)
        self._table = None

    def profile_table(self) -> ProfileTable:
        """What matching.blocked reads of every profile here (Engine.pairs, for many pairs of them), as arrays: made
        when first asked after a change."""
        if self._table is None:
            self._table = ProfileTable(self.profiles.values())
        return self._table

    def candidates(self, listing_id: str, k: int | None = None) -> list[Candidate]:
        """The listing's candidates, best first (the k best when k is given)."""
        return [self.engine.candidate(scored) for scored in self.ranked(listing_id, k)]

    def ranked(self, listing_id: str, k: int | None = None) -> list[Scored]:
        """candidates(), scored only: the order and the scores without the sentences."""
        profile = self.profiles[listing_id]
        reach = self._concepts.reach(profile)
        bounds = self.engine.scorer.upper_bounds(reach.known(), len(reach.ids))
        return self.engine.best(profile, self._pool_at(reach.rows), bounds, k)

    def top(self, listing_id: str, k: int) -> list[tuple[str, float]]:
        """[(counterpart id, score) of ranked(listing_id, k)], with most scores taken from the arrays: the way to
        rank many listings when the comparisons need not be written out (a rebuild's needs)."""
        return self.top_and_seen(listing_id, k, None)[0]

    def top_and_seen(self, listing_id: str, k: int, floors: np.ndarray | None) -> tuple[list[tuple[str, float]], Seen]:
        """top(listing_id, k), and the pairs of the reach that may count among their counterparts' k best, given
        each counterpart's floor by index row (matching.tally: a rebuild tallies them, so that the counterparts
        need no reach of their own). Without floors no pair is seen."""
        tops, seen, _ = self.tops_and_seen([listing_id], k, floors)
        return tops[0], seen

    def tops_and_seen(
        self, listing_ids: Sequence[str], k: int, floors: np.ndarray | None
    ) -> tuple[list[list[tuple[str, float]]], Seen, np.ndarray]:
        """top_and_seen for several listings of one kind: their tops, the pairs seen joined, and aligned with those
        the index row of the listing whose reach saw each. The reaches are built and scored as one set of arrays
        (ConceptIndex.reaches): for a reach of a few hundred listings, numpy's cost per call, not its arithmetic,
        was most of the work (elementwise, so each pair's numbers are the same)."""
        profiles = [self.profiles[listing_id] for listing_id in listing_ids]
        if not profiles:
            return [], Seen.none(), np.empty(0, np.int64)
        reaches = self._concepts.reaches(profiles, exact=True)
        known, exact = reaches.known(), reaches.exact
        bounds = self.engine.scorer.upper_bounds(known, len(exact))
        scores, settled = self.engine.scorer.scores(known, exact)
        tops = []
        for profile, start, end in zip(profiles, [0, *reaches.ends[:-1]], reaches.ends, strict=True):
            rows, at = reaches.rows[start:end], slice(start, end)
            pool, ids_at = self._pool_at(rows), self._ids_at(rows)
            tops.append(self.engine.top(profile, pool, bounds[at], scores[at], settled[at], k, ids_at))
        if floors is None:
            return tops, Seen.none(), np.empty(0, np.int64)
        seen = Seen(reaches.rows, np.where(settled, scores, bounds), settled)
        by = np.repeat(self._concepts.rows_of(listing_ids), np.diff(reaches.ends, prepend=0))
        keep = seen.reaching(floors)
        return tops, seen.where(keep), by[blocking.kept(keep)]

    def top_of_tallied(self, listing_id: str, tallied: Seen, k: int) -> list[tuple[str, float]]:
        """top(listing_id, k) from the pairs a Tally gathered for the listing, without a reach: only unsettled pairs
        that may enter its k best are compared in Python."""
        profile, rows = self.profiles[listing_id], tallied.rows
        pool, ids_at = self._pool_at(rows), self._ids_at(rows)
        return self.engine.top(profile, pool, tallied.values, tallied.values, tallied.settled, k, ids_at)

    def row_of(self, listing_id: str) -> int:
        """The listing's row in the index's arrays (what Seen.rows hold)."""
        return int(self._concepts.rows_of([listing_id])[0])

    def id_of(self, row: int) -> str:
        return self._concepts.id_of(row)

    @property
    def rows(self) -> int:
        """How many rows the index's arrays have (rows are reused after removals, so more than the listings)."""
        return self._concepts.rows

    def scope(self, profile: Profile) -> Scope:
        """The listings that may pair with `profile` above min_score, by their score bound, highest first. The
        profile need not be in the index (a listing being written is scoped before the index holds it)."""
        reach = self._concepts.reach(profile)
        bounds = self.engine.scorer.upper_bounds(reach.known(), len(reach.ids))
        order = np.argsort(-bounds, kind="stable")
        order = order[bounds[order] >= self.engine.min_score - BOUND_SLACK]
        rows = reach.rows[order]
        pool = blocking.LazySequence(lambda i: self.profiles[self._concepts.id_of(int(rows[i]))], len(rows))
        return Scope(profile, pool, bounds[order], reach.floor[order], rows)

    def set_floor(self, listing_id: str, floor: float) -> None:
        """The least score a new pair must beat to matter to this listing (NaN: not known), as the caller keeps
        it (for Engine.shortlist); it is forgotten when the listing is added again."""
        self._concepts.set_floor(listing_id, floor)

    def positions(self, scope: Scope, listing_ids: Iterable[str]) -> np.ndarray:
        """Where these listings stand in the scope."""
        return np.flatnonzero(np.isin(scope.rows, self._concepts.rows_of(listing_ids)))

    def _pool_at(self, rows: np.ndarray) -> Sequence[Profile]:
        """The profiles of the listings at these index rows, read when asked for."""
        return blocking.LazySequence(lambda i: self.profiles[self.id_of(int(rows[i]))], len(rows))

    def _ids_at(self, rows: np.ndarray) -> Callable[[np.ndarray], list[str]]:
        """For Engine.top: the ids of the listings at these index `rows`, at some of their positions."""
        return lambda at: [self._concepts.id_of(row) for row in rows[at].tolist()]

    def _put(self, profile: Profile) -> None:
        self.profiles[profile.listing.id] = profile
        self._concepts.add(profile)
        self._table = None


def _latitude(profile: Profile) -> float:
    return latitude_order(profile.listing.lat, profile.listing.lon)


def latitude_order(lat: float | None, lon: float | None) -> float:
    """Where a listing at this place goes in Index.add_profiles' order: by latitude, those without a place first."""
    return lat if lat is not None and lon is not None else -math.inf
