"""Ordering candidates: best score first, ties broken by the other listing's id so the order never wavers."""

from collections.abc import Iterable
from typing import Protocol, TypeVar


class Pairing(Protocol):
    @property
    def offer_id(self) -> str: ...
    @property
    def need_id(self) -> str: ...
    @property
    def score(self) -> float: ...


P = TypeVar("P", bound=Pairing)


def rank(candidates: Iterable[P], *, of: str, limit: int | None = None, min_score: float = 0.0) -> list[P]:
    """Candidates of listing `of` (written out or only scored), ranked; `of` is the offer or the need of each."""

    def other(candidate: P) -> str:
        return candidate.need_id if candidate.offer_id == of else candidate.offer_id

    kept = [c for c in candidates if c.score >= min_score]
    kept.sort(key=lambda c: (-c.score, other(c)))
    return kept[:limit] if limit is not None else kept
