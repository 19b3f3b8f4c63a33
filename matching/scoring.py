"""Combines the comparisons into one score in [0, 1] with interpretable weights."""

from collections.abc import Callable, Mapping

import numpy as np

from matching import comparisons
from matching.comparisons import Outcome, Pair
from matching.records import Comparison

COMPARISONS: dict[str, Callable[[Pair], Outcome]] = {
    "material": comparisons.material,
    "text": comparisons.text,
    "distance": comparisons.distance,
    "quantity": comparisons.quantity,
    "timing": comparisons.timing,
    "quality": comparisons.quality,
    "legal": comparisons.legal,
}

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

    def compare(self, pair: Pair) -> tuple[Comparison, ...] | None:
        """Every comparison of the pair, or None as soon as a hard constraint fails."""
        total = sum(self.weights.values())
        results = []
        for name, compare in COMPARISONS.items():
            outcome = compare(pair)
            if outcome.excluded:
                return None
            weight = self.weights.get(name, 0.0)
            contribution = weight * outcome.value / total
            results.append(
                Comparison(
                    name,
                    round(outcome.value, 4),
                    weight,
                    round(contribution, 4),
                    outcome.level,
                    outcome.reason,
                )
            )
        return tuple(results)

    def upper_bounds(self, known: Mapping[str, np.ndarray], size: int) -> np.ndarray:
        """The most each of `size` pairs can score, before comparing them: the comparison values already known (or
        bounded from above) count as they are, every other comparison as its best value, 1."""
        total = sum(self.weights.values())
        bounds = np.zeros(size)
        for name in COMPARISONS:
            bounds += self.weights.get(name, 0.0) * known.get(name, np.ones(size)) / total
        return bounds

    @staticmethod
    def score(components: tuple[Comparison, ...]) -> float:
        return round(min(1.0, sum(c.contribution for c in components)), 4)
