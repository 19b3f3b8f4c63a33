"""Candidates of many pairs at once: what Engine.pair(offer, need, sentences=False) gives each, with its arithmetic
done as arrays.

A rebuild writes a candidate for every pair it keeps (~1.44 M at 100k listings). Pair by pair, most of that cost
was Python's objects and roundings around seven comparison values: an outcome for each, its part of the score, the
score, the comparisons and the impact estimate. Here what blocking finds of the pairs comes from matching.blocked
(all pairs at once), the comparisons' values and levels are measured pair by pair by the comparison module's own
functions, and what follows from them (the rounded values, the parts, the score, the impact's figures) is computed
for all pairs at once with the same operations in the same order: the same doubles (rounding.rounded_array rounds
as rounded does).
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from matching import comparisons, impact
from matching.blocked import ProfileTable, blocked
from matching.comparisons import Pair
from matching.knowledge import Route
from matching.records import Candidate, Comparison, Impact, Profile
from matching.rounding import rounded_array
from matching.scoring import COMPARISONS

if TYPE_CHECKING:
    from matching.engine import Engine

__all__ = ["candidates"]

_new = tuple.__new__
_NO_IMPACT = Impact(None, None, None, None, None, None, "")


class _Measured(NamedTuple):
    """The pairs that pass every hard constraint: where each stands among those asked for, its comparison values
    (flat, COMPARISONS order) and levels, its rule, route and distance, and what it would exchange a year."""

    at: list[int]
    values: list[float]
    levels: list[tuple[str, ...]]
    rules: list[str]
    routes: list[Route | None]
    distances: list[float | None]
    exchanged: list[tuple[float, str] | None]


def candidates(
    engine: "Engine", pairs: Sequence[tuple[Profile, Profile]], table: ProfileTable | None = None
) -> list[Candidate | None]:
    """[engine.pair(offer, need, sentences=False) for offer, need in pairs]: the same candidates. `table`: one
    holding the pairs' profiles (matching.blocked), else one is made of them."""
    found: list[Candidate | None] = [None] * len(pairs)
    measured = _measure(engine, pairs, table)
    if not measured.at:
        return found
    scorer = engine.scorer
    values = np.array(measured.values).reshape(len(measured.at), len(COMPARISONS))
    shown = rounded_array(values, 4)
    parts, scores = scorer.parts_and_scores(values)
    named = tuple(zip(COMPARISONS, scorer.ordered_weights, strict=True))
    columns = (
        scores.tolist(),
        measured.rules,
        shown.tolist(),
        parts.tolist(),
        measured.levels,
        _kept_distances(measured.distances),
        _figures(engine, measured),
    )
    for i, (score_of, rule, shown_of, parts_of, levels, km, figure) in zip(
        measured.at, zip(*columns, strict=True), strict=True
    ):
        offer, need = pairs[i]
        if score_of >= engine.min_score:
            made = zip(named, shown_of, parts_of, levels, strict=True)
            written = tuple([_new(Comparison, (name, v, w, p, level, "")) for (name, w), v, p, level in made])
            found[i] = _new(Candidate, (offer.listing.id, need.listing.id, score_of, rule, written, km, figure))
    return found


def _measure(engine: "Engine", pairs: Sequence[tuple[Profile, Profile]], table: ProfileTable | None) -> _Measured:
    """Each pair's comparisons, by the comparison module's functions (Engine.score's, without the outcomes of the
    four whose values and levels it measures alone), from what blocking finds of all of them (matching.blocked)."""
    measured = _Measured([], [], [], [], [], [], [])
    knowledge = engine.knowledge
    found = blocked(engine, pairs, table)
    for i, strength, rule, dot, route, km, limit in zip(*found, strict=True):
        offer, need = pairs[i]
        # What timing, quality and legal read of a pair: its listings and route (not its shared concepts).
        pair = _new(Pair, (offer, need, [], km, limit, route, knowledge))
        timing, quality, legal = comparisons.timing(pair), comparisons.quality(pair), comparisons.legal(pair)
        if timing.excluded or quality.excluded or legal.excluded:
            continue
        text = comparisons.text_measure_of(dot, offer, need)
        distance = comparisons.distance(pair)[:2] if km is None else comparisons.distance_measure(km, limit)
        quantity = comparisons.quantity_measure(offer.listing.annual, need.listing.annual)
        measured.at.append(i)
        measured.values.extend((strength, text[0], distance[0], quantity[0], timing.value, quality.value, legal.value))
        levels = (text[1], distance[1], quantity[1], timing.level, quality.level, legal.level)
        measured.levels.append((comparisons.MATERIAL_LEVELS[rule], *levels))
        measured.rules.append(rule)
        measured.routes.append(route)
        measured.distances.append(km)
        measured.exchanged.append(impact.exchanged_per_year(offer.listing, need.listing))
    return measured


def _kept_distances(distances: list[float | None]) -> list[float | None]:
    """Each distance as a candidate keeps it: rounded to 10 m, None when unknown."""
    kept = rounded_array(np.array([np.nan if km is None else km for km in distances]), 2).tolist()
    return [None if km is None else rounded_km for km, rounded_km in zip(distances, kept, strict=True)]


def _figures(engine: "Engine", measured: _Measured) -> list[Impact]:
    """impact.estimate(..., sentences=False) of each pair."""
    knowledge, nan = engine.knowledge, float("nan")
    known: dict[tuple[str, str], tuple[float, float | None, float | None] | None] = {}
    rows: list[tuple[float, ...]] = []  # amount, ratio, the three factors and distance; NaN for none
    applied: list[bool] = []  # whether a route's factors apply (else only the amount is estimated)
    for exchanged, route, km in zip(measured.exchanged, measured.routes, measured.distances, strict=True):
        amount, unit = exchanged or (nan, "")
        if route is not None and exchanged is not None and (route.id, unit) not in known:
            known[route.id, unit] = impact.route_factors(route, unit, knowledge)
        factors = known.get((route.id, unit)) if route is not None else None
        applied.append(factors is not None)
        ratio, substitute, disposal = factors or (nan, None, None)
        road = impact.road_kg_per_tkm(unit, km, knowledge)
        rows.append(tuple(nan if x is None else x for x in (amount, ratio, substitute, disposal, road, km)))
    amounts, ratios, substitutes, disposals, roads, kms = np.array(rows).reshape(-1, 6).T
    # impact._figures' arithmetic, operation for operation; a factor that does not apply is NaN here and counts 0.
    substitution = np.where(np.isnan(substitutes), 0.0, amounts * ratios * substitutes / 1000)
    avoided = np.where(np.isnan(disposals), 0.0, amounts * disposals / 1000)
    transport = np.where(np.isnan(roads), 0.0, amounts * kms * roads / 1000)
    figures = (amounts, substitution + avoided - transport, substitution, avoided, transport)
    estimated = zip(*(rounded_array(figure, 3).tolist() for figure in figures), strict=True)
    written = []
    for exchanged, route, whole, (quantity, co2e, substituted, disposed, carried) in zip(
        measured.exchanged, measured.routes, applied, estimated, strict=True
    ):
        if exchanged is None:
            written.append(_NO_IMPACT)
        elif not whole or route is None:
            written.append(_new(Impact, (quantity, exchanged[1], None, None, None, None, "", None)))
        else:
            written.append(_new(Impact, (quantity, exchanged[1], co2e, substituted, disposed, carried, "", route.id)))
    return written
