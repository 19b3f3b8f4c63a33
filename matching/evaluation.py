"""Measured match quality on case files (see CASEFILE.md): recall@k and MRR for known exchanges.

The known exchanges are used only to score. The engine sees the organizations and listings, nothing else.
"""

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer

from matching.records import KINDS, PERIODS, RESOURCE_TYPES, UNITS, Listing
from matching.text import normalise

KS = (1, 5, 10)
# A ranker answers, for a listing id, the ids of its candidates, best first.
Ranker = Callable[[str], Sequence[str]]


class CaseFileError(ValueError):
    """A malformed case file; the message names the record and the field."""


@dataclass(frozen=True)
class CaseFile:
    name: str
    listings: list[Listing]
    exchanges: list[tuple[str, str]]


def load_case_file(path: Path) -> CaseFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CaseFileError(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CaseFileError(f"{path.name}: expected an object with organizations, listings and exchanges")
    owners = {
        str(raw["id"]): _owner(raw, f"organizations[{i}] ({raw['id']})")
        for i, raw in enumerate(_records(data, "organizations", ("id", "name", "lat", "lon")))
    }
    required = ("id", "organization", "kind", "resource_type", "title", "description")
    listings: dict[str, Listing] = {}
    for i, raw in enumerate(_records(data, "listings", required)):
        where = f"listings[{i}] ({raw['id']})"
        if str(raw["id"]) in listings:
            raise CaseFileError(f"{where}.id: used by another listing too")
        listings[str(raw["id"])] = _listing(raw, owners, where)
    exchanges = [
        (_partner(raw, "offer", listings, i), _partner(raw, "need", listings, i))
        for i, raw in enumerate(_records(data, "exchanges", ("offer", "need")))
    ]
    return CaseFile(str(data.get("name", path.stem)), list(listings.values()), exchanges)


def _records(data: Mapping[str, Any], section: str, required: Sequence[str]) -> list[Mapping[str, Any]]:
    records = data.get(section)
    if not isinstance(records, list):
        raise CaseFileError(f"{section}: expected a list")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise CaseFileError(f"{section}[{index}]: expected an object")
        for field in required:
            if record.get(field) in (None, ""):
                raise CaseFileError(f"{section}[{index}] ({record.get('id', '?')}).{field}: missing")
    return records


def _owner(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {
        "lat": _number(raw, "lat", where),
        "lon": _number(raw, "lon", where),
        "nace": tuple(raw.get("nace") or ()),
        "region": raw.get("region"),
    }


def _listing(raw: Mapping[str, Any], owners: Mapping[str, Mapping[str, Any]], where: str) -> Listing:
    owner = owners.get(str(raw["organization"]))
    if owner is None:
        raise CaseFileError(f"{where}.organization: no organization {raw['organization']!r}")
    for field, allowed in (("kind", KINDS), ("resource_type", RESOURCE_TYPES), ("unit", UNITS), ("period", PERIODS)):
        if raw.get(field) is not None and raw[field] not in allowed:
            raise CaseFileError(f"{where}.{field}: {raw[field]!r} is not one of {', '.join(allowed)}")
    hazardous = raw.get("hazardous", False)
    if not isinstance(hazardous, bool):
        raise CaseFileError(f"{where}.hazardous: expected true or false, got {hazardous!r}")
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        raise CaseFileError(f"{where}.properties: expected an object")
    return Listing(
        id=str(raw["id"]),
        organization_id=str(raw["organization"]),
        kind=raw["kind"],
        resource_type=raw["resource_type"],
        title=str(raw["title"]),
        description=str(raw["description"]),
        language=raw.get("language"),
        ewc=raw.get("ewc"),
        hazardous=hazardous,
        quantity=_number(raw, "quantity", where, optional=True),
        unit=raw.get("unit"),
        period=raw.get("period"),
        properties=properties,
        max_distance_km=_number(raw, "max_distance_km", where, optional=True),
        lat=owner["lat"],
        lon=owner["lon"],
        nace=owner["nace"],
        region=owner["region"],
        legal_status=raw.get("legal_status"),
        recovery_operations=tuple(raw.get("recovery_operations") or ()),
    )


def _number(raw: Mapping[str, Any], field: str, where: str, *, optional: bool = False) -> Any:
    value: Any = raw.get(field)
    if value is None and optional:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)  # numbers, and numbers written as text ("12.5")
    except (TypeError, ValueError):
        raise CaseFileError(f"{where}.{field}: expected a number, got {value!r}") from None


def _partner(raw: Mapping[str, Any], field: str, listings: Mapping[str, Listing], index: int) -> str:
    value = raw[field]
    if not isinstance(value, str) or value not in listings or listings[value].kind != field:
        raise CaseFileError(f"exchanges[{index}].{field}: {value!r} is not the id of a listing of kind {field}")
    return value


def evaluate(case: CaseFile, ranker: Ranker) -> dict[str, Any]:
    """Ranks every known exchange in both directions and summarises, as CASEFILE.md describes."""
    by_id = {listing.id: listing for listing in case.listings}
    rows: list[dict[str, Any]] = []
    for offer, need in case.exchanges:
        for direction, source, target in (("offer_to_need", offer, need), ("need_to_offer", need, offer)):
            ranked = list(ranker(source))
            rank = ranked.index(target) + 1 if target in ranked else None
            o, n = by_id[offer], by_id[need]
            rows.append(
                {
                    "offer": offer,
                    "need": need,
                    "direction": direction,
                    "rank": rank,
                    "resource_type": o.resource_type,
                    "language_pair": f"{o.language or '?'}-{n.language or '?'}",
                }
            )
    report: dict[str, Any] = {"exchanges": len(case.exchanges), "directions": len(rows), **_metrics(rows)}
    for key in ("direction", "resource_type", "language_pair"):
        groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[row[key]].append(row)
        report[f"by_{key}"] = {name: _metrics(group) for name, group in sorted(groups.items())}
    report["misses"] = [
        {k: row[k] for k in ("offer", "need", "direction", "rank")}
        for row in rows
        if row["rank"] is None or row["rank"] > max(KS)
    ]
    return report


def _metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | int]:
    ranks = [row["rank"] for row in rows]
    out: dict[str, float | int] = {f"recall@{k}": _share(r is not None and r <= k for r in ranks) for k in KS}
    out["mrr"] = round(sum(1 / r for r in ranks if r) / len(ranks), 4) if ranks else 0.0
    out["count"] = len(ranks)
    return out


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else 0.0


def baseline_ranker(listings: Sequence[Listing]) -> Ranker:
    """The plain baseline: TF-IDF cosine of title and description, over every opposite listing of another firm."""
    vectoriser = TfidfVectorizer(preprocessor=normalise, sublinear_tf=True)
    matrix = vectoriser.fit_transform([listing.text for listing in listings])
    similarity = (matrix @ matrix.T).toarray()
    position = {listing.id: i for i, listing in enumerate(listings)}

    def rank(listing_id: str) -> list[str]:
        me = listings[position[listing_id]]
        scores = similarity[position[listing_id]]
        others = [
            (float(scores[i]), other.id)
            for i, other in enumerate(listings)
            if other.kind != me.kind and other.organization_id != me.organization_id and scores[i] > 0
        ]
        return [other_id for _, other_id in sorted(others, key=lambda item: (-item[0], item[1]))]

    return rank


def load_labelled_codes(path: Path) -> list[tuple[str, str, str]]:
    """(text, language, true EWC code) rows of a labelled suggestion set (CSV: text,language,ewc)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row.get("language") or "?", row["ewc"]) for row in csv.DictReader(handle)]


def evaluate_suggestions(
    rows: Sequence[tuple[str, str, str]], suggest: Callable[[str], Sequence[str]]
) -> dict[str, Any]:
    """Top-1 and top-5 accuracy of a code suggester, overall and by language."""
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for text, language, code in rows:
        suggested = list(suggest(text))[:5]
        hit = (bool(suggested) and suggested[0] == code, code in suggested)
        hits["overall"].append(hit)
        hits[language].append(hit)
    return {
        group: {
            "top1": _share(h[0] for h in results),
            "top5": _share(h[1] for h in results),
            "count": len(results),
        }
        for group, results in sorted(hits.items(), key=lambda item: (item[0] != "overall", item[0]))
    }
