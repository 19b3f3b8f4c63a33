"""Each offer's k best from what the needs' reaches saw (matching.tally), without a reach of the offer's own."""

import numpy as np
import pytest

from matching.engine import Index
from matching.scoring import BOUND_SLACK
from matching.tally import Seen, Tally


def _tally_of_needs(index: Index, k: int, batch: int) -> dict[int, Seen]:
    """What a rebuild tallies: every need ranked with the floors as they stand, `batch` needs between two adds."""
    tally = Tally(index.rows, k, index.engine.min_score)
    needs = sorted(i for i, p in index.profiles.items() if p.listing.kind == "need")
    for start in range(0, len(needs), batch):
        _, seen, by = index.tops_and_seen(needs[start : start + batch], k, tally.floors)
        tally.add(seen, by)
    return tally.of_each()


def test_listings_ranked_together_rank_as_each_alone(country_index: Index) -> None:
    """Index.tops_and_seen scores several reaches as one set of arrays: each listing's top, the pairs seen and who
    saw them are what ranking it alone gives."""
    needs = [i for i, p in sorted(country_index.profiles.items()) if p.listing.kind == "need"][:80]
    floors = np.random.default_rng(3).uniform(0.3, 0.8, country_index.rows)
    tops, seen, by = country_index.tops_and_seen(needs, 5, floors)
    alone = [country_index.top_and_seen(need, 5, floors) for need in needs]
    assert tops == [top for top, _ in alone] and sum(map(len, tops)) > 80
    joined = Seen.joined([pairs for _, pairs in alone])
    for got, wanted in zip(seen, joined, strict=True):
        assert got.tolist() == wanted.tolist()
    assert by.tolist() == [
        country_index.row_of(n) for n, (_, pairs) in zip(needs, alone, strict=True) for _ in pairs.rows
    ]
    assert len(by) > 100


@pytest.mark.parametrize(("k", "batch"), [(1, 7), (5, 50), (20, 1000)])
def test_an_offers_k_best_from_the_tally_are_those_of_its_own_reach(country_index: Index, k: int, batch: int) -> None:
    tallied = _tally_of_needs(country_index, k, batch)
    offers = sorted(i for i, p in country_index.profiles.items() if p.listing.kind == "offer")
    with_candidates = 0
    for offer in offers:
        seen = tallied.get(country_index.row_of(offer), Seen.none())
        expected = country_index.top(offer, k)
        assert country_index.top_of_tallied(offer, seen, k) == expected, offer
        with_candidates += bool(expected)
    assert with_candidates > len(offers) / 2  # the comparison means something


@pytest.mark.parametrize(
    "scores",
    [(0.3, 0.45, 0.5, 0.61, 0.8, 1.0), (0.3, 0.45123456, 0.5, 0.61, 0.80000001, 1.0)],
    ids=["rounded to 4 places, as settled scores are", "not rounded"],
)
def test_floors_are_the_kth_best_exact_score_and_only_what_can_reach_them_is_kept(scores: tuple[float, ...]) -> None:
    rng = np.random.default_rng(3)
    rows, k = 40, 4
    tally = Tally(rows, k, 0.3)
    added: list[tuple[int, int, float, bool]] = []
    for _ in range(12):
        size = 60
        seen = Seen(rng.integers(0, rows, size), rng.choice(scores, size), rng.random(size) < 0.8)
        by = rng.integers(100, 200, size)
        tally.add(seen, by)
        added += zip(seen.rows.tolist(), by.tolist(), seen.values.tolist(), seen.settled.tolist(), strict=True)
    kept = tally.of_each()
    for row in range(rows):
        exact = sorted((v for r, _, v, settled in added if r == row and settled), reverse=True)
        floor = exact[k - 1] if len(exact) >= k else 0.3
        assert tally.floors[row] == floor
        wanted = sorted((b, v, s) for r, b, v, s in added if r == row and v >= floor - (0.0 if s else BOUND_SLACK))
        got = kept.get(row, Seen.none())
        assert sorted(zip(got.rows.tolist(), got.values.tolist(), got.settled.tolist(), strict=True)) == wanted


def test_floors_decide_what_a_reach_sees_and_not_its_own_best(country_index: Index) -> None:
    needs = [i for i, p in sorted(country_index.profiles.items()) if p.listing.kind == "need"][:40]
    lowest = np.full(country_index.rows, country_index.engine.min_score)
    above_any = np.full(country_index.rows, 1.1)
    for need in needs:
        best, seen = country_index.top_and_seen(need, 5, lowest)
        # each of the need's own best is a pair its offer may count: seen with the lowest floors
        assert {country_index.row_of(offer) for offer, _ in best} <= set(seen.rows.tolist())
        # floors no pair can reach, or none, hide every pair; the need's own best stay the same
        for floors in (above_any, None):
            unseen_best, unseen = country_index.top_and_seen(need, 5, floors)
            assert unseen_best == best and len(unseen.rows) == 0
    assert sum(len(country_index.top_and_seen(n, 5, lowest)[0]) for n in needs) > 40  # most needs have offers


def test_a_pair_is_worth_tallying_when_it_can_reach_its_counterparts_floor() -> None:
    floors = np.array([0.5, 0.6])
    seen = Seen(
        np.array([0, 0, 0, 0, 1]), np.array([0.5, 0.4995, 0.4995, 0.498, 0.61]), np.array([1, 1, 0, 0, 1], bool)
    )
    worth = seen.worth(floors)
    # a tie with the floor counts; a bound counts within BOUND_SLACK below it, an exact score does not
    assert worth.rows.tolist() == [0, 0, 1] and worth.values.tolist() == [0.5, 0.4995, 0.61]
    assert worth.settled.tolist() == [True, False, True]


def test_a_tally_that_saw_nothing_holds_nothing() -> None:
    tally = Tally(3, 2, 0.3)
    tally.add(Seen.none(), np.empty(0, np.int64))
    assert tally.of_each() == {} and tally.floors.tolist() == [0.3, 0.3, 0.3]
