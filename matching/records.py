"""The vocabulary every listing is written in, shared by the engine, the API and the data files."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal, NamedTuple, get_args

Kind = Literal["offer", "need"]
ResourceType = Literal["material", "energy", "water", "capacity"]
# Mass, volume, energy, count, area and time: what firms actually state their streams in.
Unit = Literal["t", "kg", "m3", "Nm3", "l", "MWh", "kWh", "GJ", "pcs", "m2", "h"]
Period = Literal["one-off", "day", "week", "month", "year"]
Form = Literal[
    "solid",
    "bulk",
    "powder",
    "granular",
    "pieces",
    "sludge",
    "paste",
    "liquid",
    "gas",
    "steam",
    "hot_water",
    "electricity",
    "other",
]
LegalStatus = Literal["by_product", "waste", "end_of_waste", "product"]
# Annex II of the Waste Framework Directive: recovery operations R1-R13.
RecoveryOperation = Literal["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11", "R12", "R13"]
Visibility = Literal["public", "anonymous", "private"]
Status = Literal["active", "paused", "closed"]

KINDS: tuple[str, ...] = get_args(Kind)
RESOURCE_TYPES: tuple[str, ...] = get_args(ResourceType)
UNITS: tuple[str, ...] = get_args(Unit)
PERIODS: tuple[str, ...] = get_args(Period)
FORMS: tuple[str, ...] = get_args(Form)
LEGAL_STATUSES: tuple[str, ...] = get_args(LegalStatus)
RECOVERY_OPERATIONS: tuple[str, ...] = get_args(RecoveryOperation)
VISIBILITIES: tuple[str, ...] = get_args(Visibility)
STATUSES: tuple[str, ...] = get_args(Status)


@dataclass(frozen=True)
class Listing:
    """What the engine knows of one offer or need: plain values, no database rows."""

    id: str
    organization_id: str
    kind: str
    resource_type: str
    title: str
    description: str = ""
    language: str | None = None
    ewc: str | None = None
    hazardous: bool = False
    quantity: float | None = None
    unit: str | None = None
    period: str | None = None
    available_from: date | None = None
    available_until: date | None = None
    legal_status: str | None = None
    recovery_operations: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)
    max_distance_km: float | None = None
    lat: float | None = None
    lon: float | None = None
    nace: tuple[str, ...] = ()
    region: str | None = None

    @property
    def text(self) -> str:
        return f"{self.title}. {self.description}"

    @cached_property
    def annual(self) -> tuple[float, str] | None:
        """annual_rate(self), worked out once: the quantity comparison and the impact estimate of every pair read it."""
        return annual_rate(self)


PER_YEAR = {"year": 1.0, "month": 12.0, "week": 52.0, "day": 365.0, "one-off": 1.0}
# unit -> (common unit, factor): matching compares annual rates in one unit per dimension.
BASE_UNIT = {
    "t": ("t", 1.0),
    "kg": ("t", 0.001),
    "m3": ("m3", 1.0),
    "l": ("m3", 0.001),
    "MWh": ("MWh", 1.0),
    "kWh": ("MWh", 0.001),
    "GJ": ("MWh", 1 / 3.6),
    "Nm3": ("Nm3", 1.0),
    "pcs": ("pcs", 1.0),
    "m2": ("m2", 1.0),
    "h": ("h", 1.0),
}


def annual_rate(listing: Listing) -> tuple[float, str] | None:
    """The listing's quantity per year in its dimension's common unit, e.g. 500 kg/week -> (26.0, 't')."""
    if listing.quantity is None or listing.unit not in BASE_UNIT or listing.period not in PER_YEAR:
        return None
    unit, factor = BASE_UNIT[listing.unit]
    return listing.quantity * factor * PER_YEAR[listing.period], unit


class Comparison(NamedTuple):
    """One comparison of a pair: its value in [0, 1], weight, share of the score and a sentence. A named tuple,
    not a frozen dataclass: seven are made for every stored pair, and a tuple is made three times faster."""

    name: str
    value: float
    weight: float
    contribution: float
    level: str
    reason: str


class Impact(NamedTuple):
    """A named tuple, not a frozen dataclass: one is made for every stored pair."""

    quantity: float | None
    unit: str | None
    co2e_avoided_t: float | None
    substitution_t: float | None
    disposal_avoided_t: float | None
    transport_t: float | None
    basis: str
    # The knowledge route whose factors the estimate applies (None when none applies): with the figures above, what
    # matching.impact.basis writes the basis from (a stored match keeps the route, not the ~600 bytes of its basis).
    route: str | None = None


class Candidate(NamedTuple):
    """A named tuple, not a frozen dataclass: one is made for every stored pair."""

    offer_id: str
    need_id: str
    score: float
    rule: str
    components: tuple[Comparison, ...]
    distance_km: float | None
    impact: Impact

    @property
    def explanation(self) -> tuple[str, ...]:
        """The sentences a person reads, most important first: written when asked, since a rebuild stores the
        components and never reads the sentences (17 µs a pair, round 7)."""
        from matching.explain import explain  # explain reads this module's Comparison

        return explain(self.rule, self.components)


@dataclass(frozen=True)
class Evidence:
    """Why a listing points at a concept: how strongly, and from what (its code, its text, its activity...)."""

    weight: float
    source: str


@dataclass(frozen=True)
class Profile:
    """A listing with what enrichment derived from it: the concepts it points at and a suggested code."""

    listing: Listing
    concepts: Mapping[str, Evidence]
    suggested_ewc: str | None = None
    suggested_confidence: float | None = None

    @property
    def ewc(self) -> str | None:
        return self.listing.ewc or self.suggested_ewc

    @cached_property
    def sum_of_squares(self) -> float:
        """Of the concept weights: the text comparison's norm, computed once per profile, not once per pair."""
        return sum(e.weight**2 for e in self.concepts.values())
