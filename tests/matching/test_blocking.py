"""Candidate generation: who may be paired at all, and how far an exchange may travel."""

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from matching import blocking, comparisons
from matching.blocking import ConceptIndex, Shared, haversine_km, shared_concepts
from matching.comparisons import Pair
from matching.engine import Engine, Index
from matching.evaluation import CaseFile
from matching.knowledge import Knowledge
from matching.records import Candidate, Evidence, Listing, Profile

Judge = Callable[[Listing, Listing], Candidate | None]


def _distance(a: Listing, b: Listing) -> float:
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


def _profile(listing_id: str, kind: str, *concepts: str, organization: str = "org") -> Profile:
    listing = Listing(id=listing_id, organization_id=organization, kind=kind, resource_type="material", title="x")
    return Profile(listing, {c: Evidence(1.0, "code") for c in concepts})


def test_the_reference_pair_is_a_candidate(pair: Judge, fly_ash_offer: Listing, cement_need: Listing) -> None:
    """The baseline the exclusions below depart from: without the changed field, the pair is proposed."""
    assert pair(fly_ash_offer, cement_need) is not None


def test_offer_and_need_of_one_organisation_are_never_paired(
    pair: Judge, matcher: Engine, fly_ash_offer: Listing, cement_need: Listing
) -> None:
    own_need = replace(cement_need, organization_id=fly_ash_offer.organization_id)
    assert pair(fly_ash_offer, own_need) is None
    index = matcher.index([fly_ash_offer, own_need, replace(cement_need, id="need-other-firm")])
    assert [c.need_id for c in index.candidates(fly_ash_offer.id)] == ["need-other-firm"]
    assert index.candidates(own_need.id) == []


def test_no_candidate_in_the_case_file_pairs_one_organisation_or_one_kind(case: CaseFile, case_index: Index) -> None:
    by_id = {listing.id: listing for listing in case.listings}
    seen = 0
    for listing in case.listings:
        for candidate in case_index.candidates(listing.id):
            offer, need = by_id[candidate.offer_id], by_id[candidate.need_id]
            assert listing.id in (offer.id, need.id)
            assert (offer.kind, need.kind) == ("offer", "need")
            assert offer.organization_id != need.organization_id
            assert offer.resource_type == need.resource_type
            seen += 1
    assert seen > len(case.listings)


def test_listings_of_the_same_kind_are_never_paired(pair: Judge, fly_ash_offer: Listing, cement_need: Listing) -> None:
    other_offer = replace(fly_ash_offer, id="offer-2", organization_id="org-2")
    assert pair(fly_ash_offer, other_offer) is None
    as_offer = replace(cement_need, kind="offer")
    assert pair(fly_ash_offer, as_offer) is None
    assert pair(replace(fly_ash_offer, kind="need"), cement_need) is None


def test_different_resource_types_are_never_paired(pair: Judge, fly_ash_offer: Listing, cement_need: Listing) -> None:
    assert pair(fly_ash_offer, replace(cement_need, resource_type="water")) is None


def test_compatible_checks_kind_order_resource_type_and_owner() -> None:
    offer, need = _profile("o", "offer", "ewc:10 01 02", organization="a"), _profile("n", "need", organization="b")
    assert blocking.compatible(offer, need)
    assert not blocking.compatible(need, offer)
    assert not blocking.compatible(offer, _profile("n", "need", organization="a"))
    assert not blocking.compatible(offer, _profile("o2", "offer", organization="b"))


@pytest.mark.parametrize("side", ["need", "offer"])
def test_a_stated_max_distance_excludes_what_lies_beyond_it(
    pair: Judge, fly_ash_offer: Listing, cement_need: Listing, side: str
) -> None:
    km = _distance(fly_ash_offer, cement_need)

    def limited(limit: float) -> Candidate | None:
        if side == "need":
            return pair(fly_ash_offer, replace(cement_need, max_distance_km=limit))
        return pair(replace(fly_ash_offer, max_distance_km=limit), cement_need)

    assert limited(km * 0.9) is None
    found = limited(km * 1.1)
    assert found is not None
    assert found.distance_km == pytest.approx(km, abs=0.01)
    reason = next(c.reason for c in found.components if c.name == "distance")
    assert f"{km * 1.1:.0f} km" in reason


def test_the_nearer_of_two_stated_limits_applies(pair: Judge, fly_ash_offer: Listing, cement_need: Listing) -> None:
    km = _distance(fly_ash_offer, cement_need)
    generous, tight = replace(fly_ash_offer, max_distance_km=km * 3), replace(cement_need, max_distance_km=km * 0.5)
    assert pair(generous, tight) is None
    assert pair(replace(generous, max_distance_km=km * 0.5), replace(tight, max_distance_km=km * 3)) is None


def test_without_stated_limits_the_routes_distance_applies(
    pair: Judge, knowledge: Knowledge, fly_ash_offer: Listing, cement_need: Listing
) -> None:
    route_km = knowledge.routes["coal-fly-ash-to-cement"].max_distance_km
    assert route_km is not None
    far_need = replace(cement_need, lat=(cement_need.lat or 0) + 3.2)
    assert _distance(fly_ash_offer, far_need) > route_km
    assert pair(fly_ash_offer, far_need) is None
    near_need = replace(cement_need, lat=(cement_need.lat or 0) + 2.0)
    assert _distance(fly_ash_offer, near_need) < route_km
    assert pair(fly_ash_offer, near_need) is not None


def test_a_missing_location_is_not_a_reason_to_exclude(
    pair: Judge, fly_ash_offer: Listing, cement_need: Listing
) -> None:
    found = pair(fly_ash_offer, replace(cement_need, lat=None, lon=None, max_distance_km=1))
    assert found is not None
    assert found.distance_km is None
    assert next(c.level for c in found.components if c.name == "distance") == "unknown"


def test_haversine_distances() -> None:
    krakow, warszawa = (50.0614, 19.9366), (52.2297, 21.0122)
    assert haversine_km(*krakow, *warszawa) == pytest.approx(252, abs=3)
    assert haversine_km(*krakow, *warszawa) == pytest.approx(haversine_km(*warszawa, *krakow))
    assert haversine_km(*krakow, *krakow) == 0.0
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.2, abs=0.1)


def test_distance_limit_prefers_stated_then_route_then_typical() -> None:
    steel = _profile("o", "offer", "ewc:17 04 05", organization="a")
    offer, need = (
        replace(steel, listing=replace(steel.listing, ewc="17 04 05")),
        _profile("n", "need", organization="b"),
    )
    assert blocking.distance_limit_km(offer, need, None) == blocking.FAR_KM  # metals travel far
    assert blocking.distance_limit_km(offer, need, 120.0) == 120.0
    stated = replace(need, listing=replace(need.listing, max_distance_km=40.0))
    assert blocking.distance_limit_km(offer, stated, 120.0) == 40.0


def test_typical_distance_follows_what_travels() -> None:
    heat = Profile(
        Listing(id="h", organization_id="a", kind="offer", resource_type="energy", title="heat"),
        {"stream:heat_low": Evidence(1.0, "text")},
    )
    assert blocking.typical_distance_km(heat) == blocking.STREAM_DISTANCE_KM["heat_low"]
    ash = replace(heat, listing=replace(heat.listing, resource_type="material", ewc="10 01 02"), concepts={})
    assert blocking.typical_distance_km(ash) == blocking.NEAR_KM
    assert blocking.typical_distance_km(ash) < blocking.typical_distance_km(
        replace(ash, listing=replace(ash.listing, ewc="17 04 05"))
    )


def test_shared_concepts_are_strongest_first_and_name_their_rule() -> None:
    offer = Profile(
        _profile("o", "offer").listing,
        {
            "ewc:10 01 02": Evidence(1.0, "code"),
            "sub:10 01": Evidence(0.5, "code"),
            "route:coal-fly-ash-to-cement": Evidence(1.0, "code"),
        },
    )
    need = Profile(
        _profile("n", "need", organization="b").listing,
        {
            "sub:10 01": Evidence(0.4, "text"),
            "route:coal-fly-ash-to-cement": Evidence(0.9, "text"),
            "stream:heat_low": Evidence(1.0, "text"),
        },
    )
    shared = shared_concepts(offer, need)
    assert [s.concept for s in shared] == ["route:coal-fly-ash-to-cement", "sub:10 01"]
    assert [s.strength for s in shared] == sorted((s.strength for s in shared), reverse=True)
    assert shared[0].strength == pytest.approx(1.0 * 0.9 * blocking.CONCEPT_STRENGTH["route"])
    assert [s.rule for s in shared] == ["knowledge_route", "code_proximity"]


@pytest.mark.parametrize(
    ("concept", "offer_source", "need_source", "rule"),
    [
        ("ewc:10 01 02", "code", "code", "same_code"),
        ("ewc:10 01 02", "code", "text", "text_neighbour"),
        ("sub:10 01", "code", "code", "code_proximity"),
        ("stream:heat_low", "property", "text", "same_stream"),
        ("route:r", "code", "text", "knowledge_route"),
        ("route:r", "code", "activity", "activity_route"),
    ],
)
def test_shared_concept_rule(concept: str, offer_source: str, need_source: str, rule: str) -> None:
    assert Shared(concept, 1.0, Evidence(1.0, offer_source), Evidence(1.0, need_source)).rule == rule


def test_concept_index_finds_opposite_kinds_sharing_a_concept_and_forgets_removed_ones() -> None:
    index = ConceptIndex()
    offer = _profile("o", "offer", "ewc:10 01 02", "sub:10 01")
    index.add(offer)
    index.add(_profile("n1", "need", "sub:10 01"))
    index.add(_profile("n2", "need", "ewc:03 01 05"))
    index.add(_profile("o2", "offer", "ewc:10 01 02"))
    assert index.sharing(offer) == {"n1"}
    assert len(index) == 4
    index.add(_profile("n1", "need", "ewc:03 01 05"))  # re-adding replaces the old concepts
    assert index.sharing(offer) == set()
    index.add(_profile("n2", "need", "ewc:10 01 02"))
    index.remove("n1")
    index.remove("never-added")
    assert index.sharing(offer) == {"n2"}
    assert len(index) == 3


def test_a_posting_takes_its_latitude_band_its_rows_without_a_place_and_those_added_out_of_order() -> None:
    posting = blocking._Posting()
    for row, lat in enumerate([-np.inf, 0.1, 0.2, 0.3, 0.4, 0.5]):
        posting.append(row, 1.0 + row, lat, far_km=10.0 * row)
    posting.append(6, 7.0, 0.05, far_km=1.0)  # south of the last: after the sorted prefix
    rows, weights = posting.taken((0.15, 0.35))
    assert rows.tolist() == [0, 2, 3, 6] and weights.tolist() == [1.0, 3.0, 4.0, 7.0]
    assert posting.taken(None)[0].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert posting.far_km == 50.0

    posting.discard(2)  # shifted out, so the prefix stays in order
    posting.discard(0)
    assert posting.taken((0.15, 0.45))[0].tolist() == [3, 4, 6]
    assert posting.taken((1.0, 2.0))[0].tolist() == [6]
    posting.append(7, 8.0, -np.inf, far_km=0.0)  # out of order too: taken by every band
    assert posting.taken((1.0, 2.0))[0].tolist() == [6, 7]


def test_a_reach_from_latitude_bands_is_the_reach_from_every_posting(country_index: Index) -> None:
    """The same listings added north to south, one at a time, leave every posting out of latitude order: their
    reaches gather everything. Added by add_profiles (south to north), the postings are in order and the reaches
    take latitude bands. Both must keep the same pairs with the same values."""
    profiles = list(country_index.profiles.values())
    south_to_north = sorted(profiles, key=lambda p: (p.listing.lat is not None, p.listing.lat or 0.0))
    banded = ConceptIndex(country_index.engine.knowledge.routes.values())
    for profile in south_to_north:
        banded.add(profile)
    unbanded = ConceptIndex(country_index.engine.knowledge.routes.values())
    for profile in reversed(south_to_north):
        unbanded.add(profile)
    assert all(p.sorted_size == p.size for p in banded._postings.values())
    gathered = {"banded": 0, "unbanded": 0}
    for profile in profiles[::3]:
        reaches = {"banded": banded.reach(profile, exact=True), "unbanded": unbanded.reach(profile, exact=True)}
        by_id = {}
        for name, reach in reaches.items():
            ids = list(reach.ids)
            order = sorted(range(len(ids)), key=ids.__getitem__)
            by_id[name] = ([ids[i] for i in order], {k: v[order].tolist() for k, v in reach.known().items()})
            by_id[name][1]["exact"] = reach.exact[order].tolist()
            index = banded if name == "banded" else unbanded
            taken = index._taken(profile, index._features(profile))
            gathered[name] += len(index._gather([taken], pick_routes=True).rows)
        assert by_id["banded"] == by_id["unbanded"], profile.listing.id
    assert gathered["banded"] < 0.8 * gathered["unbanded"]  # the bands leave out a good part of what is gathered


_REACH_ARRAYS = ("rows", "floor", "material", "text", "distance", "quantity", "quality", "exact")


@pytest.mark.parametrize("at_once", [300, blocking._ENTRIES_AT_ONCE])
def test_reaches_built_together_are_each_reach_alone(
    country_index: Index, monkeypatch: pytest.MonkeyPatch, at_once: int
) -> None:
    """Every listing of a kind reached together, in sets of `at_once` gathered entries (300: many sets, some of
    one listing) or as a rebuild does: each listing's slice holds what its reach alone holds, to the last bit."""
    monkeypatch.setattr(blocking, "_ENTRIES_AT_ONCE", at_once)
    concepts = country_index._concepts
    for kind in blocking.KINDS:
        profiles = [p for p in country_index.profiles.values() if p.listing.kind == kind]
        for exact in (True, False):
            together = concepts.reaches(profiles, exact=exact)
            assert len(together) == len(profiles)
            assert len(together.rows) > 10 * at_once or at_once == blocking._ENTRIES_AT_ONCE
            for i, profile in enumerate(profiles):
                alone, part = concepts.reach(profile, exact=exact), together.reach(i)
                assert list(part.ids) == list(alone.ids)
                for name in _REACH_ARRAYS:
                    assert np.array_equal(getattr(part, name), getattr(alone, name), equal_nan=True), name


def test_reaches_are_built_for_one_kind_at_a_time(country_index: Index) -> None:
    concepts, profiles = country_index._concepts, list(country_index.profiles.values())
    with pytest.raises(ValueError, match="one kind"):
        concepts.reaches(profiles[:50])
    assert len(concepts.reaches([])) == 0 and len(concepts.reaches([]).rows) == 0


def test_the_routes_picked_for_a_batch_are_the_engines(matcher: Engine) -> None:
    """Pairs sharing several routes whose strengths round alike (or nearly): for every pair that a batch of needs
    gathers together, the route picked (its limit and recovery operations) is Engine._route's, unless it is
    flagged unsure."""
    routes = sorted(matcher.knowledge.routes.values(), key=lambda r: r.id)
    concepts = [f"route:{r.id}" for r in routes[:6]]
    assert len({r.max_distance_km for r in routes[:6]}) > 2  # limits that differ: the tie-break is exercised
    rng = np.random.default_rng(4)
    weights = (0.5, 0.50001, 0.5000049, 0.6, 0.500005)

    def drawn(listing_id: str, kind: str) -> Profile:
        chosen = rng.choice(concepts, size=4, replace=False).tolist()
        listing = Listing(listing_id, f"org-{listing_id}", kind, "material", "x")
        return Profile(listing, {c: Evidence(float(rng.choice(weights)), "code") for c in chosen})

    offers, needs = [drawn(f"o{i}", "offer") for i in range(30)], [drawn(f"n{i}", "need") for i in range(30)]
    index = ConceptIndex(matcher.knowledge.routes.values())
    for profile in offers + needs:
        index.add(profile)
    found = index._gather([index._taken(need) for need in needs], pick_routes=True)
    by_id, sure = {p.listing.id: p for p in offers}, 0
    for query, row, km, ops, unsure in zip(
        *(found.query, found.rows, found.route_km, found.route_ops, found.unsure), strict=True
    ):
        route = matcher._route(blocking.shared_concepts(by_id[index.id_of(int(row))], needs[int(query)]))
        assert route is not None
        if not unsure:
            assert (km, ops) == (route.max_distance_km or 0.0, blocking.operation_bits(route.recovery_operations))
            sure += 1
    assert sure > 0.8 * len(found.rows) and len(found.rows) > 500


# The vectorised pre-filter and score bounds of ConceptIndex.reach must never drop a pair ---------------------------


def _pair_by_pair(matcher: Engine, index: Index, listing_id: str) -> list[Candidate]:
    """The definition: the listing against every listing of the opposite kind, one exact comparison each."""
    profile = index.profiles[listing_id]
    others = [p for p in index.profiles.values() if p.listing.kind != profile.listing.kind]
    return matcher.candidates(profile, others)


def test_the_index_finds_exactly_what_comparing_every_pair_finds_in_the_case_file(
    matcher: Engine, case_index: Index
) -> None:
    for listing_id in sorted(case_index.profiles):
        expected = _pair_by_pair(matcher, case_index, listing_id)
        assert case_index.candidates(listing_id) == expected
        assert case_index.candidates(listing_id, k=3) == expected[:3]


def test_the_index_finds_exactly_what_comparing_every_pair_finds_in_country_sized_data(
    matcher: Engine, country_index: Index
) -> None:
    """A sample of listings, all of their candidates and the top 5."""
    index = country_index
    checked = 0
    for listing_id in sorted(index.profiles)[::6]:
        expected = _pair_by_pair(matcher, index, listing_id)
        assert index.candidates(listing_id) == expected
        assert index.candidates(listing_id, k=5) == expected[:5]
        checked += len(expected)
    assert checked > 1000  # enough pairs to mean something


def test_settled_scores_are_the_exact_scores(matcher: Engine, country_index: Index) -> None:
    """Where RuleScorer.scores says a reach's score is settled, comparing the pair in Python gives that score (or
    no candidate, when it falls below the threshold): the route each pair is judged under, its distance limit, the
    permit check and the rounding all agree."""
    settled_pairs = 0
    for profile in country_index.profiles.values():
        reach = country_index._concepts.reach(profile, exact=True)
        scores, settled = matcher.scorer.scores(reach.known(), reach.exact)
        for i in np.flatnonzero(settled).tolist():
            other = country_index.profiles[reach.ids[i]]
            offer, need = (profile, other) if profile.listing.kind == "offer" else (other, profile)
            scored = matcher.score(offer, need)
            if scores[i] >= matcher.min_score:
                assert scored is not None and scored.score == scores[i], (offer.listing.id, need.listing.id)
            else:
                assert scored is None
            settled_pairs += 1
    assert settled_pairs > 15_000  # most pairs (16,434 of 18,130): the generated data exercise every comparison


@pytest.mark.parametrize("k", [1, 5, 25])
def test_top_ranks_as_comparing_pair_by_pair_does(country_index: Index, k: int) -> None:
    for listing_id in sorted(country_index.profiles):
        expected = [
            (s.need_id if s.offer_id == listing_id else s.offer_id, s.score)
            for s in country_index.ranked(listing_id, k)
        ]
        assert country_index.top(listing_id, k) == expected


def test_reach_bounds_the_score_of_every_pair_it_keeps(matcher: Engine, case_index: Index) -> None:
    """The bounds are what lets top-k stop early: no exact score may exceed its bound."""
    concepts = blocking.ConceptIndex(matcher.knowledge.routes.values())
    for profile in case_index.profiles.values():
        concepts.add(profile)
    for profile in case_index.profiles.values():
        reach = concepts.reach(profile)
        bounds = matcher.scorer.upper_bounds(reach.known(), len(reach.ids))
        for other_id, bound in zip(reach.ids, bounds, strict=True):
            other = case_index.profiles[other_id]
            offer, need = (profile, other) if profile.listing.kind == "offer" else (other, profile)
            candidate = matcher.pair(offer, need)
            if candidate is not None:
                assert candidate.score <= bound + 1e-3


@pytest.mark.parametrize(
    ("limits", "properties"),
    [
        ({}, {"loi_pct": 3}),  # no limit: "unstated"
        ({"max_loi_pct": 5}, {"loi_pct": 3}),  # met
        ({"max_loi_pct": 5, "min_purity_pct": 90}, {"loi_pct": 3}),  # one met, one the offer does not state
        ({"max_loi_pct": 2, "min_purity_pct": 90}, {"loi_pct": 3}),  # fails: excluded
        ({"max_loi_pct": "low"}, {"loi_pct": 3}),  # not a number: no limit
        ({"max_loi_pct": True}, {"loi_pct": 3}),  # nor is a flag
        ({"ph_min": 6, "ph_max": 8}, {"ph": 7.5}),
        ({"ph_min": 6, "ph_max": 8}, {"ph": 8.5}),
    ],
)
def test_reach_knows_the_quality_comparison_of_each_pair(
    matcher: Engine, limits: dict[str, object], properties: dict[str, object]
) -> None:
    """From either side: the value comparisons.quality gives, and no pair that it excludes."""
    need = Listing("n", "o1", "need", "material", "Fly ash wanted", properties=limits)
    offer = Listing("o", "o2", "offer", "material", "Fly ash", properties=properties)
    offer_profile, need_profile = (Profile(x, {"ewc:10 01 02": Evidence(1.0, "code")}) for x in (offer, need))
    concepts = ConceptIndex(matcher.knowledge.routes.values())
    concepts.add(offer_profile)
    concepts.add(need_profile)
    shared = blocking.shared_concepts(offer_profile, need_profile)
    expected = comparisons.quality(Pair(offer_profile, need_profile, shared, None, 300.0, None, matcher.knowledge))
    for profile in (offer_profile, need_profile):
        reach = concepts.reach(profile, exact=True)
        if expected.excluded:
            assert len(reach.ids) == 0
        else:
            assert list(reach.quality) == [expected.value] and list(reach.exact) == [True]


def test_a_quality_number_that_is_nan_leaves_the_pair_to_the_exact_comparison(matcher: Engine) -> None:
    need = Listing("n", "o1", "need", "material", "Fly ash wanted", properties={"max_loi_pct": float("nan")})
    offer = Listing("o", "o2", "offer", "material", "Fly ash", properties={"loi_pct": 3})
    concepts = ConceptIndex(matcher.knowledge.routes.values())
    for listing in (offer, need):
        concepts.add(Profile(listing, {"ewc:10 01 02": Evidence(1.0, "code")}))
    reach = concepts.reach(Profile(offer, {"ewc:10 01 02": Evidence(1.0, "code")}), exact=True)
    assert list(reach.quality) == [1.0] and list(reach.exact) == [False]


def test_round4_rounds_as_python_does_except_where_it_says_it_may_not() -> None:
    """Vectorised rounding to 4 places: equal to round(x, 4) wherever it does not flag the value as lying at a
    rounding edge, and flagging every value that lies halfway between two results."""
    rng = np.random.default_rng(7)
    halfway = (np.arange(-3000, 3000) + 0.5) / 1e4
    spread, exact = rng.random(20_000) * 2 - 0.5, np.arange(-500, 500) / 1e4
    values = np.concatenate([spread, halfway, halfway + 1e-13, exact])
    rounded, edge = blocking.round4(values)
    assert edge[len(spread) : len(spread) + 2 * len(halfway)].all()
    assert not edge[-len(exact) :].any()
    settled = ~edge
    assert settled.sum() > len(spread) - 100
    assert rounded[settled].tolist() == [round(x, 4) for x in values[settled].tolist()]
