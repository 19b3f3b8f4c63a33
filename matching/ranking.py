"""Ordering candidates: best score first, ties broken by the other listing's id so the order never wavers."""

from collections.abc import Iterable

from matching.records import Candidate


def rank(
    candidates: Iterable[Candidate], *, of: str, limit: int | None = None, min_score: float = 0.0
) -> list[Candidate]:
    """Candidates of listing `of`, ranked; `of` is the offer or the need of each candidate."""

    def other(candidate: Candidate) -> str:
        return candidate.need_id if candidate.offer_id == of else candidate.offer_id

    kept = [c for c in candidates if c.score >= min_score]
    kept.sort(key=lambda c: (-c.score, other(c)))
    return kept[:limit] if limit is not None else kept
