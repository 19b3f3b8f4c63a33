"""Valorisation routes (which material or stream feeds which industry), emission factors and streams."""

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self


@dataclass(frozen=True)
class Route:
    id: str
    resource_type: str
    materials: tuple[str, ...]
    streams: tuple[str, ...]
    receivers: tuple[str, ...]
    process_en: str
    process_pl: str
    need_terms: tuple[str, ...]
    substitutes: str | None
    substitution_ratio: float
    disposal_avoided: str | None
    recovery_operations: tuple[str, ...]
    constraints_en: str
    constraint_properties: Mapping[str, float] = field(default_factory=dict)
    max_distance_km: float | None = None
    reference: str = ""

    def covers(self, code: str) -> bool:
        """A route names entries ('10 01 02') or whole subchapters ('10 01')."""
        return any(code == m or code.startswith(m + " ") for m in self.materials)


@dataclass(frozen=True)
class Factor:
    id: str
    description: str
    kg_co2e_per_unit: float
    unit: str
    source: str


@dataclass(frozen=True)
class Stream:
    id: str
    resource_type: str
    label_en: str
    label_pl: str
    terms: tuple[str, ...]
    min_temperature_c: float | None = None
    max_temperature_c: float | None = None


@dataclass
class Knowledge:
    routes: dict[str, Route]
    factors: dict[str, Factor]
    streams: dict[str, Stream]

    def __post_init__(self) -> None:
        self._by_stream: dict[str, list[Route]] = defaultdict(list)
        self._by_receiver: dict[str, list[Route]] = defaultdict(list)
        self._by_code: dict[str, list[Route]] = {}  # filled on first use: every listing's code is looked up
        for route in self.routes.values():
            for stream in route.streams:
                self._by_stream[stream].append(route)
            for nace in route.receivers:
                self._by_receiver[nace].append(route)

    @classmethod
    def load(cls, directory: Path) -> Self:
        routes = json.loads((directory / "routes.json").read_text(encoding="utf-8"))["routes"]
        factors = json.loads((directory / "factors.json").read_text(encoding="utf-8"))["factors"]
        streams = json.loads((directory / "streams.json").read_text(encoding="utf-8"))["streams"]
        return cls(
            routes={r["id"]: _route(r) for r in routes},
            factors={f["id"]: _factor(f) for f in factors},
            streams={s["id"]: _stream(s) for s in streams},
        )

    def routes_for_code(self, code: str) -> list[Route]:
        if code not in self._by_code:
            self._by_code[code] = [route for route in self.routes.values() if route.covers(code)]
        return self._by_code[code]

    def routes_for_stream(self, stream: str) -> list[Route]:
        return self._by_stream.get(stream, [])

    def routes_for_activity(self, nace: str) -> list[Route]:
        return self._by_receiver.get(nace, [])


def _route(raw: Mapping[str, Any]) -> Route:
    substitutes = raw.get("substitutes") or {}
    constraints = raw.get("constraints") or {}
    return Route(
        id=raw["id"],
        resource_type=raw["resource_type"],
        materials=tuple(raw.get("materials") or ()),
        streams=tuple(raw.get("streams") or ()),
        receivers=tuple(raw.get("receivers") or ()),
        process_en=raw.get("process_en", ""),
        process_pl=raw.get("process_pl", ""),
        need_terms=tuple(raw.get("need_terms") or ()),
        substitutes=substitutes.get("factor"),
        substitution_ratio=float(substitutes.get("ratio") or 0.0),
        disposal_avoided=raw.get("disposal_avoided"),
        recovery_operations=tuple(raw.get("recovery_operations") or ()),
        constraints_en=constraints.get("text_en", ""),
        constraint_properties=dict(constraints.get("properties") or {}),
        max_distance_km=raw.get("max_distance_km"),
        reference=raw.get("reference", ""),
    )


def _factor(raw: Mapping[str, Any]) -> Factor:
    return Factor(raw["id"], raw.get("description", ""), float(raw["kg_co2e_per_unit"]), raw["unit"], raw["source"])


def _stream(raw: Mapping[str, Any]) -> Stream:
    return Stream(
        id=raw["id"],
        resource_type=raw["resource_type"],
        label_en=raw["label_en"],
        label_pl=raw["label_pl"],
        terms=tuple(raw["terms"]),
        min_temperature_c=raw.get("min_temperature_c"),
        max_temperature_c=raw.get("max_temperature_c"),
    )
