"""The regional plan is feasible and optimal, and beats a greedy allocation where greedy is wrong."""

import itertools
from collections.abc import Mapping, Sequence

import pytest

from matching.plan import Edge, Plan, allocate


def greedy(supply: Mapping[str, float], demand: Mapping[str, float], edges: Sequence[Edge]) -> float:
    """The obvious heuristic: fill the most valuable pairs first."""
    left, room, total = dict(supply), dict(demand), 0.0
    for edge in sorted(edges, key=lambda e: -e.value_per_unit):
        amount = min(left[edge.offer], room[edge.need])
        left[edge.offer] -= amount
        room[edge.need] -= amount
        total += amount * edge.value_per_unit
    return total


def assert_feasible(plan: Plan, supply: Mapping[str, float], demand: Mapping[str, float | None]) -> None:
    for offer, limit in supply.items():
        assert sum(a.quantity for a in plan.allocations if a.offer == offer) <= limit + 1e-6
    for need, bound in demand.items():
        if bound is not None:
            assert sum(a.quantity for a in plan.allocations if a.need == need) <= bound + 1e-6
    assert all(a.quantity > 0 for a in plan.allocations)


def test_beats_greedy_where_greedy_is_wrong() -> None:
    # Offer A fits both needs; B fits only N1. Greedy gives N1 to A and strands B.
    supply = {"A": 100.0, "B": 100.0}
    demand: dict[str, float] = {"N1": 100.0, "N2": 100.0}
    edges = [Edge("a1", "A", "N1", 10.0), Edge("a2", "A", "N2", 9.0), Edge("b1", "B", "N1", 8.0)]
    plan = allocate(supply, demand, edges)
    assert_feasible(plan, supply, demand)
    assert greedy(supply, demand, edges) == pytest.approx(1000.0)
    assert plan.total == pytest.approx(1700.0)
    assert {(a.offer, a.need, a.quantity) for a in plan.allocations} == {("A", "N2", 100.0), ("B", "N1", 100.0)}


def test_matches_the_brute_force_optimum_on_a_small_case() -> None:
    # Whole-unit brute force over a grid finds the same optimum as the linear programme.
    supply = {"A": 3.0, "B": 2.0}
    demand: dict[str, float] = {"N1": 2.0, "N2": 3.0}
    edges = [
        Edge("a1", "A", "N1", 5.0),
        Edge("a2", "A", "N2", 4.0),
        Edge("b1", "B", "N1", 6.0),
        Edge("b2", "B", "N2", 1.0),
    ]
    best = 0.0
    for x in itertools.product(range(4), range(4), range(3), range(3)):
        if x[0] + x[1] <= 3 and x[2] + x[3] <= 2 and x[0] + x[2] <= 2 and x[1] + x[3] <= 3:
            best = max(best, sum(q * e.value_per_unit for q, e in zip(x, edges, strict=True)))
    plan = allocate(supply, demand, edges)
    assert_feasible(plan, supply, demand)
    assert plan.total == pytest.approx(best)


def test_needs_without_a_quantity_are_bounded_by_the_offers_only() -> None:
    plan = allocate({"A": 50.0}, {"N": None}, [Edge("a", "A", "N", 2.0)])
    assert plan.total == pytest.approx(100.0)


def test_pairs_that_lose_value_are_left_out() -> None:
    plan = allocate({"A": 50.0}, {"N": 50.0}, [Edge("a", "A", "N", -1.0)])
    assert plan.allocations == ()
    assert plan.total == 0.0
