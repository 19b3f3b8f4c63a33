"""Engine.pairs (matching.columns) writes exactly what Engine.pair writes, pair by pair."""

from dataclasses import replace

from matching.engine import Engine, Index
from matching.evaluation import CaseFile
from matching.records import Candidate, Listing, Profile


def _pair_by_pair(matcher: Engine, pairs: list[tuple[Profile, Profile]]) -> list[Candidate | None]:
    return [matcher.pair(offer, need, sentences=False) for offer, need in pairs]


def test_the_candidates_of_a_country_are_those_written_pair_by_pair(
    matcher: Engine, country_index: Index, country_pairs: list[tuple[Profile, Profile]]
) -> None:
    pairs = country_pairs
    written = matcher.pairs(pairs)
    expected = _pair_by_pair(matcher, pairs)
    assert sum(c is not None for c in expected) > 5000
    assert written == expected
    assert matcher.pairs(pairs, country_index.profile_table()) == expected  # as a rebuild writes them
    assert [c.impact for c in written if c] == [c.impact for c in expected if c]  # route is a field past `basis`


def test_roundings_at_halfway_are_those_of_round(matcher: Engine, case: CaseFile) -> None:
    """Quantities whose figures lie at a decimal halfway point (0.0125 t, 1.0015 t, 2.5 m3...), where the arrays'
    arithmetic would round one way and round the other: rounded_array asks rounded for those."""
    offers = [listing for listing in case.listings if listing.kind == "offer"]
    needs = [listing for listing in case.listings if listing.kind == "need"]
    quantities = [0.0125, 1.0015, 2.5, 0.00035, 12.3456789, 7.0]
    variants: list[Listing] = []
    for i, quantity in enumerate(quantities):
        variants += [replace(o, id=f"{o.id}-{i}", quantity=quantity, period="year") for o in offers]
        variants += [replace(n, id=f"{n.id}-{i}", quantity=quantity * 3, period="year") for n in needs]
    profiles = matcher.profiles(variants)
    by_kind = {"offer": [p for p in profiles if p.listing.kind == "offer"]}
    by_kind["need"] = [p for p in profiles if p.listing.kind == "need"]
    pairs = [(o, n) for o in by_kind["offer"] for n in by_kind["need"]]
    written = matcher.pairs(pairs)
    assert written == _pair_by_pair(matcher, pairs)
    assert sum(c is not None for c in written) > 100


def test_no_pairs_and_blocked_pairs_give_nothing(matcher: Engine, case: CaseFile) -> None:
    profiles = matcher.profiles(case.listings[:6])
    assert matcher.pairs([]) == []
    same_kind = [(p, p) for p in profiles]
    assert matcher.pairs(same_kind) == [None] * len(same_kind)
