"""The k best counterparts of every listing of one kind, gathered from the reaches of the other kind's listings.

A rebuild ranks every need over its reach. Scores are symmetric and the reaches never leave out a pair the exact
comparisons would keep, so the pairs the needs' reaches see are all the pairs any offer can have. Tallying them per
offer gives each offer's k best without a reach of its own (half a rebuild's reaches, round 9).

Only pairs that may still enter their counterpart's k best are tallied: a floor per counterpart (the k-th best
exact score tallied so far) rises as needs are ranked, and the reaches leave out what falls below it.
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from matching.blocking import kept
from matching.scoring import BOUND_SLACK


class Seen(NamedTuple):
    """Pairs of one listing, each with the listing at an index row: the pair's exact score where `settled`,
    elsewhere the most it can score (to be compared in Python if it may still count)."""

    rows: np.ndarray
    values: np.ndarray
    settled: np.ndarray

    @classmethod
    def none(cls) -> "Seen":
        return cls(np.empty(0, np.int64), np.empty(0), np.empty(0, bool))

    @classmethod
    def joined(cls, parts: Sequence["Seen"]) -> "Seen":
        return cls(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True))) if parts else cls.none()

    def reaching(self, floors: np.ndarray) -> np.ndarray:
        """Which pairs can reach their counterpart's floor: exactly (ties count), or a bound within BOUND_SLACK."""
        return np.asarray(self.values >= floors[self.rows] - np.where(self.settled, 0.0, BOUND_SLACK))

    def worth(self, floors: np.ndarray) -> "Seen":
        return self.where(self.reaching(floors))

    def where(self, keep: np.ndarray) -> "Seen":
        """The pairs where a boolean mask holds."""
        at = kept(keep)
        return Seen(self.rows[at], self.values[at], self.settled[at])


class Tally:
    """Per index row (a listing of the kind being tallied), the pairs seen that may be among its k best."""

    def __init__(self, rows: int, k: int, min_score: float) -> None:
        self.k = k
        # The k-th best exact score tallied for each row, min_score until k are: a pair below it cannot count.
        # Floors that lag behind what was added (see add) leave out less, never too much.
        self.floors = np.full(rows, min_score)
        self._seen = Seen.none()
        self._by = np.empty(0, np.int64)  # the row of the listing whose reach saw each pair
        self._waiting: list[tuple[Seen, np.ndarray]] = []

    def add(self, seen: Seen, by: np.ndarray) -> None:
        """Pairs seen by the listings at rows `by` (aligned with `seen`). They are merged, and the floors of their
        counterparts raised, once as many pairs wait as are tallied: a merge sorts every tallied pair of the rows
        touched, so merging each batch at once would sort the whole tally again for every batch."""
        self._waiting.append((seen, by))
        if sum(len(waiting) for _, waiting in self._waiting) >= len(self._by):
            self._merge_waiting()

    def of_each(self) -> dict[int, Seen]:
        """The pairs tallied for every row that has any, each with the row of the listing that saw it."""
        self._merge_waiting()
        if not len(self._by):
            return {}
        order = np.argsort(self._seen.rows, kind="stable")
        rows = self._seen.rows[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        by, values, settled = self._by[order], self._seen.values[order], self._seen.settled[order]
        return {
            int(rows[start]): Seen(by[start:end], values[start:end], settled[start:end])
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
        }

    def _merge_waiting(self) -> None:
        if not self._waiting:
            return
        seen = Seen.joined([s for s, _ in self._waiting])
        by = np.concatenate([b for _, b in self._waiting])
        self._waiting = []
        touched = np.zeros(len(self.floors), bool)
        touched[seen.rows] = True
        again = touched[self._seen.rows]  # what was tallied for the rows touched is merged with the new pairs
        merged = Seen.joined([self._seen.where(again), seen])
        merged_by = np.concatenate([self._by[kept(again)], by])
        self._raise_floors(merged)
        keep = merged.reaching(self.floors)
        self._seen = Seen.joined([self._seen.where(~again), merged.where(keep)])
        self._by = np.concatenate([self._by[kept(~again)], merged_by[kept(keep)]])

    def _raise_floors(self, seen: Seen) -> None:
        rows, values = _by_row_best_first(seen.rows[seen.settled], seen.values[seen.settled])
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.empty(0, np.int64)
        counts = np.diff(np.r_[starts, len(rows)])
        full = starts[counts >= self.k]
        self.floors[rows[full]] = np.maximum(self.floors[rows[full]], values[full + self.k - 1])


_STEPS = 10_000  # settled scores are rounded to 4 places (RuleScorer.scores): whole steps of 1e-4


def _by_row_best_first(rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs sorted by row, best value first. Values in whole steps of 1e-4 between 0 and 1 (every settled score)
    sort with their row as one integer: at ~3 M pairs 5x faster than a lexsort over the two, which sorts the rest."""
    steps = np.rint(values * _STEPS)
    if len(values) and np.array_equal(steps / _STEPS, values) and steps.min() >= 0 and steps.max() <= _STEPS:
        key = np.sort(rows * (_STEPS + 1) + (_STEPS - steps.astype(np.int64)))
        return key // (_STEPS + 1), (_STEPS - key % (_STEPS + 1)) / _STEPS
    order = np.lexsort((-values, rows))
    return rows[order], values[order]
