"""Enrichment: from a listing to the concepts it points at, in a representation no language owns.

Concepts are named '<type>:<id>': 'ewc:10 01 02' (an EWC entry), 'sub:10 01' (its subchapter), 'route:fly-ash-cement'
(a valorisation route of the knowledge base) and 'stream:heat_medium' (an energy or water stream). An offer and a
need are candidates when they point at a common concept, whatever language each is written in.
"""

from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Self

import numpy as np

from matching.knowledge import Knowledge, Route
from matching.quality import number
from matching.records import Evidence, Listing, Profile
from matching.rounding import rounded
from matching.taxonomy import CodeSuggester, EwcEntry
from matching.text import ConceptVectoriser, SharedAnalysis

# Temperature bands, hottest first: heat can always serve a need for cooler heat.
GAS_STREAMS = ("co2", "biogas", "hydrogen", "syngas")
HEAT_BANDS = (("heat_high", 120.0), ("heat_medium", 60.0), ("heat_low", -273.0))


def heat_band(temperature_c: float) -> str:
    return next(band for band, floor in HEAT_BANDS if temperature_c >= floor)


class Enricher:
    """Builds profiles. Thresholds are relative to the best match, so short and long texts behave alike."""

    def __init__(
        self,
        knowledge: Knowledge,
        catalogue: Sequence[EwcEntry],
        *,
        min_similarity: float = 0.2,
        relative_cut: float = 0.7,
        text_codes: int = 3,
        text_routes: int = 5,
        activity_weight: float = 0.35,
        gas_similarity: float = 0.25,
    ) -> None:
        self.knowledge = knowledge
        self.catalogue = catalogue
        self.min_similarity = min_similarity
        self.relative_cut = relative_cut
        self.text_codes = text_codes
        self.text_routes = text_routes
        self.activity_weight = activity_weight
        self.gas_similarity = gas_similarity

    def fit(self) -> Self:
        self.suggester_ = CodeSuggester().fit(self.catalogue)
        self.hazardous_codes_ = frozenset(e.code for e in self.catalogue if e.level == "entry" and e.hazardous)
        routes = {r.id: [*r.need_terms, r.process_en, r.process_pl] for r in self.knowledge.routes.values()}
        streams = {s.id: [s.label_en, s.label_pl, *s.terms] for s in self.knowledge.streams.values()}
        self.routes_ = ConceptVectoriser().fit(routes)
        self.streams_ = ConceptVectoriser().fit(streams)
        known = self.knowledge.streams
        self.stream_types_ = np.array([known[s].resource_type for s in self.streams_.concepts_])
        self.gas_streams_ = np.isin(self.streams_.concepts_, GAS_STREAMS)
        self.analysis_ = SharedAnalysis([self.suggester_.vectoriser_, self.routes_, self.streams_])
        return self

    def profiles(self, listings: Sequence[Listing]) -> list[Profile]:
        """Profiles for many listings at once: the text comparisons run as a few sparse products."""
        texts = [listing.text for listing in listings]
        if not texts:
            return []
        # A text is compared with the ~840 codes only when no code is given (a third of the listings at 100k: the
        # codes were the larger part of the products), and with the streams unless it is a coded material.
        uncoded = np.array([i for i, listing in enumerate(listings) if _suggests_code(listing)], dtype=np.int64)
        streamed = np.array([i for i, listing in enumerate(listings) if not _coded(listing)], dtype=np.int64)
        everyone = np.arange(len(texts))
        codes, routes, streams = self.analysis_.similarities(texts, [uncoded, everyone, streamed])
        self.suggester_.adjust_for_hazard(codes, [texts[i] for i in uncoded])
        code_row = dict(zip(uncoded.tolist(), codes, strict=True))
        stream_row = dict(zip(streamed.tolist(), streams, strict=True))
        return [
            self._profile(listing, code_row.get(i), routes[i], stream_row.get(i)) for i, listing in enumerate(listings)
        ]

    def profile(self, listing: Listing) -> Profile:
        return self.profiles([listing])[0]

    def _profile(
        self, listing: Listing, codes: np.ndarray | None, routes: np.ndarray, streams: np.ndarray | None
    ) -> Profile:
        """`codes` and `streams`: the text's similarities, given where they count (_suggests_code, not _coded)."""
        if listing.ewc in self.hazardous_codes_ and not listing.hazardous:
            listing = replace(listing, hazardous=True)  # the code says so, whatever the flag was left at
        concepts: dict[str, Evidence] = {}
        suggested: tuple[str, float] | None = None
        if listing.ewc and _coded(listing):
            self._add_code(concepts, listing.ewc, 1.0, "code")
        elif codes is not None:
            text_codes = self._best(codes, self.suggester_.vectoriser_.concepts_, self.text_codes)
            for code, weight in text_codes:
                self._add_code(concepts, code, 0.8 * weight, "text")
            suggested = text_codes[0] if text_codes else None
        if streams is not None:
            for stream, weight in self._best(self._stream_scores(listing, streams), self.streams_.concepts_, 2):
                self._add_stream(concepts, stream, weight, "text")
        self._add_temperature(concepts, listing)
        self._add_text_routes(concepts, listing, routes)
        if listing.kind == "need":
            self._add_activity_routes(concepts, listing)
        confidence = None if codes is None else self._confidence(codes, suggested)
        return Profile(listing, concepts, suggested[0] if suggested else None, confidence)

    def _stream_scores(self, listing: Listing, scores: np.ndarray) -> np.ndarray:
        """Streams of the listing's own resource type; gases (CO2, biogas...) also for uncoded materials,
        which is how firms often list them. (A coded material is a waste, not a stream: it has no scores.)"""
        if listing.resource_type == "material":
            return np.where(self.gas_streams_ & (scores >= self.gas_similarity), scores, 0.0)
        return np.where(self.stream_types_ == listing.resource_type, scores, 0.0)

    def _best(self, scores: np.ndarray, names: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The k best concepts above the absolute and relative cut, weighted against the best (best = 1)."""
        order = _highest(scores, k)
        top = float(scores[order[0]]) if len(order) else 0.0
        if top < self.min_similarity:
            return []
        return [(names[i], float(scores[i]) / top) for i in order if scores[i] >= self.relative_cut * top]

    def _add(self, concepts: dict[str, Evidence], concept: str, weight: float, source: str) -> None:
        if concept not in concepts or concepts[concept].weight < weight:
            concepts[concept] = _evidence(rounded(weight, 4), source)

    def _add_code(self, concepts: dict[str, Evidence], code: str, weight: float, source: str) -> None:
        self._add(concepts, f"ewc:{code}", weight, source)
        self._add(concepts, f"sub:{code[:5]}", 0.5 * weight, source)
        for route in self.knowledge.routes_for_code(code):
            self._add(concepts, f"route:{route.id}", weight, source)

    def _add_stream(self, concepts: dict[str, Evidence], stream: str, weight: float, source: str) -> None:
        self._add(concepts, f"stream:{stream}", weight, source)
        for route in self.knowledge.routes_for_stream(stream):
            self._add(concepts, f"route:{route.id}", weight, source)

    def _add_temperature(self, concepts: dict[str, Evidence], listing: Listing) -> None:
        if listing.resource_type != "energy":
            return
        props = listing.properties
        if listing.kind == "offer" and number(props.get("temperature_c")) is not None:
            band = heat_band(float(props["temperature_c"]))
            self._add_stream(concepts, band, 1.0, "property")
            cooler = [b for b, _ in HEAT_BANDS][[b for b, _ in HEAT_BANDS].index(band) + 1 :]
            for lower in cooler:
                self._add_stream(concepts, lower, 0.7, "property")
        wanted = number(props.get("min_temperature_c")) if listing.kind == "need" else None
        if wanted is not None:
            self._add_stream(concepts, heat_band(wanted), 1.0, "property")

    def _add_text_routes(self, concepts: dict[str, Evidence], listing: Listing, routes: np.ndarray) -> None:
        """Routes the words point at: a need names the process it feeds, an offer the material a route takes."""
        weight = 0.9 if listing.kind == "need" else 0.7
        for route_id, relative in self._best(routes, self.routes_.concepts_, self.text_routes):
            self._add(concepts, f"route:{route_id}", weight * relative, "text")

    def _add_activity_routes(self, concepts: dict[str, Evidence], listing: Listing) -> None:
        for nace in listing.nace:
            for route in self.knowledge.routes_for_activity(nace):
                if route.resource_type == listing.resource_type:
                    self._add(concepts, f"route:{route.id}", self.activity_weight, "activity")

    def _confidence(self, codes: np.ndarray, suggested: tuple[str, float] | None) -> float | None:
        if suggested is None or codes.size == 0:
            return None
        top = np.sort(codes)[::-1][:5]
        return round(float(top[0] / top.sum()), 3) if top.sum() else None

    def routes_of(self, profile: Profile) -> Iterable[Route]:
        for concept in profile.concepts:
            if concept.startswith("route:"):
                yield self.knowledge.routes[concept[6:]]


@lru_cache(maxsize=1 << 16)
def _evidence(weight: float, source: str) -> Evidence:
    """One Evidence for each weight and source (it is frozen): a batch of 500 profiles holds ~4,000 of them and ~500
    distinct, and the profiles cross from the enriching processes in ~40 % less time when pickle writes each once
    (13.2 -> 7.1 us a profile to write, 20.6 -> 14.0 to read)."""
    return Evidence(weight, source)


def _suggests_code(listing: Listing) -> bool:
    """Whether the listing's text suggests its code: a material given none."""
    return listing.resource_type == "material" and not listing.ewc


def _coded(listing: Listing) -> bool:
    return listing.resource_type == "material" and bool(listing.ewc)


def _highest(scores: np.ndarray, k: int) -> np.ndarray:
    """np.argsort(-scores, kind="stable")[:k], the k highest with ties in position order, without sorting every
    score: ~800 codes for each listing, of which a handful are kept."""
    if k >= len(scores) or np.isnan(scores).any():
        return np.argsort(-scores, kind="stable")[:k]
    negated = -scores
    kth = np.partition(negated, k - 1)[k - 1]
    within = np.flatnonzero(negated <= kth)
    return within[np.argsort(negated[within], kind="stable")][:k]
