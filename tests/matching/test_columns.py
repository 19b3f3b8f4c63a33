"""Engine.pairs (matching.columns) writes exactly what Engine.pair writes, pair by pair."""

from dataclasses import replace
from datetime import date
from typing import Any

from matching.engine import Engine, Index
from matching.evaluation import CaseFile
from matching.records import Candidate, Evidence, Listing, Profile


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


def test_timing_quality_legal_and_quantities_are_read_as_pair_by_pair(matcher: Engine) -> None:
    """Every mix of what the comparisons after blocking read of the listings: windows that overlap or not, quality
    limits met, failed or not stated by the offer, hazardous offers and receivers accepting them or not, waste whose
    recovery operation (its own or its route's) the receiver is permitted for or not, and annual rates in the same
    unit, another one, zero or none (the API refuses NaN). Each comparison is made once per combination in a batch
    (so a wrong combination key gives some pair another's outcome)."""
    concepts = {"ewc:10 01 02": Evidence(1.0, "code"), "route:coal-fly-ash-to-cement": Evidence(0.5, "text")}
    code_only = {"ewc:10 01 02": Evidence(1.0, "code")}
    windows = [(None, None), (date(2026, 1, 1), date(2026, 6, 30)), (date(2026, 7, 1), None)]
    offer_properties = [{}, {"moisture_pct": 8}, {"moisture_pct": 20, "temperature_c": float("nan")}]
    need_properties = [{}, {"max_moisture_pct": 10}, {"min_temperature_c": 60, "accepts_hazardous": True}]
    legal = [(False, None, ()), (True, "by_product", ()), (False, "waste", ()), (True, "waste", ("R5",))]
    permits = [(), ("R5",), ("R1",)]
    rates = [(100.0, "t"), (0.0, "t"), (5000.0, "kg"), (3.0, "MWh"), (None, "t"), (1e12, "t"), (30.0, "t")]

    def listing(kind: str, i: int, held: dict[str, Evidence] = concepts, **fields: Any) -> Profile:
        (start, end), (quantity, unit) = windows[i % 3], rates[i % 7]
        common: dict[str, Any] = {"organization_id": kind, "kind": kind, "resource_type": "material", "title": "x"}
        made = Listing(
            id=f"{kind}-{i}",
            lat=50.0,
            lon=19.0 + i / 100,
            available_from=start,
            available_until=end,
            quantity=quantity,
            unit=unit,
            period="year",
            **common,
            **fields,
        )
        return Profile(made, held)

    offers = [
        listing(
            "offer",
            i,
            properties=offer_properties[i % 3],
            hazardous=legal[i % 4][0],
            legal_status=legal[i % 4][1],
            recovery_operations=legal[i % 4][2],
        )
        for i in range(36)
    ]
    needs = [
        listing(
            "need",
            i,
            concepts if i % 2 else code_only,  # pairs with the code alone have no route (its R5)
            properties=need_properties[i % 3],
            hazardous=i % 5 == 0,
            recovery_operations=permits[i % 3],
        )
        for i in range(30)
    ]
    pairs = [(offer, need) for offer in offers for need in needs]
    expected = _pair_by_pair(matcher, pairs)

    assert matcher.pairs(pairs) == expected
    levels = {c.level for candidate in expected if candidate for c in candidate.components}
    assert {"overlap", "open", "meets", "unverified", "unstated", "noted", "allowed"} <= levels
    assert {"good fit", "partial", "poor fit", "none", "unknown"} <= levels
    excluded = [matcher.score(offer, need) is None for offer, need in pairs]
    assert 0.2 < sum(excluded) / len(pairs) < 0.9
