"""The knowledge base: valorisation routes, emission factors and streams must hold together."""

import json
import re
from typing import Any

import pytest

from app.config import SEED_DATA_DIR
from matching.enrich import HEAT_BANDS
from matching.impact import ROAD_FACTOR
from matching.knowledge import Knowledge, Route
from matching.quality import QUALITY_LIMITS
from matching.records import RECOVERY_OPERATIONS, RESOURCE_TYPES
from matching.taxonomy import EwcEntry, read_nace_csv

KNOWLEDGE_DIR = SEED_DATA_DIR / "knowledge"
NACE_CLASS = re.compile(r"^\d{2}\.\d{2}$")


@pytest.fixture(scope="module")
def raw_routes() -> list[dict[str, Any]]:
    """The routes as written: the loader keys them by id, which would hide a duplicate."""
    routes: list[dict[str, Any]] = json.loads((KNOWLEDGE_DIR / "routes.json").read_text(encoding="utf-8"))["routes"]
    return routes


def test_there_are_at_least_150_routes_with_unique_ids(raw_routes: list[dict[str, Any]], knowledge: Knowledge) -> None:
    ids = [route["id"] for route in raw_routes]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids), "duplicate route ids"
    assert set(knowledge.routes) == set(ids)


def test_every_route_has_a_reference(knowledge: Knowledge) -> None:
    missing = [r.id for r in knowledge.routes.values() if len(r.reference.strip()) < 10]
    assert missing == []


def test_every_route_material_is_in_the_catalogue(knowledge: Knowledge, catalogue: dict[str, EwcEntry]) -> None:
    unknown = [(r.id, m) for r in knowledge.routes.values() for m in r.materials if m not in catalogue]
    assert unknown == []
    for route in knowledge.routes.values():
        for material in route.materials:
            assert catalogue[material].level in {"entry", "subchapter"}, (route.id, material)


def test_every_route_says_what_it_takes(knowledge: Knowledge) -> None:
    for route in knowledge.routes.values():
        assert route.resource_type in RESOURCE_TYPES, route.id
        assert route.materials or route.streams, f"{route.id} takes neither a material nor a stream"
        assert route.process_en and route.process_pl, route.id
        assert route.need_terms, route.id
        assert set(route.recovery_operations) <= set(RECOVERY_OPERATIONS), route.id


def test_receivers_look_like_nace_classes_of_the_catalogue(knowledge: Knowledge) -> None:
    nace = {entry.code: entry for entry in read_nace_csv(SEED_DATA_DIR / "taxonomy" / "nace.csv")}
    for route in knowledge.routes.values():
        assert route.receivers, route.id
        for receiver in route.receivers:
            assert NACE_CLASS.match(receiver), (route.id, receiver)
            assert receiver in nace and nace[receiver].level == "class", (route.id, receiver)


def test_every_referenced_factor_exists(raw_routes: list[dict[str, Any]], knowledge: Knowledge) -> None:
    referenced = 0
    for raw in raw_routes:
        substitutes = raw.get("substitutes") or {}
        for factor in (substitutes.get("factor"), substitutes.get("secondary_factor"), raw.get("disposal_avoided")):
            if factor is not None:
                referenced += 1
                assert factor in knowledge.factors, (raw["id"], factor)
    assert referenced >= len(raw_routes) / 2
    assert ROAD_FACTOR in knowledge.factors and knowledge.factors[ROAD_FACTOR].unit == "tkm"


def test_substitution_ratios_are_plausible(knowledge: Knowledge) -> None:
    for route in knowledge.routes.values():
        if route.substitutes:
            assert 0 < route.substitution_ratio <= 2, route.id


def test_factors_are_positive_and_sourced(knowledge: Knowledge) -> None:
    for factor in knowledge.factors.values():
        assert factor.kg_co2e_per_unit > 0, factor.id
        assert factor.unit in {"t", "m3", "MWh", "tkm"}, factor.id
        assert factor.source.strip(), factor.id


def test_every_referenced_stream_exists(knowledge: Knowledge) -> None:
    referenced = {s for route in knowledge.routes.values() for s in route.streams}
    assert referenced
    assert referenced <= set(knowledge.streams)
    for route in knowledge.routes.values():
        for stream in route.streams:
            assert knowledge.streams[stream].resource_type == route.resource_type, (route.id, stream)


def test_heat_streams_agree_with_the_engines_temperature_bands(knowledge: Knowledge) -> None:
    floors = dict(HEAT_BANDS)
    for band, floor in floors.items():
        stream = knowledge.streams[band]
        assert stream.resource_type == "energy"
        assert (stream.min_temperature_c or -273.0) == floor, band
    assert knowledge.streams["heat_low"].max_temperature_c == floors["heat_medium"]
    assert knowledge.streams["heat_medium"].max_temperature_c == floors["heat_high"]


def test_route_lookups(knowledge: Knowledge) -> None:
    by_code = {r.id for r in knowledge.routes_for_code("10 01 02")}
    assert "coal-fly-ash-to-cement" in by_code
    assert all(knowledge.routes[r].covers("10 01 02") for r in by_code)
    assert {r.id for r in knowledge.routes_for_stream("heat_medium")} >= {"heat-medium-to-district-heating"}
    cement_users = knowledge.routes_for_activity("23.51")
    assert cement_users and all("23.51" in r.receivers for r in cement_users)
    assert knowledge.routes_for_stream("no-such-stream") == []


def test_route_covers_entries_and_whole_subchapters() -> None:
    route = Route(
        id="t",
        resource_type="material",
        materials=("10 01", "17 05 04"),
        streams=(),
        receivers=("23.51",),
        process_en="",
        process_pl="",
        need_terms=(),
        substitutes=None,
        substitution_ratio=0.0,
        disposal_avoided=None,
        recovery_operations=(),
        constraints_en="",
    )
    assert route.covers("10 01 02") and route.covers("10 01 99") and route.covers("17 05 04")
    assert not route.covers("10 011") and not route.covers("17 05 03") and not route.covers("10 02 01")


def test_every_need_term_carries_a_language_tag(knowledge: Knowledge) -> None:
    untagged = [(r.id, t) for r in knowledge.routes.values() for t in r.need_terms if not re.match(r"^[a-z]{2}:\S", t)]
    assert untagged == []


def test_route_constraints_use_properties_the_quality_comparison_checks(knowledge: Knowledge) -> None:
    used = {key for route in knowledge.routes.values() for key in route.constraint_properties}
    assert used
    assert used <= set(QUALITY_LIMITS)
