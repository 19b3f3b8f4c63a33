"""Impact estimates: exchangeable quantity and CO2e avoided, computed from the project's own factors."""

from collections.abc import Callable
from dataclasses import replace

import pytest

from matching.blocking import haversine_km
from matching.engine import Index
from matching.impact import ROAD_FACTOR, basis, estimate
from matching.knowledge import Knowledge
from matching.records import Candidate, Impact, Listing, annual_rate

Judge = Callable[[Listing, Listing], Candidate | None]
FLY_ASH_ROUTE = "coal-fly-ash-to-cement"


def _expected_co2e(knowledge: Knowledge, route_id: str, tonnes: float, km: float) -> tuple[float, float, float]:
    """(substitution, disposal avoided, transport) in t CO2e, from the loaded factors."""
    route = knowledge.routes[route_id]
    assert route.substitutes and route.disposal_avoided
    substitute, disposal = knowledge.factors[route.substitutes], knowledge.factors[route.disposal_avoided]
    road = knowledge.factors[ROAD_FACTOR]
    assert substitute.unit == disposal.unit == "t" and road.unit == "tkm"
    substitution = tonnes * route.substitution_ratio * substitute.kg_co2e_per_unit / 1000
    avoided = tonnes * disposal.kg_co2e_per_unit / 1000
    transport = tonnes * km * road.kg_co2e_per_unit / 1000
    return substitution, avoided, transport


@pytest.mark.parametrize(
    ("offered", "needed"),
    [((20000, "t", "year"), (1000, "t", "month")), ((500, "t", "month"), (20000, "t", "year"))],
    ids=["need-smaller", "offer-smaller"],
)
def test_exchangeable_quantity_is_the_smaller_annual_rate(
    pair: Judge,
    fly_ash_offer: Listing,
    cement_need: Listing,
    offered: tuple[float, str, str],
    needed: tuple[float, str, str],
) -> None:
    offer = replace(fly_ash_offer, quantity=offered[0], unit=offered[1], period=offered[2])
    need = replace(cement_need, quantity=needed[0], unit=needed[1], period=needed[2])
    found = pair(offer, need)
    assert found is not None
    supply, demand = annual_rate(offer), annual_rate(need)
    assert supply is not None and demand is not None
    assert found.impact.unit == "t"
    assert found.impact.quantity == pytest.approx(min(supply[0], demand[0]))
    assert found.impact.quantity in (12000, 6000)  # 1000 t x 12 months, 500 t x 12 months


def test_co2e_avoided_is_substitution_plus_disposal_minus_transport(
    pair: Judge, knowledge: Knowledge, fly_ash_offer: Listing, cement_need: Listing
) -> None:
    found = pair(fly_ash_offer, cement_need)
    assert found is not None
    assert fly_ash_offer.lat is not None and fly_ash_offer.lon is not None
    assert cement_need.lat is not None and cement_need.lon is not None
    km = haversine_km(fly_ash_offer.lat, fly_ash_offer.lon, cement_need.lat, cement_need.lon)
    tonnes = min(fly_ash_offer.quantity or 0, cement_need.quantity or 0)
    substitution, avoided, transport = _expected_co2e(knowledge, FLY_ASH_ROUTE, tonnes, km)
    impact = found.impact
    assert impact.quantity == tonnes
    assert impact.substitution_t == pytest.approx(substitution, abs=1e-3)
    assert impact.disposal_avoided_t == pytest.approx(avoided, abs=1e-3)
    assert impact.transport_t == pytest.approx(transport, abs=1e-3)
    assert impact.co2e_avoided_t == pytest.approx(substitution + avoided - transport, abs=2e-3)
    assert FLY_ASH_ROUTE in impact.basis
    assert impact.route == FLY_ASH_ROUTE
    route, road = knowledge.routes[FLY_ASH_ROUTE], knowledge.factors[ROAD_FACTOR]
    for key in (route.substitutes, route.disposal_avoided):
        assert key is not None
        factor = knowledge.factors[key]
        assert f"{factor.description} ({factor.source})" in impact.basis  # the basis cites what it applied
    assert impact.basis.endswith(f"; minus road freight over {round(km, 2):.0f} km ({road.source})")


def test_estimate_uses_the_route_and_distance_it_is_given(knowledge: Knowledge, fly_ash_offer: Listing) -> None:
    need = replace(fly_ash_offer, id="n", kind="need", organization_id="other", quantity=None)
    route = knowledge.routes[FLY_ASH_ROUTE]
    near, far = (estimate(fly_ash_offer, need, route, km, knowledge) for km in (10.0, 250.0))
    tonnes = fly_ash_offer.quantity or 0  # the need states no quantity: the whole offer counts
    for impact, km in ((near, 10.0), (far, 250.0)):
        substitution, avoided, transport = _expected_co2e(knowledge, FLY_ASH_ROUTE, tonnes, km)
        assert impact.quantity == tonnes
        assert impact.co2e_avoided_t == pytest.approx(substitution + avoided - transport, abs=2e-3)
    assert near.co2e_avoided_t is not None and far.co2e_avoided_t is not None
    assert far.co2e_avoided_t < near.co2e_avoided_t
    unknown = estimate(fly_ash_offer, need, route, None, knowledge)
    assert unknown.transport_t == 0.0
    assert unknown.co2e_avoided_t == pytest.approx(
        sum(_expected_co2e(knowledge, FLY_ASH_ROUTE, tonnes, 0.0)[:2]), abs=2e-3
    )


def test_energy_savings_use_the_energy_factor_and_no_road_freight(
    pair: Judge, knowledge: Knowledge, heat_offer: Listing, district_heating_need: Listing
) -> None:
    found = pair(heat_offer, district_heating_need)
    assert found is not None
    impact = found.impact
    assert impact.unit == "MWh"
    assert impact.quantity == min(heat_offer.quantity or 0, district_heating_need.quantity or 0)
    assert impact.transport_t == 0.0
    route_id = impact.basis.split(":", 1)[0].removeprefix("Route ")
    route = knowledge.routes[route_id]
    assert route.substitutes is not None
    factor = knowledge.factors[route.substitutes]
    assert factor.unit == "MWh"
    assert impact.substitution_t == pytest.approx(
        (impact.quantity or 0) * route.substitution_ratio * factor.kg_co2e_per_unit / 1000, abs=1e-3
    )


def test_no_quantity_or_no_route_means_no_co2e(knowledge: Knowledge, fly_ash_offer: Listing) -> None:
    need = replace(fly_ash_offer, id="n", kind="need", organization_id="other")
    silent = estimate(replace(fly_ash_offer, quantity=None), need, knowledge.routes[FLY_ASH_ROUTE], 5.0, knowledge)
    assert silent.quantity is None and silent.co2e_avoided_t is None
    assert "no quantity" in silent.basis
    unrouted = estimate(fly_ash_offer, need, None, 5.0, knowledge)
    assert unrouted.quantity == fly_ash_offer.quantity
    assert unrouted.co2e_avoided_t is None


def test_a_factor_in_another_unit_is_not_applied(knowledge: Knowledge, fly_ash_offer: Listing) -> None:
    """Cubic metres of something cannot be multiplied by a per-tonne factor."""
    offer = replace(fly_ash_offer, unit="m3")
    need = replace(offer, id="n", kind="need", organization_id="other")
    impact = estimate(offer, need, knowledge.routes[FLY_ASH_ROUTE], 5.0, knowledge)
    assert impact.unit == "m3"
    assert impact.co2e_avoided_t is None


def test_the_basis_is_written_from_the_figures_route_and_stored_distance_alone(
    country_index: Index, knowledge: Knowledge
) -> None:
    """What a stored match keeps (figures, route, distance in km to 2 decimals) writes the same basis as the
    estimate, for every kind of estimate a country's pairs produce; a route is named only when its factors apply."""
    kinds: set[str] = set()
    for listing_id in list(country_index.profiles)[:300]:
        for candidate in country_index.candidates(listing_id, k=10):
            impact = candidate.impact
            kept = impact._replace(basis="")
            assert basis(kept, candidate.distance_km, knowledge) == impact.basis
            assert (impact.route is not None) == (impact.co2e_avoided_t is not None)
            kinds.add(impact.basis.split(" ", 1)[0] + ("+road" if "road freight" in impact.basis else ""))
    assert kinds >= {"Route", "Route+road", "No"}  # the generated offers all state a quantity


def test_a_route_the_knowledge_no_longer_holds_is_named(knowledge: Knowledge) -> None:
    gone = Impact(12.0, "t", 3.0, 3.0, 0.0, 0.0, "", route="retired-route")
    assert basis(gone, 5.0, knowledge) == "Route retired-route, no longer in the knowledge base."
