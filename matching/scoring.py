"""Combines the comparisons into one score in [0, 1] with interpretable weights."""

from collections.abc import Callable, Mapping

import numpy as np

from matching import comparisons
from matching.blocking import round4
from matching.comparisons import Outcome, Pair
from matching.records import Comparison
from matching.rounding import rounded, rounded_array

COMPARISONS: dict[str, Callable[[Pair], Outcome]] = {
    "material": comparisons.material,
    "text": comparisons.text,
    "distance": comparisons.distance,
    "quantity": comparisons.quantity,
    "timing": comparisons.timing,
    "quality": comparisons.quality,
    "legal": comparisons.legal,
}

# Score bounds are sums of rounded parts computed in another order than the exact score: a pair is compared
# exactly unless its bound lies this far below what it would have to reach.
BOUND_SLACK = 1e-3

# What matters most is that the material fits; the rest decides between candidates that fit.
# "legal" has no weight: it only filters and explains.
DEFAULT_WEIGHTS: dict[str, float] = {
    "material": 0.40,
    "text": 0.15,
    "distance": 0.15,
    "quantity": 0.10,
    "timing": 0.05,
    "quality": 0.15,
    "legal": 0.0,
}


class RuleScorer:
    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        # In COMPARISONS order, and their sum: read for every pair compared.
        self.ordered_weights = tuple(self.weights.get(name, 0.0) for name in COMPARISONS)
        self.total_weight = sum(self.weights.values())

    def outcomes(self, pair: Pair) -> tuple[Outcome, ...] | None:
        """What each comparison found (in COMPARISONS order, sentences not yet written), or None as soon as a hard
        constraint fails."""
        found = []
        for compare in COMPARISONS.values():
            outcome = compare(pair)
            if outcome.excluded:
                return None
            found.append(outcome)
        return tuple(found)

    def parts_of(self, outcomes: tuple[Outcome, ...]) -> tuple[float, ...]:
        """Each comparison's share of the score, rounded as a stored comparison keeps it (Comparison.contribution):
        computed once per pair, for its score and for its comparisons."""
        total = self.total_weight
        # A list built then frozen: a generator's frames cost more than the arithmetic for seven values.
        return tuple(
            [
                rounded(weight * outcome.value / total, 4)
                for weight, outcome in zip(self.ordered_weights, outcomes, strict=True)
            ]
        )

    @staticmethod
    def score_of(parts: tuple[float, ...]) -> float:
        """score(comparisons(...)) from parts_of(outcomes), without writing the comparisons: the same arithmetic in
        the same order."""
        score = 0.0
        for part in parts:
            score += part
        return rounded(min(1.0, score), 4)

    def parts_and_scores(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """parts_of and score_of for many pairs at once, from their comparison values (a row a pair, in COMPARISONS
        order): the same operations in the same order, so the same doubles (rounded_array rounds as rounded)."""
        parts = rounded_array(np.array(self.ordered_weights) * values / self.total_weight, 4)
        score = np.zeros(len(values))
        for part in parts.T:  # as score_of adds them, from 0.0: the same sums
            score += part
        return parts, rounded_array(np.minimum(1.0, score), 4)

    def comparisons(
        self, outcomes: tuple[Outcome, ...], parts: tuple[float, ...], sentences: bool = True
    ) -> tuple[Comparison, ...]:
        """The outcomes written out with their parts_of: each comparison's value, weight, share of the score and
        sentence (an empty one without `sentences`: a stored match that no party acted on writes them when read)."""
        reasons = [o.reason for o in outcomes] if sentences else _NO_REASONS
        made = zip(COMPARISONS, self.ordered_weights, outcomes, parts, reasons, strict=True)
        # tuple.__new__ rather than Comparison(...): a named tuple's constructor is a Python function of its own.
        return tuple([_new(Comparison, (n, rounded(o.value, 4), w, p, o.level, r)) for n, w, o, p, r in made])

    def upper_bounds(self, known: Mapping[str, np.ndarray], size: int) -> np.ndarray:
        """The most each of `size` pairs can score, before comparing them: the comparison values already known (or
        bounded from above) count as they are, every other comparison as its best value, 1."""
        bounds = np.zeros(size)
        for name, weight in zip(COMPARISONS, self.ordered_weights, strict=True):
            bounds += weight * known.get(name, np.ones(size)) / self.total_weight
        return bounds

    def scores(self, known: Mapping[str, np.ndarray], exact: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """score_of for many pairs at once, from comparison values known exactly (Reach.exact; the others count
        as 1, which is what timing and legal give a pair that passes them), and where the result is settled: the
        pair is exact and no sum lies so near a rounding edge that the per-pair arithmetic could round it the
        other way. Unsettled scores are to be computed pair by pair."""
        size = len(exact)
        score, unsure = np.zeros(size), ~exact
        for name, weight in zip(COMPARISONS, self.ordered_weights, strict=True):
            part, edge = round4(weight * known.get(name, np.ones(size)) / self.total_weight)
            score += part  # in score_of's order, from 0.0 as it starts: the same sums
            unsure |= edge
        score, edge = round4(np.minimum(1.0, score))
        return score, ~(unsure | edge)

    @staticmethod
    def score(components: tuple[Comparison, ...]) -> float:
        return RuleScorer.score_of(tuple(c.contribution for c in components))


_NO_REASONS = ("",) * len(COMPARISONS)
_new = tuple.__new__
