"""The engine end to end: cross-language matching, candidate contents, deterministic ranking, the live index."""

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pytest

from matching import ranking
from matching.engine import Engine, Index
from matching.evaluation import CaseFile
from matching.explain import RULE_WORDS
from matching.records import Candidate, Comparison, Impact, Listing
from matching.scoring import COMPARISONS, DEFAULT_WEIGHTS, RuleScorer

Judge = Callable[[Listing, Listing], Candidate | None]


def _partners(candidates: Sequence[Candidate], of: str) -> list[str]:
    return [c.need_id if c.offer_id == of else c.offer_id for c in candidates]


@pytest.fixture(scope="module")
def distractors() -> list[Listing]:
    """Listings near the fly ash and the cement works that have nothing to do with either."""

    def make(
        listing_id: str, kind: str, resource_type: str, title: str, description: str, ewc: str | None = None
    ) -> Listing:
        return Listing(
            id=listing_id,
            organization_id=f"org-{listing_id}",
            kind=kind,
            resource_type=resource_type,
            title=title,
            description=description,
            lat=50.1,
            lon=19.8,
            ewc=ewc,
        )

    return [
        make("offer-sawdust", "offer", "material", "Trociny sosnowe", "Suche trociny z tartaku.", ewc="03 01 05"),
        make("offer-steam", "offer", "energy", "Surplus steam", "Low-pressure steam at 180 C from a boiler house."),
        make("offer-cardboard", "offer", "material", "Used cardboard", "Baled corrugated cardboard.", ewc="15 01 01"),
        make("need-chips", "need", "material", "Wood chips for a biomass boiler", "Clean wood chips as fuel."),
        make("need-scrap", "need", "material", "Steel scrap wanted", "Foundry buys sorted steel scrap."),
        make("need-water", "need", "water", "Process water", "Cooling water make-up for a paper mill."),
    ]


def test_a_polish_fly_ash_offer_finds_an_english_need_in_receiver_vocabulary(
    matcher: Engine, fly_ash_offer: Listing, cement_need: Listing, distractors: list[Listing]
) -> None:
    assert fly_ash_offer.language == "pl" and cement_need.language == "en" and cement_need.ewc is None
    index = matcher.index([fly_ash_offer, cement_need, *distractors])
    found = index.candidates(fly_ash_offer.id)
    assert found and found[0].need_id == cement_need.id
    assert found[0].rule in {"knowledge_route", "text_neighbour", "same_code"}
    backwards = index.candidates(cement_need.id)
    assert backwards and backwards[0].offer_id == fly_ash_offer.id
    assert backwards[0] == found[0], "both directions see the same candidate"


def test_the_reverse_languages_match_too(
    matcher: Engine, fly_ash_offer: Listing, cement_need: Listing, distractors: list[Listing]
) -> None:
    """An English fly ash offer and a Polish cement works written in its own words."""
    offer = replace(
        fly_ash_offer,
        title="Coal fly ash",
        description="Dry siliceous fly ash from a hard-coal power station, loss on ignition below 5 %.",
        language="en",
    )
    need = replace(
        cement_need,
        title="Dodatek pucolanowy do cementu",
        description="Cementownia szuka krzemionkowego dodatku pucolanowego do cementów CEM II.",
        language="pl",
    )
    index = matcher.index([offer, need, *distractors])
    assert _partners(index.candidates(offer.id), offer.id)[:1] == [need.id]
    assert _partners(index.candidates(need.id), need.id)[:1] == [offer.id]


def test_a_need_without_a_code_gets_one_suggested(matcher: Engine, cement_need: Listing) -> None:
    fly_ash_need = replace(cement_need, title="Popiół lotny do produkcji cementu", description="Kupimy popiół lotny.")
    profile = matcher.profiles([fly_ash_need])[0]
    assert profile.suggested_ewc == "10 01 02"
    assert profile.ewc == "10 01 02"
    assert profile.suggested_confidence is not None and 0 < profile.suggested_confidence <= 1


def test_a_hydrogen_offer_is_not_proposed_to_a_cement_works(pair: Judge, cement_need: Listing) -> None:
    hydrogen = Listing(
        id="offer-h2",
        organization_id="org-chlor-alkali",
        kind="offer",
        resource_type="material",
        title="By-product hydrogen from chlor-alkali electrolysis",
        description="Hydrogen gas, 99.9 % purity, from membrane electrolysis.",
        language="en",
        lat=cement_need.lat,
        lon=cement_need.lon,
    )
    need = replace(cement_need, description="Siliceous pozzolanic addition for our CEM II production.")
    assert pair(hydrogen, need) is None


# What every candidate carries -------------------------------------------------------------------------------------


def _check_candidate(candidate: Candidate, min_score: float) -> None:
    assert candidate.rule in RULE_WORDS
    assert 0.0 <= candidate.score <= 1.0
    assert candidate.score >= min_score
    assert candidate.score == RuleScorer.score(candidate.components)
    assert candidate.score == pytest.approx(sum(c.contribution for c in candidate.components), abs=1e-3)
    assert [c.name for c in candidate.components] == list(COMPARISONS)
    total = sum(DEFAULT_WEIGHTS.values())
    for part in candidate.components:
        assert isinstance(part, Comparison)
        assert 0.0 <= part.value <= 1.0, part
        assert part.weight == DEFAULT_WEIGHTS[part.name]
        assert part.contribution == pytest.approx(part.weight * part.value / total, abs=1e-4)
        assert part.level and part.reason.strip(), part
    first = candidate.explanation[0]
    assert first == f"Proposed because {RULE_WORDS[candidate.rule]}."
    reasons = {c.reason for c in candidate.components}
    assert all(sentence in reasons for sentence in candidate.explanation[1:])
    assert candidate.distance_km is None or candidate.distance_km >= 0
    assert isinstance(candidate.impact, Impact)


def test_every_candidate_carries_rule_score_components_and_explanation(
    matcher: Engine, case: CaseFile, case_index: Index
) -> None:
    rules: set[str] = set()
    checked = 0
    for listing in case.listings:
        for candidate in case_index.candidates(listing.id):
            _check_candidate(candidate, matcher.min_score)
            rules.add(candidate.rule)
            checked += 1
    assert checked > 200
    assert len(rules) >= 4, rules  # the case file exercises most blocking rules


def test_candidates_are_ranked_best_first_and_k_cuts_the_list(case: CaseFile, case_index: Index) -> None:
    for listing in case.listings[:80]:
        found = case_index.candidates(listing.id)
        assert [(-c.score, other) for c, other in zip(found, _partners(found, listing.id), strict=True)] == sorted(
            (-c.score, other) for c, other in zip(found, _partners(found, listing.id), strict=True)
        )
        assert case_index.candidates(listing.id, k=3) == found[:3]


@pytest.mark.parametrize("k", [1, 3])
def test_a_shortlist_holds_the_k_best_and_every_candidate_that_reaches_its_counterparts_floor(
    case: CaseFile, case_index: Index, matcher: Engine, k: int
) -> None:
    rng = random.Random(k)
    checked = 0
    for listing in case.listings:
        full = case_index.candidates(listing.id)
        scope = case_index.scope(case_index.profiles[listing.id])
        # Some counterparts take any pair, some only pairs above a random floor, some none; some floors unknown.
        floor_of = {other: rng.choice([0.0, rng.uniform(0.3, 0.9), 2.0, math.nan]) for other in scope.ids()}
        scored = matcher.shortlist(scope, k, np.array([floor_of[other] for other in scope.ids()]))
        short = [matcher.candidate(pair) for pair in scored]
        assert short[:k] == full[:k]
        assert all(candidate in full for candidate in short)
        partners = _partners(full, listing.id)
        wanted = [c for c, other in zip(full, partners, strict=True) if not c.score < floor_of[other]]
        assert all(candidate in short for candidate in wanted)
        checked += len(wanted)
    assert checked > 100


def test_a_scope_holds_every_candidate_and_the_floors_set_until_a_listing_is_added_again(
    matcher: Engine, case: CaseFile
) -> None:
    index = matcher.index(case.listings)
    listing = next(x for x in case.listings if len(index.candidates(x.id)) >= 2)
    others = _partners(index.candidates(listing.id), listing.id)
    scope = index.scope(index.profiles[listing.id])
    assert set(others) <= set(scope.ids())
    assert np.isnan(scope.floors).all()
    index.set_floor(others[0], 0.75)
    scope = index.scope(index.profiles[listing.id])
    assert scope.ids(index.positions(scope, [others[0]]).tolist()) == [others[0]]
    assert scope.floors[index.positions(scope, [others[0]])].tolist() == [0.75]
    assert np.isnan(scope.floors).sum() == len(scope.floors) - 1
    index.add_profiles([index.profiles[others[0]]])
    assert np.isnan(index.scope(index.profiles[listing.id]).floors).all()


# Determinism ------------------------------------------------------------------------------------------------------


def _all_candidates(index: Index, ids: Sequence[str]) -> dict[str, list[Candidate]]:
    return {listing_id: index.candidates(listing_id) for listing_id in ids}


def test_same_input_twice_and_shuffled_input_give_the_same_ranking(matcher: Engine, case: CaseFile) -> None:
    ids = [listing.id for listing in case.listings]
    first = _all_candidates(matcher.index(case.listings), ids)
    again = _all_candidates(matcher.index(case.listings), ids)
    shuffled = list(case.listings)
    random.Random(7).shuffle(shuffled)
    mixed = _all_candidates(matcher.index(shuffled), ids)
    assert first == again
    assert first == mixed
    assert sum(len(v) for v in first.values()) > 200


def test_a_shuffled_pool_gives_the_same_order(matcher: Engine, case: CaseFile) -> None:
    profiles = matcher.profiles(case.listings)
    needs = [p for p in profiles if p.listing.kind == "need"]
    rng = random.Random(11)
    compared = 0
    for offer in [p for p in profiles if p.listing.kind == "offer"][:40]:
        expected = matcher.candidates(offer, needs)
        pool = list(needs)
        rng.shuffle(pool)
        assert matcher.candidates(offer, pool) == expected
        compared += len(expected)
    assert compared > 20


def test_equal_scores_are_broken_by_the_other_listings_id(
    matcher: Engine, fly_ash_offer: Listing, cement_need: Listing
) -> None:
    twins = [replace(cement_need, id=f"need-{s}", organization_id=f"org-{s}") for s in ("c", "a", "b")]
    index = matcher.index([fly_ash_offer, *twins])
    found = index.candidates(fly_ash_offer.id)
    assert [c.need_id for c in found] == ["need-a", "need-b", "need-c"]
    assert len({c.score for c in found}) == 1

    offers = [replace(fly_ash_offer, id=f"offer-{s}", organization_id=f"org-o{s}") for s in ("z", "x", "y")]
    index = matcher.index([cement_need, *offers])
    assert [c.offer_id for c in index.candidates(cement_need.id)] == ["offer-x", "offer-y", "offer-z"]


def _candidate(offer: str, need: str, score: float) -> Candidate:
    return Candidate(offer, need, score, "same_code", (), None, Impact(None, None, None, None, None, None, ""))


def test_rank_orders_by_score_then_other_id_with_threshold_and_limit() -> None:
    pool = [
        _candidate("o", "n3", 0.5),
        _candidate("o", "n1", 0.5),
        _candidate("o", "n2", 0.9),
        _candidate("o", "n4", 0.1),
    ]
    assert [c.need_id for c in ranking.rank(pool, of="o")] == ["n2", "n1", "n3", "n4"]
    assert [c.need_id for c in ranking.rank(pool, of="o", min_score=0.3)] == ["n2", "n1", "n3"]
    assert [c.need_id for c in ranking.rank(pool, of="o", limit=2)] == ["n2", "n1"]
    for_need = [_candidate("o2", "n", 0.4), _candidate("o1", "n", 0.4)]
    assert [c.offer_id for c in ranking.rank(for_need, of="n")] == ["o1", "o2"]


# The live index ---------------------------------------------------------------------------------------------------


def test_incremental_add_update_remove_agrees_with_a_fresh_index(matcher: Engine, case: CaseFile) -> None:
    listings = list(case.listings)
    rng = random.Random(3)
    start, later = listings[:150], listings[150:]
    index = matcher.index(start)
    for listing in later:
        index.add(listing)

    current = {listing.id: listing for listing in listings}
    # Updates that change what a listing points at, where it is, how much it offers and who it may meet.
    for i, listing in enumerate(rng.sample(listings, 24)):
        donor = listings[(listings.index(listing) + 17) % len(listings)]
        if i % 3 == 0:
            changed = replace(listing, title=donor.title, description=donor.description, ewc=donor.ewc)
        elif i % 3 == 1:
            changed = replace(listing, lat=(listing.lat or 0) + 1.5, quantity=(listing.quantity or 1) * 10)
        else:
            changed = replace(listing, max_distance_km=1.0)
        index.update(changed)
        current[changed.id] = changed
    removed = rng.sample(sorted(current), 20)
    for listing_id in removed:
        index.remove(listing_id)
        del current[listing_id]
    index.remove("never-existed")

    fresh = matcher.index(current.values())
    assert set(index.profiles) == set(fresh.profiles) == set(current)
    ids = sorted(current)
    incremental, rebuilt = _all_candidates(index, ids), _all_candidates(fresh, ids)
    assert incremental == rebuilt
    gone = set(removed)
    assert all(not gone & {c.offer_id, c.need_id} for found in incremental.values() for c in found)
    with pytest.raises(KeyError):
        index.candidates(removed[0])


def test_update_drops_a_candidate_that_no_longer_fits(
    matcher: Engine, fly_ash_offer: Listing, cement_need: Listing
) -> None:
    index = matcher.index([fly_ash_offer, cement_need])
    assert _partners(index.candidates(fly_ash_offer.id), fly_ash_offer.id) == [cement_need.id]
    index.update(replace(cement_need, title="Steel scrap wanted", description="Foundry buys sorted steel scrap."))
    assert index.candidates(fly_ash_offer.id) == []
    index.update(cement_need)
    assert _partners(index.candidates(fly_ash_offer.id), fly_ash_offer.id) == [cement_need.id]
    index.remove(cement_need.id)
    assert index.candidates(fly_ash_offer.id) == []


def test_engine_version_names_the_knowledge_it_was_fitted_on(matcher: Engine) -> None:
    version = matcher.version_
    assert version.startswith("1.")
    base, _, digest = version.partition("+")
    assert base and len(digest) == 8
    int(digest, 16)  # a hex digest of the knowledge routes
