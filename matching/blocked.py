"""Engine.blocked for many pairs at once: what blocking finds of each (its strongest shared concept, the dot product
of the shared weights, the route, the distance and its limit), with the shared concepts met as arrays.

A rebuild writes ~1.44 M kept pairs at 100k listings. Pair by pair, meeting two profiles' concepts (a set
intersection, a tuple a shared concept, a sort) and picking the route was the largest piece of writing one. Here
the concepts of every pair's two sides become (pair, concept) keys, the keys found on both sides are the shared
concepts, and one sort puts them in blocking.shared_concepts' order (pair by pair, strongest first, ties by name):
each pair's first is its best, its weight products are summed in that order, and Engine._route's pick is the first
of its routes by Engine._route's key. The arithmetic is the pair-by-pair code's, operation for operation: the same
doubles.
"""

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import compress
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from matching import blocking
from matching.knowledge import Route
from matching.quality import QUALITY_LIMITS, number
from matching.records import Listing, Profile
from matching.rounding import rounded_array

if TYPE_CHECKING:
    from matching.engine import Engine

__all__ = ["Blocked", "ProfileTable", "blocked", "blocked_slots", "holding"]


class Blocked(NamedTuple):
    """The facts of the pairs Engine.blocked lets through, aligned; `at`: where each stands among the pairs asked
    for. `dots`: the sum comparisons.text_measure makes of the shared concepts' weight products."""

    at: list[int]
    strengths: list[float]
    rules: list[str]
    dots: list[float]
    routes: list[Route | None]
    distances: list[float | None]
    limits: list[float]


def blocked(engine: "Engine", pairs: Sequence[tuple[Profile, Profile]], table: "ProfileTable | None" = None) -> Blocked:
    """For the pairs engine.blocked(offer, need) lets through, what it finds of them. `table`: one holding the
    pairs' profiles (Index.profile_table), else one is made of them."""
    return blocked_slots(engine, *holding(table, pairs))


def blocked_slots(engine: "Engine", table: "ProfileTable", offers: np.ndarray, needs: np.ndarray) -> Blocked:
    """blocked() of the pairs of the profiles in these slots of the table (holding)."""
    compatible = np.flatnonzero(table.compatible(offers, needs))
    shared = _Shared(table, offers[compatible], needs[compatible])
    first, counts = shared.firsts()
    which = compatible[shared.pair[first]]  # each pair sharing a concept, by its place among those given
    routes = _routes(engine, shared, first)
    kms, limits = table.distances_and_limits(offers[which].tolist(), needs[which].tolist(), routes)
    near = [km is None or km <= limit for km, limit in zip(kms, limits, strict=True)]  # Engine.blocked's last test
    columns = (
        which.tolist(),
        shared.strength[first].tolist(),
        _rules(shared.concept[first], shared.text[first], shared.activity[first]),
        _sums_in_order(shared.product, first, counts).tolist(),
        routes,
        kms,
        limits,
    )
    return Blocked(*(list(compress(column, near)) for column in columns))


class _Vocabulary:
    """Concept names as integers for the arrays (a process's vocabulary grows as names are met), with what blocking
    reads of each: its rank by name, its kind (_KINDS) and its kind's strength."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []
        self.rank = np.empty(0, dtype=np.int64)
        self.kind = np.empty(0, dtype=np.int8)
        self.strength = np.empty(0)

    def ids_of(self, names: list[str]) -> np.ndarray:
        ids = self.ids
        found = np.array([ids[name] if name in ids else self._added(name) for name in names], dtype=np.int64)
        if len(self.rank) < len(self.names):
            self.rank = np.empty(len(self.names), dtype=np.int64)
            self.rank[np.argsort(np.array(self.names), kind="stable")] = np.arange(len(self.names))
            self.kind = np.array([_KINDS[name.split(":", 1)[0]] for name in self.names], dtype=np.int8)
            self.strength = np.array([blocking.strength_of(name) for name in self.names])
        return found

    def _added(self, name: str) -> int:
        blocking.strength_of(name)  # a kind blocking does not know fails here, as it does pair by pair
        self.ids[name] = len(self.names)
        self.names.append(name)
        return self.ids[name]


_KIND_NAMES = tuple(blocking.CONCEPT_STRENGTH)  # the kinds of concept blocking knows, numbered
_KINDS = {kind: number for number, kind in enumerate(_KIND_NAMES)}
_ROUTE = _KINDS["route"]
_VOCABULARY = _Vocabulary()


class ProfileTable:
    """What blocked() and matching.columns read of many profiles, read once: their concepts as flat arrays (a slice
    a profile) and what blocking and the comparisons read of their listings. An Index keeps one of all its profiles
    (Index.profile_table), so that a rebuild's process reads each profile once rather than once a batch: at 100k
    listings those reads, scattered over the heap, were most of blocking a batch."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        # Held, and found by id(): an id is not reused while the profile lives.
        self.profiles = list(profiles)
        self._slots = {id(profile): slot for slot, profile in enumerate(self.profiles)}
        evidence = [e for profile in self.profiles for e in profile.concepts.values()]
        self.concept = _VOCABULARY.ids_of([name for profile in self.profiles for name in profile.concepts])
        self.weight = np.array([e.weight for e in evidence])
        self.text = np.array([e.source == "text" for e in evidence], dtype=bool)
        self.activity = np.array([e.source == "activity" for e in evidence], dtype=bool)
        self.counts = np.array([len(profile.concepts) for profile in self.profiles], dtype=np.int64)
        self.starts = np.cumsum(self.counts) - self.counts
        # What blocking.compatible, distance_between and distance_limit_km read of each listing, read once here:
        # at 100k listings, reading them from the listings pair by pair was half of what blocking a batch cost.
        listings = [profile.listing for profile in self.profiles]
        codes: dict[str, int] = {}  # resource types and owners as numbers, for comparing them as arrays
        self._sides = np.array(
            [
                (
                    listing.kind == "offer",
                    listing.kind == "need",
                    codes.setdefault(f"resource:{listing.resource_type}", len(codes)),
                    codes.setdefault(f"owner:{listing.organization_id}", len(codes)),
                )
                for listing in listings
            ],
            dtype=np.int64,
        ).reshape(-1, 4)
        # Latitude and longitude, and the latitude's radians and cosine (haversine_km's p and cos(p)), or None.
        self._places = [None if x.lat is None or x.lon is None else _place(x.lat, x.lon) for x in listings]
        self._stated = [listing.max_distance_km for listing in listings]
        self._typical: dict[int, float] = {}  # blocking.typical_distance_km, by offer slot, once asked
        # What the timing, quality and legal comparisons read of each listing, as a number shared by the listings that
        # read alike: matching.columns makes each of them once per combination in a batch, not once per pair.
        self.timing_key = _numbered([(x.available_from, x.available_until) for x in listings])
        self.quality_key = _numbered([_quality_reading(x.properties) for x in listings])
        self.legal_key = _numbered([_legal_reading(x) for x in listings])
        self.sum_of_squares = np.array([profile.sum_of_squares for profile in self.profiles])
        rates = [listing.annual for listing in listings]
        self.annual = np.array([rate[0] if rate else np.nan for rate in rates])  # Listing.annual: rate, unit's code
        self.unit = np.array([blocking.UNIT_CODES[rate[1]] if rate else -1 for rate in rates], dtype=np.int64)

    def compatible(self, offers: np.ndarray, needs: np.ndarray) -> np.ndarray:
        """blocking.compatible of the profiles in these slots, pair by pair."""
        a, b = self._sides[offers], self._sides[needs]
        found: np.ndarray = (a[:, 0] == 1) & (b[:, 1] == 1) & (a[:, 2] == b[:, 2]) & (a[:, 3] != b[:, 3])
        return found

    def distances_and_limits(
        self, offers: Sequence[int], needs: Sequence[int], routes: Sequence[Route | None]
    ) -> tuple[list[float | None], list[float]]:
        """blocking.distance_between and distance_limit_km of the profiles in these slots, pair by pair, given each
        pair's route. The distance is haversine_km's arithmetic, step by step, with each place's radians and cosine
        of latitude made once (math's, as haversine_km makes them): the same floats, in half the time a pair."""
        places, stated, typical = self._places, self._stated, self._typical_km
        sin, asin, sqrt, radians, diameter = math.sin, math.asin, math.sqrt, math.radians, 2 * blocking.EARTH_RADIUS_KM
        kms: list[float | None] = []
        limits: list[float] = []
        for offer, need, route in zip(offers, needs, routes, strict=True):
            a, b = places[offer], places[need]
            if a is None or b is None:
                kms.append(None)
            else:
                h = sin((b[2] - a[2]) / 2) ** 2 + a[3] * b[3] * sin(radians(b[1] - a[1]) / 2) ** 2
                kms.append(diameter * asin(sqrt(min(1.0, h))))
            route_km = route.max_distance_km if route else None
            limits.append(blocking.set_limit_km(stated[offer], stated[need], route_km) or typical(offer))
        return kms, limits

    def _typical_km(self, offer: int) -> float:
        found = self._typical.get(offer)
        if found is None:
            found = self._typical[offer] = blocking.typical_distance_km(self.profiles[offer])
        return found

    def slots_of(self, pairs: Sequence[tuple[Profile, Profile]]) -> tuple[np.ndarray, np.ndarray]:
        """The slots of the pairs' offers and of their needs; KeyError when the table lacks one of them."""
        slots = self._slots
        offers = np.array([slots[id(offer)] for offer, _ in pairs], dtype=np.int64)
        return offers, np.array([slots[id(need)] for _, need in pairs], dtype=np.int64)


def _place(lat: float, lon: float) -> tuple[float, float, float, float]:
    radians = math.radians(lat)
    return lat, lon, radians, math.cos(radians)


def _numbered(readings: list[Hashable]) -> np.ndarray:
    """A number for each reading, the same for equal readings."""
    numbers: dict[Hashable, int] = {}
    return np.array([numbers.setdefault(reading, len(numbers)) for reading in readings], dtype=np.int64)


def _quality_reading(properties: Mapping[str, Any]) -> tuple[float | None, ...]:
    """What comparisons.quality reads of a listing's properties, as a need (its limits) and as an offer."""
    if not properties:  # most listings: nothing stated
        return _NOTHING_STATED
    limits = tuple(number(properties[key]) if key in properties else None for key in QUALITY_LIMITS)
    return limits + tuple(number(properties.get(offer_key)) for offer_key, *_ in QUALITY_LIMITS.values())


_NOTHING_STATED = (None,) * (2 * len(QUALITY_LIMITS))


def _legal_reading(listing: Listing) -> tuple[Any, ...]:
    """What comparisons.legal reads of a listing, as an offer and as a need."""
    accepts = bool(listing.properties.get("accepts_hazardous"))
    return listing.hazardous, accepts, listing.legal_status, frozenset(listing.recovery_operations)


def holding(
    table: ProfileTable | None, pairs: Sequence[tuple[Profile, Profile]]
) -> tuple[ProfileTable, np.ndarray, np.ndarray]:
    """The table given when it holds every profile of the pairs, else one made of them; and their slots there."""
    if table is not None:
        try:
            return table, *table.slots_of(pairs)
        except KeyError:
            pass
    table = ProfileTable({id(profile): profile for pair in pairs for profile in pair}.values())
    return table, *table.slots_of(pairs)


class _Shared:
    """The shared concepts of many pairs, one entry each, in blocking.shared_concepts' order: pair by pair
    (`pair`: its place among the pairs given), strongest first, ties by name. Per entry: the concept, its strength,
    the product of the two weights, whether either side found it in text and whether the need's evidence is its
    activity (what Shared.rule reads)."""

    def __init__(self, table: ProfileTable, offers: np.ndarray, needs: np.ndarray) -> None:
        offer_pair, offer_entry = _entries(offers, table.starts, table.counts)
        need_pair, need_entry = _entries(needs, table.starts, table.counts)
        # The two sides' (pair, concept) keys; each side's keys are distinct (a profile names a concept once).
        concept, size = table.concept, len(_VOCABULARY.names)
        offer_key, need_key = offer_pair * size + concept[offer_entry], need_pair * size + concept[need_entry]
        by_key = np.argsort(need_key)
        need_sorted = need_key[by_key]
        at = np.minimum(np.searchsorted(need_sorted, offer_key), max(len(need_key) - 1, 0))
        both = np.flatnonzero(need_sorted[at] == offer_key) if len(need_key) else np.empty(0, dtype=np.int64)
        ours, theirs = offer_entry[both], need_entry[by_key[at[both]]]
        pair, shared = offer_pair[both], concept[ours]
        product = table.weight[ours] * table.weight[theirs]
        strength = product * _VOCABULARY.strength[shared]  # a.weight * b.weight * strength, as shared_concepts
        order = np.lexsort((_VOCABULARY.rank[shared], -strength, pair))
        self.pair, self.concept, self.strength, self.product = (
            pair[order],
            shared[order],
            strength[order],
            product[order],
        )
        self.text = (table.text[ours] | table.text[theirs])[order]
        self.activity = table.activity[theirs][order]

    def firsts(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each pair's entries start, and how many it has (pairs sharing nothing have none)."""
        first = np.flatnonzero(np.diff(self.pair, prepend=-1))
        return first, np.diff(first, append=len(self.pair))


def _entries(slot: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For profiles given by slot, one per pair: each of their concepts' pair and entry in the flat arrays."""
    sizes = counts[slot]
    pair = np.repeat(np.arange(len(slot)), sizes)
    within = np.arange(len(pair)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return pair, starts[slot][pair] + within


def _sums_in_order(values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each group's values summed left to right, as Python's sum() adds them (np.add.reduceat may add in pairs)."""
    sums = np.zeros(len(first))
    for j in range(int(counts.max(initial=0))):
        has = blocking.kept(counts > j)
        sums[has] += values[first[has] + j]
    return sums


def _rules(concepts: np.ndarray, text: np.ndarray, activity: np.ndarray) -> list[str]:
    """Shared.rule of each best shared concept."""
    kinds = _VOCABULARY.kind[concepts].tolist()
    return [_RULES[key] for key in zip(kinds, text.tolist(), activity.tolist(), strict=True)]


# blocking.rule_of for every (kind, from text, by activity).
_RULES = {
    (kind, from_text, by_activity): blocking.rule_of(_KIND_NAMES[kind], from_text, by_activity)
    for kind in range(len(_KIND_NAMES))
    for from_text in (False, True)
    for by_activity in (False, True)
}


def _routes(engine: "Engine", shared: _Shared, first: np.ndarray) -> list[Route | None]:
    """Engine._route of each pair: among its shared routes, the least (-rounded strength, -limit, id)."""
    found: list[Route | None] = [None] * len(first)
    at = np.flatnonzero(_VOCABULARY.kind[shared.concept] == _ROUTE)
    if not len(at):
        return found
    concepts = shared.concept[at]
    routes = {c: engine.knowledge.routes[_VOCABULARY.names[c][6:]] for c in set(concepts.tolist())}
    km = np.array([routes[c].max_distance_km or 0.0 for c in concepts.tolist()])
    pair = shared.pair[at]
    order = np.lexsort((_VOCABULARY.rank[concepts], -km, -rounded_array(shared.strength[at], 4), pair))
    chosen = order[np.flatnonzero(np.diff(pair[order], prepend=-1))]
    # A pair's place among `first` (the pairs sharing anything, in order) from its place among the pairs given.
    place = np.searchsorted(shared.pair[first], pair[chosen])
    for p, c in zip(place.tolist(), concepts[chosen].tolist(), strict=True):
        found[p] = routes[c]
    return found
