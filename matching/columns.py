"""Candidates of many pairs at once: what Engine.pair(offer, need, sentences=False) gives each, with its arithmetic
done as arrays.

A rebuild writes a candidate for every pair it keeps (~1.44 M at 100k listings). Pair by pair, most of that cost
was Python's objects and roundings around seven comparison values: an outcome for each, its part of the score, the
score, the comparisons and the impact estimate. Here what blocking finds of the pairs comes from matching.blocked
(all pairs at once); timing, quality and legal are made by the comparison module's own functions once per
combination of what they read of the two listings; text, distance and quantity, and what follows from the values
(the rounded values, the parts, the score, the impact's figures) are computed for all pairs at once with the same
operations in the same order: the same doubles (rounding.rounded_array rounds as rounded does).
"""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np

from matching import comparisons, impact
from matching.blocked import Blocked, ProfileTable, blocked_slots, holding
from matching.blocking import UNIT_CODES
from matching.comparisons import Outcome, Pair
from matching.knowledge import Route
from matching.records import Candidate, Comparison, Impact, Profile
from matching.rounding import rounded_array
from matching.scoring import COMPARISONS

if TYPE_CHECKING:
    from matching.engine import Engine

__all__ = ["Written", "candidates", "written"]

_new = tuple.__new__
T = TypeVar("T")
_NO_IMPACT = Impact(None, None, None, None, None, None, "")


class _Measured(NamedTuple):
    """The pairs that pass every hard constraint: where each stands among those asked for, its comparison values
    and levels, its rule, route and distance, and what it would exchange a year."""

    at: list[int]
    values: np.ndarray  # a row a pair, COMPARISONS order
    levels: list[tuple[str, ...]]
    rules: list[str]
    routes: list[Route | None]
    distances: list[float | None]
    amounts: np.ndarray  # what it would exchange a year (impact.exchanged_per_year; NaN: nothing known)
    units: np.ndarray  # in which unit (blocking.UNIT_CODES; -1: none)


class Written(NamedTuple):
    """The candidates of many pairs as columns: those scoring at least the engine's min_score, in the pairs' order.
    `at`: where each stands among the pairs asked for; `shown`, `parts` and `levels`: its comparisons' values (as a
    Comparison shows them), contributions and levels, in COMPARISONS order, whose weights are `weights`."""

    at: list[int]
    offer_ids: list[str]
    need_ids: list[str]
    scores: list[float]
    rules: list[str]
    shown: list[list[float]]
    parts: list[list[float]]
    levels: list[tuple[str, ...]]
    distances: list[float | None]
    impacts: list[Impact]
    weights: tuple[float, ...]


def written(engine: "Engine", pairs: Sequence[tuple[Profile, Profile]], table: ProfileTable | None = None) -> Written:
    """The candidates of engine.pair(offer, need, sentences=False) of these pairs, as columns (the way to store
    many without making a Candidate of each). `table`: one holding the pairs' profiles (matching.blocked), else one is
    made of them."""
    measured = _measure(engine, pairs, table)
    weights = tuple(engine.scorer.ordered_weights)
    parts, scores = engine.scorer.parts_and_scores(measured.values)
    kept = np.flatnonzero(scores >= engine.min_score).tolist()
    at = [measured.at[j] for j in kept]

    def picked(column: list[T]) -> list[T]:
        return [column[j] for j in kept]

    return Written(
        at,
        [pairs[i][0].listing.id for i in at],
        [pairs[i][1].listing.id for i in at],
        picked(scores.tolist()),
        picked(measured.rules),
        picked(rounded_array(measured.values, 4).tolist()),
        picked(parts.tolist()),
        picked(measured.levels),
        picked(_kept_distances(measured.distances)),
        picked(_figures(engine, measured)),
        weights,
    )


def candidates(
    engine: "Engine", pairs: Sequence[tuple[Profile, Profile]], table: ProfileTable | None = None
) -> list[Candidate | None]:
    """[engine.pair(offer, need, sentences=False) for offer, need in pairs]: the same candidates (written()'s)."""
    found: list[Candidate | None] = [None] * len(pairs)
    made = written(engine, pairs, table)
    named = tuple(zip(COMPARISONS, made.weights, strict=True))
    columns = (made.at, made.offer_ids, made.need_ids, made.scores, made.rules, made.shown, made.parts, made.levels)
    for i, offer_id, need_id, score, rule, shown, parts, levels, km, figure in zip(
        *columns, made.distances, made.impacts, strict=True
    ):
        each = zip(named, shown, parts, levels, strict=True)
        comparisons_of = tuple([_new(Comparison, (name, v, w, p, level, "")) for (name, w), v, p, level in each])
        found[i] = _new(Candidate, (offer_id, need_id, score, rule, comparisons_of, km, figure))
    return found


def _measure(engine: "Engine", pairs: Sequence[tuple[Profile, Profile]], table: ProfileTable | None) -> _Measured:
    """Each pair's comparisons (Engine.score's values and levels), from what blocking finds of all of them
    (matching.blocked). Text, distance and quantity are computed as arrays, with Python's own `**` where pair by pair
    uses it (numpy's power may differ in the last bit)."""
    table, offer_slots, need_slots = holding(table, pairs)
    found = blocked_slots(engine, table, offer_slots, need_slots)
    at = np.array(found.at, dtype=np.int64)
    constraints = _constraints(engine, pairs, table, found, offer_slots[at], need_slots[at])
    kept = np.flatnonzero(~(constraints[0].excluded | constraints[1].excluded | constraints[2].excluded))
    taken = kept.tolist()
    offers, needs = offer_slots[at[kept]], need_slots[at[kept]]
    kms, rules = [found.distances[j] for j in taken], [found.rules[j] for j in taken]
    rates = (table.annual[offers], table.unit[offers], table.annual[needs], table.unit[needs])
    columns = (
        _text(np.array(found.dots)[kept], table.sum_of_squares[offers] * table.sum_of_squares[needs]),
        _distance(kms, np.array(found.limits)[kept]),
        _quantity(*rates),
        *(_Column(c.values[kept], c.levels[kept], c.excluded[kept]) for c in constraints),
    )
    material_levels = [comparisons.MATERIAL_LEVELS[rule] for rule in rules]
    return _Measured(
        at[kept].tolist(),
        np.column_stack([np.array(found.strengths)[kept], *(column.values for column in columns)]),
        list(zip(material_levels, *(column.levels.tolist() for column in columns), strict=True)),
        rules,
        [found.routes[j] for j in taken],
        kms,
        *_exchanged(*rates),
    )


class _Column(NamedTuple):
    """One comparison's values and levels for many pairs; `excluded`: where it rules the pair out."""

    values: np.ndarray
    levels: np.ndarray
    excluded: np.ndarray


def _constraints(
    engine: "Engine",
    pairs: Sequence[tuple[Profile, Profile]],
    table: ProfileTable,
    found: Blocked,
    offers: np.ndarray,
    needs: np.ndarray,
) -> tuple[_Column, _Column, _Column]:
    """Timing, quality and legal of the pairs blocking let through (`offers` and `needs`: their slots). Each reads a
    few fields of the two listings (legal also the route's operations): it is made once per combination of those
    readings in the batch, for the first pair that has it."""
    knowledge = engine.knowledge

    def pair_at(j: int) -> Pair:
        offer, need = pairs[found.at[j]]
        return _new(Pair, (offer, need, [], found.distances[j], found.limits[j], found.routes[j], knowledge))

    operations: dict[frozenset[str], int] = {}
    routes = [
        operations.setdefault(frozenset(r.recovery_operations if r else ()), len(operations)) for r in found.routes
    ]
    by_route = _combined(table.legal_key, offers, needs) * max(len(operations), 1) + np.array(routes, dtype=np.int64)
    return (
        _by_combination(_combined(table.timing_key, offers, needs), comparisons.timing, pair_at),
        _by_combination(_combined(table.quality_key, offers, needs), comparisons.quality, pair_at),
        _by_combination(by_route, comparisons.legal, pair_at),
    )


def _combined(keys: np.ndarray, offers: np.ndarray, needs: np.ndarray) -> np.ndarray:
    """A number for each pair's combination of its two listings' readings (ProfileTable's *_key)."""
    combined: np.ndarray = keys[offers] * (int(keys.max(initial=0)) + 1) + keys[needs]
    return combined


def _by_combination(
    combination: np.ndarray, compare: Callable[[Pair], Outcome], pair_at: Callable[[int], Pair]
) -> _Column:
    """A comparison of each pair, made for the first pair of each distinct combination of what it reads."""
    _, first, which = np.unique(combination, return_index=True, return_inverse=True)
    made = [compare(pair_at(j)) for j in first.tolist()]
    return _Column(
        np.array([outcome.value for outcome in made], dtype=float)[which],
        np.array([outcome.level for outcome in made], dtype=object)[which],
        np.array([outcome.excluded for outcome in made], dtype=bool)[which],
    )


def _text(dots: np.ndarray, squares: np.ndarray) -> _Column:
    """comparisons.text_measure_of of each pair, given its dot product and the product of the two sums of squares."""
    norms = np.array([square**0.5 for square in squares.tolist()])
    values = np.divide(dots, norms, out=np.zeros_like(dots), where=norms != 0)
    levels = np.where(values >= 0.5, "close", np.where(values >= 0.2, "partial", "weak"))
    return _Column(values, levels, np.zeros(len(values), dtype=bool))


def _distance(kms: list[float | None], limits: np.ndarray) -> _Column:
    """comparisons.distance's value and level of each pair within its limit (blocked() let it through)."""
    known = np.array([km is not None for km in kms], dtype=bool)
    ratios = np.divide(np.array([km or 0.0 for km in kms]), limits)
    powers = np.array([ratio**1.5 for ratio in ratios.tolist()])
    values = np.where(known, np.maximum(0.0, 1.0 - powers), 0.5)
    levels = np.where(values >= 0.7, "near", np.where(values >= 0.3, "reachable", "far"))
    return _Column(values, np.where(known, levels, "unknown"), np.zeros(len(values), dtype=bool))


def _quantity(supply: np.ndarray, supply_unit: np.ndarray, demand: np.ndarray, demand_unit: np.ndarray) -> _Column:
    """comparisons.quantity_measure of each pair's annual rates (ProfileTable.annual and .unit; no unit: -1). Python's
    min(a, b) is b only when b < a, and max(a, b) b only when b > a: so here, NaN included."""
    comparable = (supply_unit == demand_unit) & (supply_unit >= 0)
    none = comparable & ((supply == 0) | (demand == 0))
    low, high = np.where(demand < supply, demand, supply), np.where(demand > supply, demand, supply)
    ratios = np.divide(low, high, out=np.ones_like(low), where=comparable & ~none)
    values = np.where(comparable, np.array([ratio**0.5 for ratio in ratios.tolist()]), 0.5)
    values[none] = 0.0
    levels = np.where(ratios >= 0.5, "good fit", np.where(ratios >= 0.1, "partial", "poor fit"))
    levels = np.where(comparable, np.where(none, "none", levels), "unknown")
    return _Column(values, levels, np.zeros(len(values), dtype=bool))


def _exchanged(
    supply: np.ndarray, supply_unit: np.ndarray, demand: np.ndarray, demand_unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """impact.exchanged_per_year of each pair, as its amount and unit: the offer's rate, capped by the need's in the
    same unit (as min(): the need's only when it is less)."""
    capped = (demand_unit == supply_unit) & (demand < supply)
    return np.where(capped, demand, supply), supply_unit


_UNIT_NAMES = {code: name for name, code in UNIT_CODES.items()}


def _kept_distances(distances: list[float | None]) -> list[float | None]:
    """Each distance as a candidate keeps it: rounded to 10 m, None when unknown."""
    kept = rounded_array(np.array([np.nan if km is None else km for km in distances]), 2).tolist()
    return [None if km is None else rounded_km for km, rounded_km in zip(distances, kept, strict=True)]


def _figures(engine: "Engine", measured: _Measured) -> list[Impact]:
    """impact.estimate(..., sentences=False) of each pair. The factors a route applies to a unit are looked up once
    per combination of route and unit in the batch."""
    knowledge, nan = engine.knowledge, float("nan")
    routes: dict[str | None, int] = {}
    route_at = np.array([routes.setdefault(r.id if r else None, len(routes)) for r in measured.routes], dtype=np.int64)
    combination = route_at * (len(UNIT_CODES) + 1) + measured.units + 1
    _, first, which = np.unique(combination, return_index=True, return_inverse=True)
    factors = [
        impact.route_factors(route, _UNIT_NAMES[unit], knowledge) if route is not None and unit >= 0 else None
        for route, unit in ((measured.routes[j], int(measured.units[j])) for j in first.tolist())
    ]
    applied = np.array([f is not None for f in factors], dtype=bool)[which]
    ratios, substitutes, disposals = (
        np.array([nan if f is None or f[i] is None else f[i] for f in factors])[which] for i in range(3)
    )
    kms = np.array([nan if km is None else km for km in measured.distances])
    road = impact.road_kg_per_tkm("t", 0.0, knowledge)
    roads = np.where((measured.units == UNIT_CODES["t"]) & ~np.isnan(kms), nan if road is None else road, nan)
    amounts = measured.amounts
    # impact._figures' arithmetic, operation for operation; a factor that does not apply is NaN here and counts 0.
    substitution = np.where(np.isnan(substitutes), 0.0, amounts * ratios * substitutes / 1000)
    avoided = np.where(np.isnan(disposals), 0.0, amounts * disposals / 1000)
    transport = np.where(np.isnan(roads), 0.0, amounts * kms * roads / 1000)
    figures = (amounts, substitution + avoided - transport, substitution, avoided, transport)
    estimated = zip(*(rounded_array(figure, 3).tolist() for figure in figures), strict=True)
    written = []
    for unit, route, whole, (quantity, co2e, substituted, disposed, carried) in zip(
        measured.units.tolist(), measured.routes, applied.tolist(), estimated, strict=True
    ):
        if unit < 0:
            written.append(_NO_IMPACT)
        elif not whole or route is None:
            written.append(_new(Impact, (quantity, _UNIT_NAMES[unit], None, None, None, None, "", None)))
        else:
            written.append(
                _new(Impact, (quantity, _UNIT_NAMES[unit], co2e, substituted, disposed, carried, "", route.id))
            )
    return written
