"""What an exchange would save: exchangeable quantity per year and CO2e avoided, net of road transport."""

from matching.knowledge import Factor, Knowledge, Route
from matching.records import Impact, Listing
from matching.rounding import rounded

ROAD_FACTOR = "road_freight_hgv_average"


def estimate(
    offer: Listing,
    need: Listing,
    route: Route | None,
    distance_km: float | None,
    knowledge: Knowledge,
    *,
    sentences: bool = True,
) -> Impact:
    """The impact of one exchange; without `sentences`, its basis is left empty (a stored match writes it when read,
    from what the figures keep)."""
    found = _figures(offer, need, route, distance_km, knowledge)
    if not sentences:
        return found
    stored_km = None if distance_km is None else round(distance_km, 2)  # as a match stores it, and reads its basis
    return found._replace(basis=basis(found, stored_km, knowledge))


def basis(impact: Impact, distance_km: float | None, knowledge: Knowledge) -> str:
    """What the estimate rests on, in words, written from its figures, its route and the pair's distance alone:
    a stored match keeps those and writes this when read. A route the knowledge no longer holds is named as such."""
    if impact.quantity is None:
        return "The offer states no quantity."
    if impact.co2e_avoided_t is None or impact.unit is None:
        return "No emission factor fits this exchange."
    route = knowledge.routes.get(impact.route) if impact.route else None
    if route is None:
        return f"Route {impact.route}, no longer in the knowledge base."
    names = [f"{f.description} ({f.source})" for f in _usable_factors(route, impact.unit, knowledge)]
    ratio, unit = route.substitution_ratio or 1.0, impact.unit
    said = f"Route {route.id}: replaces {ratio:g} {unit} per {unit} received; factors: " + "; ".join(names)
    if impact.transport_t and distance_km is not None:
        road = knowledge.factors.get(ROAD_FACTOR)
        said += f"; minus road freight over {distance_km:.0f} km ({road.source if road else ''})"
    return said


def _figures(
    offer: Listing, need: Listing, route: Route | None, distance_km: float | None, knowledge: Knowledge
) -> Impact:
    """The estimate without its basis."""
    exchanged = exchanged_per_year(offer, need)
    if exchanged is None:
        return Impact(None, None, None, None, None, None, "")
    amount, unit = exchanged
    factors = route_factors(route, unit, knowledge) if route else None
    if route is None or factors is None:
        return Impact(rounded(amount, 3), unit, None, None, None, None, "")
    ratio, substitute_kg, disposal_kg = factors
    substitution = amount * ratio * substitute_kg / 1000 if substitute_kg is not None else 0.0
    avoided_disposal = amount * disposal_kg / 1000 if disposal_kg is not None else 0.0
    road_kg = road_kg_per_tkm(unit, distance_km, knowledge)
    transport = amount * distance_km * road_kg / 1000 if road_kg is not None and distance_km is not None else 0.0
    return Impact(
        quantity=rounded(amount, 3),
        unit=unit,
        co2e_avoided_t=rounded(substitution + avoided_disposal - transport, 3),
        substitution_t=rounded(substitution, 3),
        disposal_avoided_t=rounded(avoided_disposal, 3),
        transport_t=rounded(transport, 3),
        basis="",
        route=route.id,
    )


def exchanged_per_year(offer: Listing, need: Listing) -> tuple[float, str] | None:
    """What the exchange would carry a year: the offer's annual rate, capped by the need's in the same unit."""
    supply, demand = offer.annual, need.annual
    if supply is None:
        return None
    amount, unit = supply
    if demand is not None and demand[1] == unit:
        amount = min(amount, demand[0])
    return amount, unit


def route_factors(route: Route, unit: str, knowledge: Knowledge) -> tuple[float, float | None, float | None] | None:
    """What the estimate applies of a route to a quantity in this unit: the substitution ratio and the kg CO2e per
    unit of the product substituted and of the disposal avoided (None: that factor does not apply); None when
    neither applies."""
    usable = _usable_factors(route, unit, knowledge)
    if not usable:
        return None
    substitute, disposal = _factor(route.substitutes, knowledge), _factor(route.disposal_avoided, knowledge)
    return (
        route.substitution_ratio or 1.0,
        substitute.kg_co2e_per_unit if substitute in usable and substitute else None,
        disposal.kg_co2e_per_unit if disposal in usable and disposal else None,
    )


def road_kg_per_tkm(unit: str, distance_km: float | None, knowledge: Knowledge) -> float | None:
    """The road freight factor the estimate subtracts, when the quantity is in tonnes and the distance known."""
    road = knowledge.factors.get(ROAD_FACTOR)
    return road.kg_co2e_per_unit if unit == "t" and distance_km is not None and road is not None else None


def _usable_factors(route: Route, unit: str, knowledge: Knowledge) -> list[Factor]:
    """The route's factors that apply to a quantity in this unit."""
    found = (_factor(route.substitutes, knowledge), _factor(route.disposal_avoided, knowledge))
    return [f for f in found if f and f.unit == unit]


def _factor(key: str | None, knowledge: Knowledge) -> Factor | None:
    return knowledge.factors.get(key) if key else None
