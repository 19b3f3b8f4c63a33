"""Per-pair comparisons. Each says how well one aspect fits (a value in [0, 1]), at which level, and why.

An outcome marked `excluded` is a hard constraint that failed: the pair is not proposed at all. Its sentence is
written only when read: ranking compares many more pairs than are kept, and needs only the values.
"""

from collections.abc import Callable
from datetime import date
from typing import NamedTuple

from matching.blocking import Shared
from matching.knowledge import Knowledge, Route
from matching.quality import QUALITY_LIMITS, UNSTATED_QUALITY, number
from matching.records import Profile


class Outcome(NamedTuple):
    """A named tuple, not a dataclass: seven are made for every pair compared (made with _new where that happens
    for every pair: a named tuple's constructor is a Python function of its own, twice the cost of the tuple)."""

    value: float
    level: str
    said: str | Callable[[], str]  # the sentence saying why, or what writes it
    excluded: bool = False

    @property
    def reason(self) -> str:
        return self.said if isinstance(self.said, str) else self.said()


_new = tuple.__new__


class Pair(NamedTuple):
    """One offer and one need being compared, with what blocking found for them (a named tuple: one is made for
    every pair compared)."""

    offer: Profile
    need: Profile
    shared: list[Shared]
    distance_km: float | None
    limit_km: float
    route: Route | None
    knowledge: Knowledge

    def label(self, concept: str) -> str:
        kind, _, key = concept.partition(":")
        if kind == "route":
            return self.knowledge.routes[key].process_en
        if kind == "stream":
            return self.knowledge.streams[key].label_en
        return f"EWC {key}"


# What the material comparison says of a pair, by the rule that found its strongest shared concept.
MATERIAL_LEVELS = {
    "same_code": "same code",
    "text_neighbour": "same material",
    "code_proximity": "related code",
    "same_stream": "same stream",
    "knowledge_route": "known route",
    "activity_route": "known route",
}


def material(pair: Pair) -> Outcome:
    best = pair.shared[0]
    return _new(Outcome, (best.strength, MATERIAL_LEVELS[best.rule], lambda: _material_sentence(pair, best), False))


def _material_sentence(pair: Pair, best: Shared) -> str:
    rule = best.rule
    if rule == "same_code":
        return f"Both listings name EWC {pair.offer.ewc}."
    if rule == "text_neighbour":
        return f"Both descriptions point to {pair.label(best.concept)}."
    if rule == "code_proximity":
        return f"The codes share EWC subchapter {best.concept[4:]}."
    if rule == "same_stream":
        return f"Both are about {pair.label(best.concept).lower()}."
    return _route_sentence(pair, best)


def _route_sentence(pair: Pair, best: Shared) -> str:
    route = pair.route or pair.knowledge.routes[best.concept[6:]]
    code = pair.offer.ewc
    what = f"EWC {code}" if code and route.covers(code) else f"This {pair.offer.listing.resource_type}"
    receivers = ", ".join(route.receivers[:3])
    how = "as its own words say" if best.rule == "knowledge_route" else f"for its activity (NACE {receivers})"
    process = route.process_en[:1].lower() + route.process_en[1:]
    return f"{what} is a documented input for {process}; the need fits {how}."


def text(pair: Pair) -> Outcome:
    """Overlap of the two concept profiles (cosine): how much the descriptions say the same, in any language."""
    value, level = text_measure(pair)
    return _new(
        Outcome, (value, level, lambda: f"The descriptions overlap on: {'; '.join(_shared_labels(pair))}.", False)
    )


def text_measure(pair: Pair) -> tuple[float, str]:
    """The text comparison's value and level."""
    dot = sum(s.offer.weight * s.need.weight for s in pair.shared)  # the shared concepts are the common ones
    return text_measure_of(dot, pair.offer, pair.need)


def text_measure_of(dot: float, offer: Profile, need: Profile) -> tuple[float, str]:
    """The text comparison's value and level, given the dot product of the pair's concept weights."""
    norm = (offer.sum_of_squares * need.sum_of_squares) ** 0.5
    value = dot / norm if norm else 0.0
    return value, "close" if value >= 0.5 else "partial" if value >= 0.2 else "weak"


def _shared_labels(pair: Pair) -> list[str]:
    return [pair.label(s.concept) for s in pair.shared[:3]]


def distance(pair: Pair) -> Outcome:
    if pair.distance_km is None:
        return _DISTANCE_UNKNOWN
    km, limit = pair.distance_km, pair.limit_km
    if km > limit:
        return Outcome(0.0, "too far", lambda: f"{km:.0f} km apart, beyond the {limit:.0f} km limit.", excluded=True)
    value, level = distance_measure(km, limit)
    return _new(
        Outcome,
        (value, level, lambda: f"{km:.0f} km apart, within the {limit:.0f} km this exchange can travel.", False),
    )


def distance_measure(km: float, limit: float) -> tuple[float, str]:
    """The distance comparison's value and level for a pair within its limit."""
    value = max(0.0, 1.0 - (km / limit) ** 1.5)
    return value, "near" if value >= 0.7 else "reachable" if value >= 0.3 else "far"


_DISTANCE_UNKNOWN = Outcome(0.5, "unknown", "A location is missing, so the distance is unknown.")


def quantity(pair: Pair) -> Outcome:
    offered, needed = pair.offer.listing.annual, pair.need.listing.annual
    value, level = quantity_measure(offered, needed)
    if offered is None or needed is None or level == "unknown":
        return _QUANTITIES_UNKNOWN
    if level == "none":
        return _NO_QUANTITY
    return _new(Outcome, (value, level, lambda: _quantity_sentence(offered[0], needed[0], offered[1]), False))


def quantity_measure(offered: tuple[float, str] | None, needed: tuple[float, str] | None) -> tuple[float, str]:
    """The quantity comparison's value and level, from the annual rates (Listing.annual) of offer and need."""
    if offered is None or needed is None or offered[1] != needed[1]:
        return 0.5, "unknown"
    supply, demand = offered[0], needed[0]
    if supply == 0 or demand == 0:
        return 0.0, "none"
    ratio = min(supply, demand) / max(supply, demand)
    return ratio**0.5, "good fit" if ratio >= 0.5 else "partial" if ratio >= 0.1 else "poor fit"


_QUANTITIES_UNKNOWN = Outcome(0.5, "unknown", "The quantities cannot be compared (missing or in different units).")
_NO_QUANTITY = Outcome(0.0, "none", "One side states a quantity of zero.")


def _quantity_sentence(supply: float, demand: float, unit: str) -> str:
    share = min(supply, demand) / supply
    return f"{supply:,.0f} {unit}/year offered, {demand:,.0f} {unit}/year needed: the need takes {share:.0%} of it."


def timing(pair: Pair) -> Outcome:
    a, b = pair.offer.listing, pair.need.listing
    if a.available_from is a.available_until is b.available_from is b.available_until is None:
        return _OPEN  # most listings set no window
    start = max(a.available_from or date.min, b.available_from or date.min)
    end = min(a.available_until or date.max, b.available_until or date.max)
    if start > end:
        return Outcome(0.0, "no overlap", "The availability windows do not overlap.", excluded=True)
    return _new(Outcome, (1.0, "overlap", lambda: f"Both are available from {_day(start)} to {_day(end)}.", False))


_OPEN = Outcome(1.0, "open", "Neither side limits when the exchange can happen.")


def quality(pair: Pair) -> Outcome:
    offer, need = pair.offer.listing.properties, pair.need.listing.properties
    if need.keys().isdisjoint(QUALITY_LIMITS):  # most needs set none: no loop over every limit for them
        return _UNSTATED
    met, unknown = [], []
    for limit_key, (offer_key, sense, name, unit) in QUALITY_LIMITS.items():
        if limit_key not in need:
            continue
        wanted, actual = number(need[limit_key]), number(offer.get(offer_key))
        if wanted is None:
            continue
        if actual is None:
            unknown.append(name)
            continue
        ok = actual >= wanted if sense == "min" else actual <= wanted
        if not ok:
            bound = "at least" if sense == "min" else "at most"
            reason = f"The need requires {name} {bound} {wanted} {unit}; the offer states {actual} {unit}."
            return Outcome(0.0, "fails", reason, excluded=True)
        met.append(f"{name} {actual} {unit}")
    if unknown:
        return Outcome(
            0.5, "unverified", f"The need sets limits on {', '.join(unknown)} that the offer does not state."
        )
    if met:
        return Outcome(1.0, "meets", f"Meets every stated requirement: {', '.join(met)}.")
    return _UNSTATED


_UNSTATED = Outcome(UNSTATED_QUALITY, "unstated", "Neither side states quality limits to check.")


def legal(pair: Pair) -> Outcome:
    """Hazardous offers go only to receivers that accept them; waste goes only to a fitting permit (R code)."""
    offer, need = pair.offer.listing, pair.need.listing
    if offer.hazardous and not (need.hazardous or need.properties.get("accepts_hazardous")):
        return Outcome(
            0.0,
            "hazardous",
            "The offer is hazardous and the need does not accept hazardous waste.",
            excluded=True,
        )
    if offer.legal_status != "waste":
        if not offer.hazardous:
            return _ALLOWED
        return _new(Outcome, (1.0, "noted", lambda: _legal_notes(True, offer.legal_status, set(), set()), False))
    wanted = set(offer.recovery_operations) or set(pair.route.recovery_operations if pair.route else ())
    permitted = set(need.recovery_operations)
    if wanted and permitted and not wanted & permitted:
        needs, holds = ", ".join(sorted(wanted)), ", ".join(sorted(permitted))
        reason = f"The waste needs recovery {needs}; the receiver is permitted for {holds}."
        return Outcome(0.0, "no permit", reason, excluded=True)
    return _new(Outcome, (1.0, "noted", lambda: _legal_notes(offer.hazardous, "waste", wanted, permitted), False))


_ALLOWED = Outcome(1.0, "allowed", "No hazard or waste-permit obstacle.")


def _legal_notes(hazardous: bool, legal_status: str | None, wanted: set[str], permitted: set[str]) -> str:
    notes = []
    if hazardous:
        notes.append("The offer is hazardous; the receiver declares it accepts hazardous waste.")
    if legal_status == "waste":
        codes = ", ".join(sorted(wanted & permitted if permitted else wanted)) or "a recovery operation"
        who = "is permitted for" if permitted and wanted & permitted else "needs a permit for"
        notes.append(f"It is waste: the receiver {who} {codes}.")
    return " ".join(notes)


def _day(value: date) -> str:
    return "any time" if value in (date.min, date.max) else value.isoformat()
