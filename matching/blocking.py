"""Candidate generation: which needs an offer could feed at all, and which rule found each pair.

A pair is a candidate when the two listings point at a common concept (see enrich.py) and pass the hard
filters: opposite kinds, the same resource type, different organizations, and a distance both accept.
"""

import math
from collections import defaultdict
from dataclasses import dataclass

from matching.records import Evidence, Profile

# How much sharing each kind of concept says about material compatibility.
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


@dataclass(frozen=True)
class Shared:
    concept: str
    strength: float
    offer: Evidence
    need: Evidence

    @property
    def rule(self) -> str:
        kind = self.concept.split(":", 1)[0]
        from_text = "text" in (self.offer.source, self.need.source)
        if kind == "ewc":
            return "text_neighbour" if from_text else "same_code"
        if kind == "sub":
            return "code_proximity"
        if kind == "stream":
            return "same_stream"
        return "knowledge_route" if self.need.source != "activity" else "activity_route"


def shared_concepts(offer: Profile, need: Profile) -> list[Shared]:
    """Concepts both point at, strongest first (ties by name, so the order never depends on the input)."""
    common = offer.concepts.keys() & need.concepts.keys()
    shared = [
        Shared(
            c,
            offer.concepts[c].weight * need.concepts[c].weight * CONCEPT_STRENGTH[c.split(":", 1)[0]],
            offer.concepts[c],
            need.concepts[c],
        )
        for c in common
    ]
    return sorted(shared, key=lambda s: (-s.strength, s.concept))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


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
    stated = [x for x in (offer.listing.max_distance_km, need.listing.max_distance_km) if x]
    if stated:
        return min(stated)
    return route_km or typical_distance_km(offer)


def compatible(offer: Profile, need: Profile) -> bool:
    a, b = offer.listing, need.listing
    return (
        a.kind == "offer"
        and b.kind == "need"
        and a.resource_type == b.resource_type
        and a.organization_id != b.organization_id
    )


class ConceptIndex:
    """An inverted index from concepts to the listings that point at them, one per kind."""

    def __init__(self) -> None:
        self._postings: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._concepts: dict[str, tuple[str, frozenset[str]]] = {}

    def add(self, profile: Profile) -> None:
        self.remove(profile.listing.id)
        kind = profile.listing.kind
        self._concepts[profile.listing.id] = (kind, frozenset(profile.concepts))
        for concept in profile.concepts:
            self._postings[(kind, concept)].add(profile.listing.id)

    def remove(self, listing_id: str) -> None:
        kind, concepts = self._concepts.pop(listing_id, ("", frozenset()))
        for concept in concepts:
            self._postings[(kind, concept)].discard(listing_id)

    def sharing(self, profile: Profile) -> set[str]:
        """Listings of the opposite kind that share at least one concept with this one."""
        other = "need" if profile.listing.kind == "offer" else "offer"
        found: set[str] = set()
        for concept in profile.concepts:
            found |= self._postings.get((other, concept), set())
        return found

    def __len__(self) -> int:
        return len(self._concepts)
