"""Candidate generation: which needs an offer could feed at all, and which rule found each pair.

A pair is a candidate when the two listings point at a common concept (see enrich.py) and pass the hard
filters: opposite kinds, the same resource type, different organizations, and a distance both accept.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, NamedTuple, TypeVar, overload

import numpy as np

from matching.knowledge import Route
from matching.quality import QUALITY_LIMITS, UNSTATED_QUALITY, number
from matching.records import BASE_UNIT, RECOVERY_OPERATIONS, RESOURCE_TYPES, Evidence, Listing, Profile

T = TypeVar("T")

# How much sharing each kind of concept says about material compatibility.
EARTH_RADIUS_KM = 6371.0
CONCEPT_STRENGTH = {"ewc": 1.0, "route": 0.95, "stream": 0.9, "sub": 0.55}

# Distances beyond which an exchange rarely pays, by what travels (DESIGN.md, "Distance economics").
STREAM_DISTANCE_KM = {
    "heat_low": 5.0,
    "heat_medium": 15.0,
    "heat_high": 10.0,
    "steam": 5.0,
    "biogas": 30.0,
    "co2": 150.0,
    "syngas": 10.0,
    "hydrogen": 50.0,
}
RESOURCE_DISTANCE_KM = {"energy": 20.0, "water": 30.0, "capacity": 100.0, "material": 300.0}
# EWC prefixes of materials worth carrying far (metals, solvents and oils, clean recyclates) or only near (bulk).
FAR_PREFIXES = (
    "12 01 0",
    "16 01 17",
    "16 01 18",
    "17 04",
    "19 10",
    "19 12 02",
    "19 12 03",
    "13",
    "14",
    "20 01 40",
)
FAR_KM = 1000.0
NEAR_PREFIXES = ("01", "17 01", "17 05", "17 09", "10 01", "10 02 02", "10 12", "10 13", "19 12 09", "20 02")
NEAR_KM = 200.0
ORGANIC_PREFIXES = ("02", "19 06", "19 08 05", "20 01 08", "20 02 01")
ORGANIC_KM = 100.0


class Shared(NamedTuple):
    """A concept both listings point at. A named tuple: several are made for every pair compared."""

    concept: str
    strength: float
    offer: Evidence
    need: Evidence

    @property
    def rule(self) -> str:
        from_text = "text" in (self.offer.source, self.need.source)
        return rule_of(self.concept.split(":", 1)[0], from_text, self.need.source == "activity")


def rule_of(kind: str, from_text: bool, by_activity: bool) -> str:
    """The rule that found a pair, from its strongest shared concept: the concept's kind, whether either side found
    it in text, and whether the need points at it by its activity."""
    if kind == "ewc":
        return "text_neighbour" if from_text else "same_code"
    if kind == "sub":
        return "code_proximity"
    if kind == "stream":
        return "same_stream"
    return "activity_route" if by_activity else "knowledge_route"


def shared_concepts(offer: Profile, need: Profile) -> list[Shared]:
    """Concepts both point at, strongest first (ties by name, so the order never depends on the input)."""
    ours, theirs = offer.concepts, need.concepts
    shared = []
    for c in ours.keys() & theirs.keys():
        a, b = ours[c], theirs[c]
        # tuple.__new__ rather than Shared(...), and the strength looked up before calling for it: a pair compared
        # makes ~3.4 of these.
        shared.append(_new(Shared, (c, a.weight * b.weight * (_STRENGTHS.get(c) or strength_of(c)), a, b)))
    if len(shared) > 1:
        shared.sort(key=_strongest_first)
    return shared


def strength_of(concept: str) -> float:
    """CONCEPT_STRENGTH of the concept's kind (the part before the colon), remembered per concept: it is read
    for every concept of every pair compared, and the concepts are a fixed vocabulary."""
    found = _STRENGTHS.get(concept)
    if found is None:
        found = _STRENGTHS[concept] = CONCEPT_STRENGTH[concept.split(":", 1)[0]]
    return found


_STRENGTHS: dict[str, float] = {}
_new = tuple.__new__


def _strongest_first(shared: Shared) -> tuple[float, str]:
    return (-shared.strength, shared.concept)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def distance_between(offer: Profile, need: Profile) -> float | None:
    a, b = offer.listing, need.listing
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return None
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


def typical_distance_km(offer: Profile) -> float:
    """How far this offer usually travels, when neither party says."""
    listing = offer.listing
    if listing.resource_type != "material":
        streams = [c[7:] for c in offer.concepts if c.startswith("stream:")]
        known = [STREAM_DISTANCE_KM[s] for s in streams if s in STREAM_DISTANCE_KM]
        return max(known) if known else RESOURCE_DISTANCE_KM[listing.resource_type]
    code = offer.ewc or ""
    if code.startswith(FAR_PREFIXES):
        return FAR_KM
    if code.startswith(ORGANIC_PREFIXES):
        return ORGANIC_KM
    if code.startswith(NEAR_PREFIXES):
        return NEAR_KM
    return RESOURCE_DISTANCE_KM["material"]


def distance_limit_km(offer: Profile, need: Profile, route_km: float | None) -> float:
    """The nearer of the limits the parties state; else the route's, else what such an offer usually travels."""
    set_by_someone = set_limit_km(offer.listing.max_distance_km, need.listing.max_distance_km, route_km)
    return set_by_someone or typical_distance_km(offer)


def set_limit_km(ours: float | None, theirs: float | None, route_km: float | None) -> float | None:
    """The nearer of the limits offer and need state (a limit of 0 is none), else the route's; None when nobody sets
    one."""
    if ours and theirs:
        return min(ours, theirs)
    return ours or theirs or route_km


def compatible(offer: Profile, need: Profile) -> bool:
    a, b = offer.listing, need.listing
    return (
        a.kind == "offer"
        and b.kind == "need"
        and a.resource_type == b.resource_type
        and a.organization_id != b.organization_id
    )


class _Posting:
    """The rows that point at one concept, with the weight and the latitude (radians; -inf: no location) of each,
    in growing arrays. Rows added in latitude order (a bulk load sorts them: Index.add_profiles) form a sorted
    prefix, its first `unlocated` rows without a place; a reach takes a latitude band of it with two binary searches.
    Rows added out of order go after the prefix, and every reach takes those. `far_km`: the farthest limit any row
    added may set (_far_km), never lowered."""

    __slots__ = ("far_km", "lats", "rows", "size", "sorted_size", "unlocated", "weights")

    def __init__(self) -> None:
        self.rows = np.empty(4, dtype=np.int64)
        self.weights = np.empty(4)
        self.lats = np.empty(4)
        self.size = self.sorted_size = self.unlocated = 0
        self.far_km = 0.0

    def append(self, row: int, weight: float, lat: float, far_km: float) -> None:
        if self.size == len(self.rows):
            self.rows = np.resize(self.rows, 2 * self.size)
            self.weights = np.resize(self.weights, 2 * self.size)
            self.lats = np.resize(self.lats, 2 * self.size)
        if self.sorted_size == self.size and (self.size == 0 or lat >= self.lats[self.size - 1]):
            self.sorted_size += 1
            self.unlocated += lat == -np.inf
        self.rows[self.size], self.weights[self.size], self.lats[self.size] = row, weight, lat
        self.size += 1
        self.far_km = max(self.far_km, far_km)

    def discard(self, row: int) -> None:
        found = np.flatnonzero(self.rows[: self.size] == row)
        if found.size:
            at, last = int(found[0]), self.size - 1
            for array in (self.rows, self.weights, self.lats):  # shifted, not swapped: the prefix stays sorted
                array[at:last] = array[at + 1 : self.size]
            self.size = last
            self.unlocated -= at < self.unlocated
            self.sorted_size -= at < self.sorted_size

    def taken(self, band: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
        """The rows and weights of the entries a reach takes: every one, or with a latitude `band` (low, high) those
        of the sorted prefix within it or without a place, and every one after the prefix."""
        if band is None:
            return self.rows[: self.size], self.weights[: self.size]
        low, high = np.searchsorted(self.lats[: self.sorted_size], band).tolist()
        low = max(low, self.unlocated)
        pieces = [
            (start, end)
            for start, end in ((0, self.unlocated), (low, high), (self.sorted_size, self.size))
            if end > start
        ]
        if len(pieces) == 1:
            start, end = pieces[0]
            return self.rows[start:end], self.weights[start:end]
        if not pieces:
            return self.rows[:0], self.weights[:0]
        return (
            np.concatenate([self.rows[start:end] for start, end in pieces]),
            np.concatenate([self.weights[start:end] for start, end in pieces]),
        )


# Per-row facts the hard filters and the score bounds read, as growing numpy columns (see _features).
_COLUMNS: dict[str, tuple[type, float | int | bool]] = {
    "kind": (np.int8, -1),
    "resource": (np.int8, -1),
    "owner": (np.int64, -1),
    "lat": (np.float64, 0.0),
    "lon": (np.float64, 0.0),
    "cos_lat": (np.float64, 1.0),  # math.cos of lat, as haversine_km takes it
    "located": (np.bool_, False),
    "stated_km": (np.float64, np.nan),
    "typical_km": (np.float64, np.nan),
    "route_km": (np.float64, 0.0),
    "annual": (np.float64, np.nan),
    "unit": (np.int16, -1),
    "start": (np.int64, 0),
    "end": (np.int64, 0),
    "hazardous": (np.bool_, False),
    "accepts_hazardous": (np.bool_, False),
    "norm2": (np.float64, 0.0),
    "limits": (np.int64, 0),  # the quality limits a need states (as numbers), one bit each in QUALITY_LIMITS order
    "odd_quality": (np.bool_, False),  # a quality number that is NaN: not told apart from none here
    "waste": (np.bool_, False),
    "ops": (np.int64, 0),  # the listing's recovery operations, one bit each
    "floor": (np.float64, np.nan),  # set from outside (set_floor): NaN until known
}
# What comparisons.quality reads: each limit a need may state, each property an offer may state (NaN: none).
OFFER_QUALITIES = tuple(dict.fromkeys(offer_key for offer_key, *_ in QUALITY_LIMITS.values()))
_COLUMNS |= {f"want:{key}": (np.float64, np.nan) for key in QUALITY_LIMITS}
_COLUMNS |= {f"have:{key}": (np.float64, np.nan) for key in OFFER_QUALITIES}
KINDS = ("offer", "need")
NO_START, NO_END = date.min.toordinal(), date.max.toordinal()
# The vectorised bounds may differ from the exact per-pair arithmetic in the last bits; nothing is dropped on a
# difference that small.
TOLERANCE = 1e-9
# How near a limit or a rounding edge a vectorised value must fall for the exact arithmetic, which differs from it in
# the last bits, to be able to land on the other side: such a pair is left to the exact comparisons.
EDGE = 1e-7


class LazySequence(Sequence[T]):
    """Items computed when read: a reach may hold tens of thousands of listings, of which top-k reads a few."""

    def __init__(self, get: Callable[[int], T], size: int) -> None:
        self._get, self._size = get, size

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            return [self._get(i) for i in range(*index.indices(self._size))]
        if not -self._size <= index < self._size:
            raise IndexError(index)
        return self._get(index % self._size)


class _RouteFacts(NamedTuple):
    km: float  # 0: the route sets no limit
    id: str
    ops: int  # recovery operations, one bit each

    @property
    def order(self) -> tuple[float, str]:
        """Engine._route's tie-break between routes of equal rounded strength: farthest limit, then lowest id."""
        return (-self.km, self.id)


# _Gathered's route ranks of a concept that is no route, and of a route the index does not know.
_NOT_A_ROUTE, _UNKNOWN_ROUTE = -1, -2

_OPERATION_BITS: dict[str, int] = {code: 1 << i for i, code in enumerate(RECOVERY_OPERATIONS)}


def operation_bits(codes: Iterable[str]) -> int:
    """Recovery operation codes as bits of one integer, so that sets of them meet with one array operation."""
    bits = 0
    for code in codes:
        if code not in _OPERATION_BITS:
            _OPERATION_BITS[code] = 1 << len(_OPERATION_BITS)  # a code outside Annex II: a bit of its own
        bits |= _OPERATION_BITS[code]
    return bits


def kept(mask: np.ndarray) -> np.ndarray:
    """The places where a boolean mask holds. Arrays taken at these places hold what the mask takes, in the same order,
    several times faster: numpy 2.4 took ~5 ns an element for a mask with no pattern (as a reach's are), and ~0.4 ns for
    integer places, plus ~0.8 ns an element to find them (25,000 elements, side measurement)."""
    return np.flatnonzero(mask)


def round4(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Python's round(x, 4) of each value, and where that may differ (the value lies within EDGE of halfway
    between two results, where numpy's x * 1e4 may round to the other side). Elsewhere both give the double
    nearest to k / 1e4 for the same k."""
    rounded, unsure = round4_steps(values)
    rounded /= 1e4  # in place: a rebuild rounds ~40 arrays per listing ranked
    return rounded, unsure


def round4_steps(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """round4 as the k of k / 1e4 (a float holding an integer; ordered as the rounded values are), and where it
    may differ from Python's."""
    scaled = values * 1e4
    steps = np.rint(scaled)
    near_half = 0.5 - np.abs(scaled - steps)  # the distance to the nearest integer is 0.5 exactly halfway
    tolerance = np.abs(scaled)  # in place from here
    np.maximum(tolerance, 1.0, out=tolerance)
    tolerance *= EDGE
    return steps, near_half < tolerance


class _Piece(NamedTuple):
    """What one posting gives a profile asked about (ConceptIndex._taken): its rows and their weights, and the
    profile's weight, the concept's strength and its route rank (_NOT_A_ROUTE when it is no route)."""

    rows: np.ndarray
    weights: np.ndarray
    weight: float
    strength: float
    rank: int


# How many gathered entries ConceptIndex.reaches puts in one set of arrays (see there).
_ENTRIES_AT_ONCE = 50_000


@dataclass
class _Gathered:
    """What _gather finds, per row found: the profile asked about that found it (its place among those asked), the
    dot product of the shared concept weights, the strongest shared strength, the route Engine._route picks (its
    limit, 0 for none, and recovery operations) and whether that pick is unsure. Rows are in order of the profile,
    then of row."""

    query: np.ndarray
    rows: np.ndarray
    dot: np.ndarray
    strength: np.ndarray
    route_km: np.ndarray
    route_ops: np.ndarray
    unsure: np.ndarray

    @classmethod
    def empty(cls) -> "_Gathered":
        nothing, none = np.empty(0), np.empty(0, dtype=np.int64)
        return cls(none, none, nothing, nothing, nothing, none, nothing > 0)

    def narrowed(self, keep: np.ndarray) -> "_Gathered":
        """The rows at the places `keep` (integers, see kept)."""
        # Field by field rather than through dataclasses.fields: a reach narrows twice, and fields() is slow.
        return _Gathered(
            self.query[keep],
            self.rows[keep],
            self.dot[keep],
            self.strength[keep],
            self.route_km[keep],
            self.route_ops[keep],
            self.unsure[keep],
        )


@dataclass(frozen=True)
class _Found:
    """What a reach knows of each listing it found (see Reach), as aligned arrays."""

    rows: np.ndarray  # the index's row of each listing
    floor: np.ndarray  # what was set with ConceptIndex.set_floor (NaN: nothing known)
    material: np.ndarray
    text: np.ndarray
    distance: np.ndarray
    quantity: np.ndarray
    quality: np.ndarray
    # Where the values above are the comparisons' own (up to the last bits of float arithmetic) and the pair passes
    # every hard constraint: its score can be computed from them (RuleScorer.scores). Elsewhere they are bounds.
    exact: np.ndarray

    def known(self) -> dict[str, np.ndarray]:
        """The comparison values (or their upper bounds) known before scoring, by comparison name."""
        return {
            "material": self.material,
            "text": self.text,
            "distance": self.distance,
            "quantity": self.quantity,
            "quality": self.quality,
        }


@dataclass(frozen=True)
class Reach(_Found):
    """Listings of the opposite kind that share a concept with one listing and pass the vectorised hard filters
    (resource type, owner, distance, availability, hazard, permit, quality limits), with the comparison values
    known before scoring: the comparisons' own where `exact`, elsewhere upper bounds (distance under the farthest
    shared route, quality 1). Arrays are aligned with `ids`."""

    ids: Sequence[str]


@dataclass(frozen=True)
class Reaches(_Found):
    """The reaches of several listings of one kind (ConceptIndex.reaches), as one set of arrays: the i-th listing's
    are [ends[i - 1]:ends[i]] (from 0 for the first)."""

    ends: list[int]
    id_of: Callable[[int], str]

    @classmethod
    def none(cls, id_of: Callable[[int], str]) -> "Reaches":
        """The reaches of no listing."""
        nothing = np.empty(0)
        return cls(np.empty(0, dtype=np.int64), *(nothing,) * 6, nothing > 0, ends=[], id_of=id_of)

    @classmethod
    def joined(cls, parts: Sequence["Reaches"]) -> "Reaches":
        """The reaches of several parts' listings, in order (one part at least)."""
        if len(parts) == 1:
            return parts[0]
        offsets = np.cumsum([0, *(len(part.rows) for part in parts)]).tolist()
        ends = [offset + end for part, offset in zip(parts, offsets, strict=False) for end in part.ends]
        joined = {field.name: np.concatenate([getattr(part, field.name) for part in parts]) for field in fields(_Found)}
        return cls(**joined, ends=ends, id_of=parts[0].id_of)

    def __len__(self) -> int:
        return len(self.ends)

    def reach(self, i: int) -> Reach:
        """The i-th listing's reach: its slice of the arrays."""
        part = slice(self.ends[i - 1] if i else 0, self.ends[i])
        rows, id_of = self.rows[part], self.id_of
        ids = LazySequence(lambda j: id_of(int(rows[j])), len(rows))
        return Reach(**{field.name: getattr(self, field.name)[part] for field in fields(_Found)}, ids=ids)


class ConceptIndex:
    """An inverted index from (kind, concept) to the listings that point at it, with columns for vectorised filters.

    Each listing has a row; postings hold row numbers and concept weights in numpy arrays, so that the listings
    sharing a concept with a query are gathered, grouped and filtered with a few array operations instead of
    set unions and a Python call per pair. `routes` gives each route's distance limit and recovery operations:
    with them a reach tells which route the engine will pick for each pair (Engine._route), and so the pair's exact
    distance limit and permit check; a route the index does not know makes its pairs inexact (bounds only).
    """

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._routes = {
            f"route:{r.id}": _RouteFacts(r.max_distance_km or 0.0, r.id, operation_bits(r.recovery_operations))
            for r in routes
        }
        # The routes in Engine._route's tie-break order (_RouteFacts.order): a route's place there is its rank.
        ranked = sorted(self._routes, key=lambda concept: self._routes[concept].order)
        self._route_rank = {concept: rank for rank, concept in enumerate(ranked)}
        self._route_km = np.array([self._routes[concept].km for concept in ranked])
        self._route_ops = np.array([self._routes[concept].ops for concept in ranked], dtype=np.int64)
        self._postings: dict[tuple[int, str], _Posting] = {}
        self._rows: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._weights: list[dict[str, float]] = []  # row -> its concepts and weights, to take it out again
        self._free: list[int] = []
        self._owners: dict[str, int] = {}
        self._columns: dict[str, np.ndarray] = {
            name: np.full(16, fill, dtype=d) for name, (d, fill) in _COLUMNS.items()
        }

    def add(self, profile: Profile) -> None:
        self.remove(profile.listing.id)
        row = self._free.pop() if self._free else len(self._ids)
        if row == len(self._ids):
            self._ids.append(None)
            self._weights.append({})
        if row >= len(self._columns["kind"]):
            self._columns = {name: _grown(name, column, 2 * row) for name, column in self._columns.items()}
        features = self._features(profile)
        for name, value in features.items():
            self._columns[name][row] = value
        kind = KINDS.index(profile.listing.kind)
        weights = {concept: evidence.weight for concept, evidence in profile.concepts.items()}
        lat = features["lat"] if features["located"] else -np.inf
        far_km = _far_km(features)
        postings = self._postings
        for concept, weight in weights.items():
            # Not setdefault(key, _Posting()): that made three arrays for every entry added, kept or not.
            posting = postings.get((kind, concept))
            if posting is None:
                posting = postings[kind, concept] = _Posting()
            posting.append(row, weight, lat, far_km)
        self._ids[row], self._weights[row] = profile.listing.id, weights
        self._rows[profile.listing.id] = row

    def set_floor(self, listing_id: str, floor: float) -> None:
        """A number the caller keeps per listing and reads back in each reach (Reach.floor); NaN forgets it. A
        listing added again starts with NaN."""
        row = self._rows.get(listing_id)
        if row is not None:
            self._columns["floor"][row] = floor

    def rows_of(self, listing_ids: Iterable[str]) -> np.ndarray:
        return np.array([row for i in listing_ids if (row := self._rows.get(i)) is not None], dtype=np.int64)

    def remove(self, listing_id: str) -> None:
        row = self._rows.pop(listing_id, None)
        if row is None:
            return
        kind = int(self._columns["kind"][row])
        for concept in self._weights[row]:
            self._postings[(kind, concept)].discard(row)
        self._ids[row], self._weights[row] = None, {}
        self._free.append(row)

    def sharing(self, profile: Profile) -> set[str]:
        """Listings of the opposite kind that share at least one concept with this one."""
        return {self.id_of(row) for row in self._gather([self._taken(profile)]).rows}

    def reach(self, profile: Profile, *, exact: bool = False) -> Reach:
        """See Reach. Never leaves out a pair the exact comparisons would keep: where the pair's route cannot be
        told for certain, the largest limit any shared route allows is used. Only with `exact` are the routes
        picked per pair, so that Reach.exact can hold: it costs more than it saves when a few pairs are compared
        (a new listing's 20 best at 1M: p95 41 -> 55 ms, round 7), and less when a whole rebuild ranks."""
        return self.reaches([profile], exact=exact).reach(0)

    def reaches(self, profiles: Sequence[Profile], *, exact: bool = False) -> Reaches:
        """reach() of each of these listings, all of one kind (else ValueError), built in sets of arrays of a few
        tens of thousands of gathered entries each: at 100k listings a reach of a few hundred rows cost ~0.5 ms of
        numpy's calls, whatever its size, and arrays much larger than the caches cost more than those calls.
        Each listing's arrays are those its reach alone has (elementwise, in the same order)."""
        kinds = {profile.listing.kind for profile in profiles}
        if len(kinds) > 1:
            raise ValueError("reaches are built for listings of one kind at a time")
        features = [self._features(profile) for profile in profiles]
        taken = [self._taken(profile, near) for profile, near in zip(profiles, features, strict=True)]
        parts, start, entries = [], 0, 0
        for end, pieces in enumerate(taken, 1):
            entries += sum(len(piece.rows) for piece in pieces)
            if entries >= _ENTRIES_AT_ONCE or end == len(taken):
                found = self._gather(taken[start:end], pick_routes=exact)
                parts.append(self._filtered(found, features[start:end], kinds == {"offer"}))
                start, entries = end, 0
        return Reaches.joined(parts) if parts else Reaches.none(self.id_of)

    def _filtered(self, found: "_Gathered", features: Sequence[Mapping[str, Any]], is_offer: bool) -> Reaches:
        """The reaches of the listings with these _features, from what _gather found for them: the hard filters
        and the comparison values (or bounds) known before scoring."""
        columns = self._columns
        per_query: dict[str, np.ndarray] = {}

        def col(name: str) -> np.ndarray:
            """A column for the rows still kept (`found` is narrowed below)."""
            return np.asarray(columns[name][found.rows])

        def mine(name: str) -> np.ndarray:
            """A feature of the listing whose reach found each row still kept."""
            if name not in per_query:
                per_query[name] = np.array([f[name] for f in features])
            return np.asarray(per_query[name][found.query])

        # Distance first: it leaves out most of what the shared concepts gather (half of the rows at 100k, within the
        # latitude band), so the other filters read their columns for fewer rows.
        km = _haversine_km(mine("lat"), mine("lon"), mine("cos_lat"), col("lat"), col("lon"), col("cos_lat"))
        located = col("located") & mine("located")
        stated = np.fmin(col("stated_km"), mine("stated_km"))
        typical = mine("typical_km") if is_offer else col("typical_km")
        # Engine._route's pick decides the limit when neither party states one; where it is unsure, the largest.
        by_route = np.where(found.route_km > 0, found.route_km, typical)
        by_route = np.where(found.unsure, np.maximum(mine("route_km"), typical), by_route)
        limit = np.where(np.isnan(stated), by_route, stated)
        near = ~located | (km <= limit * (1 + TOLERANCE))
        # A pair this close to its limit may fall on either side of it in the exact arithmetic.
        edge = located & (np.abs(km - limit) <= limit * EDGE)
        at = kept(near)
        found, km, located, limit, edge = found.narrowed(at), km[at], located[at], limit[at], edge[at]
        keep = (col("resource") == mine("resource")) & (col("owner") != mine("owner"))
        keep &= np.maximum(col("start"), mine("start")) <= np.minimum(col("end"), mine("end"))
        if is_offer:
            keep &= ~mine("hazardous") | col("accepts_hazardous")
        else:
            keep &= mine("accepts_hazardous") | ~col("hazardous")
        keep &= ~self._unpermitted(found, mine, col, is_offer)
        quality, failed, odd = self._quality(mine, col, is_offer)
        keep &= ~failed
        at = kept(keep)
        found, km, located, limit, edge = found.narrowed(at), km[at], located[at], limit[at], edge[at]
        quality, odd = quality[at], odd[at]
        distance = np.where(located, np.maximum(0.0, 1.0 - (np.where(located, km, 0.0) / limit) ** 1.5), 0.5)
        norm = np.sqrt(mine("norm2") * col("norm2"))
        text = np.divide(found.dot, norm, out=np.zeros_like(found.dot), where=norm > 0)
        quantity = _quantity_value(mine("annual"), mine("unit"), col("annual"), col("unit"))
        return Reaches(
            found.rows,
            col("floor"),
            found.strength,
            text,
            distance,
            quantity,
            quality,
            ~(found.unsure | edge | odd),
            np.searchsorted(found.query, np.arange(1, len(features) + 1)).tolist(),
            self.id_of,
        )

    def _quality(
        self, mine: Callable[[str], np.ndarray], col: Callable[[str], np.ndarray], is_offer: bool
    ) -> tuple[np.ndarray, ...]:
        """comparisons.quality for each row: its value, whether it excludes the pair (the offer fails a limit the
        need states), and where a NaN among the numbers leaves both unknown here (value 1 as a bound, kept).
        `mine` and `col`: a feature of the listing asked about and a column, for each row."""
        odd = col("odd_quality") | mine("odd_quality")
        value, failed = np.full(len(odd), UNSTATED_QUALITY), np.zeros(len(odd), dtype=bool)
        need, offer = (col, mine) if is_offer else (mine, col)
        limits = need("limits")
        at = np.flatnonzero(limits)
        stated_anywhere = int(np.bitwise_or.reduce(limits[at])) if len(at) else 0
        unknown, met, fails = (np.zeros(len(at), dtype=bool) for _ in range(3))
        # Only the limits some need here states: most needs state none or one of them.
        for bit, (limit_key, (offer_key, sense, *_)) in enumerate(QUALITY_LIMITS.items()):
            if not stated_anywhere >> bit & 1:
                continue
            wanted = need(f"want:{limit_key}")[at]
            stated = ~np.isnan(wanted)
            if not np.any(stated):
                continue
            actual = offer(f"have:{offer_key}")[at]
            known = ~np.isnan(actual)
            ok = actual >= wanted if sense == "min" else actual <= wanted
            unknown |= stated & ~known
            fails |= stated & known & ~ok
            met |= stated & known & ok
        value[at] = np.where(unknown, 0.5, np.where(met, 1.0, UNSTATED_QUALITY))
        failed[at] = fails
        value[odd], failed[odd] = 1.0, False
        return value, failed, odd

    def _unpermitted(
        self, found: "_Gathered", mine: Callable[[str], np.ndarray], col: Callable[[str], np.ndarray], is_offer: bool
    ) -> np.ndarray:
        """Pairs comparisons.legal excludes for want of a permit: waste offered to a receiver permitted only for
        other recovery operations than the offer's own (or, when it names none, its route's)."""
        offer, need = (mine, col) if is_offer else (col, mine)
        offer_ops, need_ops = offer("ops"), need("ops")
        wanted = np.where(offer_ops != 0, offer_ops, found.route_ops)
        known = (offer_ops != 0) | ~found.unsure  # else the route, and so what the waste needs, is not certain
        return np.asarray(offer("waste") & known & (wanted != 0) & (need_ops != 0) & ((wanted & need_ops) == 0))

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def rows(self) -> int:
        """The number of rows, live or free."""
        return len(self._ids)

    def id_of(self, row: int) -> str:
        listing_id = self._ids[row]
        assert listing_id is not None, "postings hold only live rows"
        return listing_id

    def _taken(self, profile: Profile, near: Mapping[str, Any] | None = None) -> list["_Piece"]:
        """What each posting of the profile's concepts (of the opposite kind) gives it. With `near` (the profile's
        _features), rows whose latitude alone puts them beyond any distance limit their pair may have are left out
        (_latitude_band), each posting's band set by the farthest limit its own rows may set; a row may then be
        gathered from some of its concepts only, and is then beyond its limit: the distance filter that follows drops
        it. (One band for all the postings, set by the farthest of them, took 4 % more entries at 100k.)"""
        other = 1 - KINDS.index(profile.listing.kind)
        pieces = []
        for concept, evidence in profile.concepts.items():
            posting = self._postings.get((other, concept))
            if posting is None or not posting.size:
                continue
            rows, weights = posting.taken(None if near is None else _latitude_band(near, posting.far_km))
            if len(rows):
                pieces.append(_Piece(rows, weights, evidence.weight, strength_of(concept), self._rank_of(concept)))
        return pieces

    def _gather(self, taken: Sequence[Sequence["_Piece"]], *, pick_routes: bool = False) -> "_Gathered":
        """The rows that each profile's pieces (_taken) give it; per row the dot product of the concept weights, the
        strongest shared concept's strength (as shared_concepts computes it) and, with `pick_routes`, the route
        Engine._route picks (else every pick is unsure). The entries are grouped by (profile, row) with one stable
        sort, so that each group's entries stay in the profile's concept order, as gathered for it alone."""
        pieces = [(query, piece) for query, its in enumerate(taken) for piece in its]
        if not pieces:
            return _Gathered.empty()
        sizes = np.array([len(piece.rows) for _, piece in pieces])
        queries, own_weights, strengths_of, ranks = (
            np.repeat(np.array(column), sizes)
            for column in zip(*((q, p.weight, p.strength, p.rank) for q, p in pieces), strict=True)
        )
        all_rows = np.concatenate([piece.rows for _, piece in pieces])
        products = np.concatenate([piece.weights for _, piece in pieces]) * own_weights
        all_strengths = products * strengths_of
        order = np.argsort(queries * len(self._ids) + all_rows, kind="stable")
        sorted_rows, sorted_queries = all_rows[order], queries[order]
        first = np.r_[True, (sorted_rows[1:] != sorted_rows[:-1]) | (sorted_queries[1:] != sorted_queries[:-1])]
        starts = np.flatnonzero(first)
        group = np.cumsum(first) - 1  # each entry's row's place among those found
        sorted_strengths = all_strengths[order]
        found = _Gathered(
            sorted_queries[starts],
            sorted_rows[starts],
            # Per group, bincount adds left to right from 0.0, as shared_concepts' sum() does (np.add.reduceat added a
            # group of three as a + (b + c)), and ~5x faster for groups of about two entries.
            np.bincount(group, weights=products[order], minlength=len(starts)),
            _group_max(group, sorted_strengths, len(starts)),
            np.zeros(len(starts)),
            np.zeros(len(starts), dtype=np.int64),
            np.full(len(starts), not pick_routes),
        )
        if pick_routes:  # per entry in (profile, row) order: its group, strength, rank
            self._pick_routes(found, group, sorted_strengths, ranks[order])
        return found

    def _rank_of(self, concept: str) -> int:
        """A concept's rank among the routes (_route_rank); _NOT_A_ROUTE, or _UNKNOWN_ROUTE for a route the index
        does not know."""
        if not concept.startswith("route:"):
            return _NOT_A_ROUTE
        return self._route_rank.get(concept, _UNKNOWN_ROUTE)

    def _pick_routes(self, found: "_Gathered", group: np.ndarray, strengths: np.ndarray, ranks: np.ndarray) -> None:
        """Engine._route for every row at once: the shared route of the highest strength rounded to 4 places,
        then the farthest limit, then the lowest id (the least rank). A strength this close to a rounding edge, or
        a route the index does not know, leaves the pick unsure. Per gathered entry, ordered by `group` (its row's
        place among those found): its strength and route rank."""
        at = np.flatnonzero(ranks != _NOT_A_ROUTE)
        groups, ranks = group[at], ranks[at]
        known = ranks != _UNKNOWN_ROUTE
        found.unsure[groups[kept(~known)]] = True
        known = kept(known)
        at, groups, ranks = at[known], groups[known], ranks[known]
        if not len(at):
            return
        steps, unsure = round4_steps(strengths[at])
        found.unsure[groups[kept(unsure)]] = True
        # Most steps first, then the least rank: as one integer an entry, of which each row's pick is the largest.
        count = len(self._route_km)
        key = steps.astype(np.int64) * count + (count - 1 - ranks)
        first = np.r_[True, groups[1:] != groups[:-1]]
        starts = np.flatnonzero(first)
        picked = count - 1 - _group_max(np.cumsum(first) - 1, key, len(starts)) % count
        found.route_km[groups[starts]] = self._route_km[picked]
        found.route_ops[groups[starts]] = self._route_ops[picked]

    def _features(self, profile: Profile) -> dict[str, Any]:
        listing = profile.listing
        located = listing.lat is not None and listing.lon is not None
        rate = listing.annual
        accepts = listing.hazardous or bool(listing.properties.get("accepts_hazardous"))
        route_kms = [facts.km for concept in profile.concepts if (facts := self._routes.get(concept))]
        return {
            "kind": KINDS.index(listing.kind),
            "resource": RESOURCE_TYPES.index(listing.resource_type),
            "owner": self._owners.setdefault(listing.organization_id, len(self._owners)),
            "lat": math.radians(listing.lat) if listing.lat is not None and located else 0.0,
            "lon": math.radians(listing.lon) if listing.lon is not None and located else 0.0,
            "cos_lat": math.cos(math.radians(listing.lat)) if listing.lat is not None and located else 1.0,
            "located": located,
            "stated_km": listing.max_distance_km or np.nan,
            "typical_km": typical_distance_km(profile) if listing.kind == "offer" else np.nan,
            "route_km": max(route_kms, default=0.0),
            "annual": rate[0] if rate else np.nan,
            "unit": UNIT_CODES[rate[1]] if rate else -1,
            "start": listing.available_from.toordinal() if listing.available_from else NO_START,
            "end": listing.available_until.toordinal() if listing.available_until else NO_END,
            "hazardous": listing.hazardous,
            "accepts_hazardous": accepts,
            "norm2": sum(e.weight**2 for e in profile.concepts.values()),
            **_qualities(listing),
            "waste": listing.legal_status == "waste",
            "ops": operation_bits(listing.recovery_operations),
            "floor": np.nan,
        }


def _qualities(listing: Listing) -> dict[str, Any]:
    """The quality columns of a listing: a need's limits (want:), an offer's properties (have:). Not to be changed:
    a listing without properties (most) gets the one dict of none."""
    properties = listing.properties
    if not properties:
        return _NO_QUALITIES
    is_need = listing.kind == "need"
    found = {
        want: number(properties.get(key)) if is_need else None for want, key in zip(_WANTS, QUALITY_LIMITS, strict=True)
    }
    found |= {
        have: None if is_need else number(properties.get(key))
        for have, key in zip(_HAVES, OFFER_QUALITIES, strict=True)
    }
    stated = [v for v in found.values() if v is not None]
    return {name: np.nan if v is None else v for name, v in found.items()} | {
        "limits": sum(1 << bit for bit, want in enumerate(_WANTS) if found[want] is not None),
        "odd_quality": any(math.isnan(v) for v in stated),
    }


_WANTS = tuple(f"want:{key}" for key in QUALITY_LIMITS)
_HAVES = tuple(f"have:{key}" for key in OFFER_QUALITIES)
_NO_QUALITIES: dict[str, Any] = dict.fromkeys(_WANTS + _HAVES, np.nan) | {"limits": 0, "odd_quality": False}


UNIT_CODES = {unit: i for i, unit in enumerate(sorted({base for base, _ in BASE_UNIT.values()}))}


def _grown(name: str, column: np.ndarray, size: int) -> np.ndarray:
    dtype, fill = _COLUMNS[name]
    grown: np.ndarray = np.full(size, fill, dtype=dtype)
    grown[: len(column)] = column
    return grown


def _group_max(group: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    """The largest of the values of each group (numbered 0 to groups - 1, each with a value). np.maximum.at is ~6x
    faster than np.maximum.reduceat for groups of about two entries (numpy 2.4, side measurement)."""
    found = np.full(groups, np.iinfo(values.dtype).min if values.dtype.kind == "i" else -np.inf, dtype=values.dtype)
    np.maximum.at(found, group, values)
    return found


def _haversine_km(
    lat: np.ndarray, lon: np.ndarray, cos_lat: np.ndarray, lats: np.ndarray, lons: np.ndarray, cos_lats: np.ndarray
) -> np.ndarray:
    """haversine_km of pairs of points (in radians), the same formula in numpy; the cosines of the latitudes given,
    as math.cos makes them pair by pair (a column of the index: numpy's cos of 2,500 rows gathered took 26 us,
    gathering the column 4 us)."""
    a = np.sin((lats - lat) / 2) ** 2 + cos_lat * cos_lats * np.sin((lons - lon) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a))))


def _far_km(features: Mapping[str, Any]) -> float:
    """The farthest distance limit a listing (its _features) may set for a pair whose other side states none: its
    own stated limit, else, for an offer, how far such an offer usually travels (ConceptIndex.reach's limits; a
    need sets none: its typical_km is NaN)."""
    stated, typical = features["stated_km"], features["typical_km"]
    return float(stated if not math.isnan(stated) else 0.0 if math.isnan(typical) else typical)


def _latitude_band(me: Mapping[str, Any], far_km: float) -> tuple[float, float] | None:
    """The latitudes (radians) outside which no pair of this listing (its _features) lies within its distance limit,
    whatever the counterpart: a pair is at least R·|Δφ| apart (haversine_km), and its limit is at most the listing's
    own stated one, else the farthest of its routes', its own typical one and `far_km` (the most its counterparts
    may set, _far_km). None when the listing has no place. A margin keeps float rounding on the safe side."""
    if not me["located"]:
        return None
    stated = me["stated_km"]
    limit = stated if not math.isnan(stated) else max(me["route_km"], _far_km(me), far_km)
    half = limit * (1 + TOLERANCE) * (1 + 1e-6) / EARTH_RADIUS_KM + 1e-12
    return me["lat"] - half, me["lat"] + half


def _quantity_value(annual: np.ndarray, unit: np.ndarray, annuals: np.ndarray, units: np.ndarray) -> np.ndarray:
    """comparisons.quantity's value for each pair: 0.5 when not comparable, 0 when a side states zero."""
    comparable = (units == unit) & (unit >= 0) & ~np.isnan(annuals) & ~np.isnan(annual)
    low, high = np.minimum(annuals, annual), np.maximum(annuals, annual)
    ratio = np.divide(low, high, out=np.zeros_like(annuals), where=comparable & (high > 0) & (low > 0))
    return np.where(comparable, np.sqrt(ratio), 0.5)
