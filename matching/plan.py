"""A regional plan: how much of each offer goes to each need, so that the region gains the most.

The allocation is a linear programme solved with HiGHS (scipy.optimize.linprog): maximise the sum over candidate
pairs of quantity x value per unit, never giving away more than an offer has nor more than a need takes.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


@dataclass(frozen=True)
class Edge:
    """A candidate pair and what one unit moved along it is worth (t CO2e per t, or 1 to count tonnes)."""

    key: str
    offer: str
    need: str
    value_per_unit: float


@dataclass(frozen=True)
class Allocation:
    key: str
    offer: str
    need: str
    quantity: float
    value: float


@dataclass(frozen=True)
class Plan:
    total: float
    allocations: tuple[Allocation, ...]
    status: str


def allocate(supply: Mapping[str, float], demand: Mapping[str, float | None], edges: Sequence[Edge]) -> Plan:
    """`demand[need]` None means the need states no quantity: only the offers bound what it takes."""
    usable = [e for e in edges if e.value_per_unit > 0 and supply.get(e.offer, 0) > 0 and demand.get(e.need, 1) != 0]
    if not usable:
        return Plan(0.0, (), "nothing to allocate")
    offers = sorted({e.offer for e in usable})
    needs = sorted({e.need for e in usable if demand.get(e.need) is not None})
    rows = {name: i for i, name in enumerate(offers)} | {name: len(offers) + i for i, name in enumerate(needs)}
    entries = [(rows[e.offer], j) for j, e in enumerate(usable)]
    entries += [(rows[e.need], j) for j, e in enumerate(usable) if e.need in rows]
    r, c = zip(*entries, strict=True)
    limits = sparse.csr_matrix((np.ones(len(entries)), (r, c)), shape=(len(rows), len(usable)))
    bounds = [supply[o] for o in offers] + [float(demand[n] or 0) for n in needs]
    result = linprog(
        -np.array([e.value_per_unit for e in usable]), A_ub=limits, b_ub=bounds, bounds=(0, None), method="highs"
    )
    if not result.success:
        return Plan(0.0, (), result.message)
    allocations = tuple(
        Allocation(e.key, e.offer, e.need, round(float(x), 6), round(float(x) * e.value_per_unit, 6))
        for e, x in zip(usable, result.x, strict=True)
        if x > 1e-9
    )
    return Plan(round(-float(result.fun), 6), allocations, "optimal")
