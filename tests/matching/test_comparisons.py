"""Per-pair comparisons and hard constraints: hazard, permits, quality limits, timing and quantities."""

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from matching.blocking import haversine_km
from matching.knowledge import Knowledge
from matching.records import Candidate, Listing, annual_rate

Judge = Callable[[Listing, Listing], Candidate | None]


def _component(candidate: Candidate, name: str) -> tuple[float, str, str]:
    (found,) = [c for c in candidate.components if c.name == name]
    return found.value, found.level, found.reason


def _explained(candidate: Candidate) -> str:
    return " ".join(candidate.explanation)


# Hazardous offers -------------------------------------------------------------------------------------------------


def test_a_hazardous_offer_is_excluded_when_the_need_does_not_accept_it(
    pair: Judge, battery_offer: Listing, smelter_need: Listing
) -> None:
    assert pair(battery_offer, smelter_need) is None
    # The same offer without the hazard is proposed: it is the hazard that excludes it.


@pytest.mark.parametrize("how", ["accepts_hazardous", "hazardous_code"])
def test_a_need_that_accepts_hazardous_waste_gets_it_and_the_explanation_says_so(
    pair: Judge, battery_offer: Listing, smelter_need: Listing, how: str
) -> None:
    if how == "accepts_hazardous":
        accepting = replace(smelter_need, properties={"accepts_hazardous": True})
    else:
        accepting = replace(smelter_need, ewc="16 06 01", hazardous=True)
    found = pair(battery_offer, accepting)
    assert found is not None
    value, level, reason = _component(found, "legal")
    assert (value, level) == (1.0, "noted")
    assert "hazardous" in reason and "accept" in reason
    assert reason in found.explanation


def test_accepts_hazardous_false_does_not_accept(pair: Judge, battery_offer: Listing, smelter_need: Listing) -> None:
    assert pair(battery_offer, replace(smelter_need, properties={"accepts_hazardous": False})) is None


def test_a_need_with_a_hazardous_code_accepts_hazardous_waste_even_without_the_flag(
    pair: Judge, battery_offer: Listing, smelter_need: Listing
) -> None:
    assert pair(battery_offer, replace(smelter_need, ewc="16 06 01")) is not None


def test_an_offer_with_a_hazardous_code_is_hazardous_even_without_the_flag(
    pair: Judge, battery_offer: Listing, smelter_need: Listing
) -> None:
    assert pair(replace(battery_offer, hazardous=False), smelter_need) is None


# Waste permits (recovery operations R1-R13) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def accepting_smelter(smelter_need: Listing) -> Listing:
    return replace(smelter_need, properties={"accepts_hazardous": True})


def test_waste_goes_only_to_a_receiver_permitted_for_a_fitting_recovery_operation(
    pair: Judge, knowledge: Knowledge, battery_offer: Listing, accepting_smelter: Listing
) -> None:
    route_codes = set(knowledge.routes["lead-scrap-and-batteries-to-smelters"].recovery_operations)
    assert route_codes == {"R4"}
    assert pair(battery_offer, replace(accepting_smelter, recovery_operations=("R1", "R10"))) is None
    found = pair(battery_offer, replace(accepting_smelter, recovery_operations=("R4", "R13")))
    assert found is not None
    reason = _component(found, "legal")[2]
    assert "permitted for R4" in reason
    assert reason in found.explanation


def test_the_offers_own_recovery_operations_come_before_the_routes(
    pair: Judge, battery_offer: Listing, accepting_smelter: Listing
) -> None:
    offer = replace(battery_offer, recovery_operations=("R13",))
    assert pair(offer, replace(accepting_smelter, recovery_operations=("R4",))) is None
    assert pair(offer, replace(accepting_smelter, recovery_operations=("R13",))) is not None


def test_permits_bind_waste_only(pair: Judge, battery_offer: Listing, accepting_smelter: Listing) -> None:
    product = replace(battery_offer, legal_status="by_product")
    found = pair(product, replace(accepting_smelter, recovery_operations=("R1",)))
    assert found is not None
    assert "permit" not in _component(found, "legal")[2]


def test_waste_without_a_stated_permit_is_proposed_with_the_permit_it_needs(
    pair: Judge, battery_offer: Listing, accepting_smelter: Listing
) -> None:
    found = pair(battery_offer, accepting_smelter)
    assert found is not None
    assert "needs a permit for R4" in _explained(found)


# Quality limits: heat temperature and the rest --------------------------------------------------------------------


def test_heat_colder_than_the_need_requires_is_excluded_and_hotter_heat_matches(
    pair: Judge, heat_offer: Listing, district_heating_need: Listing
) -> None:
    wanted = float(district_heating_need.properties["min_temperature_c"])
    colder = replace(heat_offer, properties={"temperature_c": wanted - 10})
    assert pair(colder, district_heating_need) is None
    for temperature in (wanted, wanted + 20, wanted + 80):
        found = pair(replace(heat_offer, properties={"temperature_c": temperature}), district_heating_need)
        assert found is not None, temperature
        value, level, reason = _component(found, "quality")
        assert (value, level) == (1.0, "meets")
        assert f"{temperature}" in reason


def test_heat_of_unstated_temperature_is_proposed_but_unverified(
    pair: Judge, heat_offer: Listing, district_heating_need: Listing
) -> None:
    found = pair(replace(heat_offer, properties={}), district_heating_need)
    assert found is not None
    value, level, reason = _component(found, "quality")
    assert (value, level) == (0.5, "unverified")
    assert "temperature" in reason


@pytest.mark.parametrize(
    ("need_limit", "offer_value", "excluded"),
    [
        ({"max_moisture_pct": 10}, {"moisture_pct": 15}, True),
        ({"max_moisture_pct": 10}, {"moisture_pct": 8}, False),
        ({"max_loi_pct": 5}, {"loi_pct": 7.5}, True),
        ({"max_loi_pct": 5}, {"loi_pct": 5}, False),
        ({"min_purity_pct": 95}, {"purity_pct": 90}, True),
        ({"min_purity_pct": 95}, {"purity_pct": 97}, False),
    ],
)
def test_material_quality_limits(
    pair: Judge,
    fly_ash_offer: Listing,
    cement_need: Listing,
    need_limit: dict[str, float],
    offer_value: dict[str, float],
    excluded: bool,
) -> None:
    found = pair(replace(fly_ash_offer, properties=offer_value), replace(cement_need, properties=need_limit))
    assert (found is None) == excluded
    if found is not None:
        assert _component(found, "quality")[:2] == (1.0, "meets")


# Timing ---------------------------------------------------------------------------------------------------------


def test_disjoint_availability_windows_exclude(pair: Judge, fly_ash_offer: Listing, cement_need: Listing) -> None:
    offer = replace(fly_ash_offer, available_from=date(2026, 1, 1), available_until=date(2026, 6, 30))
    assert pair(offer, replace(cement_need, available_from=date(2026, 7, 1))) is None
    assert pair(offer, replace(cement_need, available_until=date(2025, 12, 31))) is None


def test_overlapping_windows_match_and_say_when(pair: Judge, fly_ash_offer: Listing, cement_need: Listing) -> None:
    offer = replace(fly_ash_offer, available_from=date(2026, 1, 1), available_until=date(2026, 6, 30))
    found = pair(offer, replace(cement_need, available_from=date(2026, 5, 1)))
    assert found is not None
    value, level, reason = _component(found, "timing")
    assert (value, level) == (1.0, "overlap")
    assert "2026-05-01" in reason and "2026-06-30" in reason
    touching = pair(offer, replace(cement_need, available_from=date(2026, 6, 30)))
    assert touching is not None


# Quantities -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "needed", "expected_ratio"),
    [
        ((500, "kg", "week"), (26, "t", "year"), 1.0),  # 500 kg x 52 weeks = 26 t
        ((500, "kg", "week"), (52, "t", "year"), 0.5),
        ((1, "t", "month"), (24000, "kg", "year"), 0.5),  # 12 t against 24 t
        ((3600, "GJ", "year"), (1000, "MWh", "year"), 1.0),  # 3600 GJ = 1000 MWh
        ((100, "m3", "day"), (73000, "l", "year"), 0.002),  # 36500 m3 against 73 m3
    ],
)
def test_quantities_in_different_units_of_one_dimension_compare_as_annual_rates(
    pair: Judge,
    fly_ash_offer: Listing,
    cement_need: Listing,
    offered: tuple[float, str, str],
    needed: tuple[float, str, str],
    expected_ratio: float,
) -> None:
    offer = replace(fly_ash_offer, quantity=offered[0], unit=offered[1], period=offered[2])
    need = replace(cement_need, quantity=needed[0], unit=needed[1], period=needed[2])
    found = pair(offer, need)
    assert found is not None
    value, level, _ = _component(found, "quantity")
    assert value == pytest.approx(expected_ratio**0.5, abs=1e-4)
    assert level != "unknown"


def test_quantities_of_different_dimensions_are_not_compared(
    pair: Judge, fly_ash_offer: Listing, cement_need: Listing
) -> None:
    found = pair(fly_ash_offer, replace(cement_need, quantity=100, unit="m3"))
    assert found is not None
    assert _component(found, "quantity")[:2] == (0.5, "unknown")


@pytest.mark.parametrize(
    ("quantity", "unit", "period", "expected"),
    [
        (500, "kg", "week", (26.0, "t")),
        (2, "t", "month", (24.0, "t")),
        (10, "t", "day", (3650.0, "t")),
        (3600, "GJ", "year", (1000.0, "MWh")),
        (5000, "kWh", "month", (60.0, "MWh")),
        (250, "l", "day", (91.25, "m3")),
        (40, "t", "one-off", (40.0, "t")),
    ],
)
def test_annual_rate(quantity: float, unit: str, period: str, expected: tuple[float, str]) -> None:
    listing = Listing(id="x", organization_id="o", kind="offer", resource_type="material", title="x")
    rate = annual_rate(replace(listing, quantity=quantity, unit=unit, period=period))
    assert rate is not None
    assert rate[0] == pytest.approx(expected[0]) and rate[1] == expected[1]


@pytest.mark.parametrize(("quantity", "unit", "period"), [(None, "t", "year"), (5, None, "year"), (5, "t", None)])
def test_annual_rate_is_unknown_without_quantity_unit_and_period(
    quantity: float | None, unit: str | None, period: str | None
) -> None:
    listing = Listing(id="x", organization_id="o", kind="offer", resource_type="material", title="x")
    assert annual_rate(replace(listing, quantity=quantity, unit=unit, period=period)) is None


def test_a_listings_annual_rate_is_its_own_after_a_replace() -> None:
    """Listing.annual is worked out once per listing: a listing made from another by replace() has its own."""
    weekly = Listing(id="x", organization_id="o", kind="offer", resource_type="material", title="x")
    weekly = replace(weekly, quantity=500, unit="kg", period="week")
    assert weekly.annual == annual_rate(weekly) == (26.0, "t")

    monthly = replace(weekly, period="month")
    assert monthly.annual == annual_rate(monthly) == (6.0, "t")
    assert weekly.annual == (26.0, "t")


# Route choice ----------------------------------------------------------------------------------------------------


def test_a_district_heating_need_is_judged_by_the_district_heating_route(
    pair: Judge, knowledge: Knowledge, heat_offer: Listing, district_heating_need: Listing
) -> None:
    route = knowledge.routes["heat-medium-to-district-heating"]
    assert route.max_distance_km is not None
    need = replace(district_heating_need, lat=(district_heating_need.lat or 0) + 0.04)
    assert heat_offer.lat is not None and heat_offer.lon is not None and need.lat is not None and need.lon is not None
    km = haversine_km(heat_offer.lat, heat_offer.lon, need.lat, need.lon)
    assert 3 < km < route.max_distance_km
    found = pair(heat_offer, need)
    assert found is not None
    assert "district heating" in _explained(found).lower()
