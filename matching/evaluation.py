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

from matching.records import KINDS, RESOURCE_TYPES, Listing
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
    organizations = {str(o["id"]): o for o in _records(data, "organizations", ("id", "name", "lat", "lon"))}
    required = ("id", "organization", "kind", "resource_type", "title", "description")
    listings = [_listing(raw, organizations) for raw in _records(data, "listings", required)]
    by_id = {listing.id: listing for listing in listings}
    exchanges = []
    for index, raw in enumerate(_records(data, "exchanges", ("offer", "need"))):
        for field, kind in (("offer", "offer"), ("need", "need")):
            if raw[field] not in by_id or by_id[raw[field]].kind != kind:
                raise CaseFileError(f"exchanges[{index}].{field}: {raw[field]!r} is not the id of an {kind} listing")
        exchanges.append((raw["offer"], raw["need"]))
    return CaseFile(str(data.get("name", path.stem)), listings, exchanges)


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


def _listing(raw: Mapping[str, Any], organizations: Mapping[str, Mapping[str, Any]]) -> Listing:
    where = f"listings ({raw['id']})"
    owner = organizations.get(raw["organization"])
    if owner is None:
        raise CaseFileError(f"{where}.organization: no organization {raw['organization']!r}")
    if raw["kind"] not in KINDS:
        raise CaseFileError(f"{where}.kind: {raw['kind']!r} is not offer or need")
    if raw["resource_type"] not in RESOURCE_TYPES:
        raise CaseFileError(f"{where}.resource_type: {raw['resource_type']!r} is not one of {RESOURCE_TYPES}")
    try:
        return Listing(
            id=str(raw["id"]),
            organization_id=str(raw["organization"]),
            kind=raw["kind"],
            resource_type=raw["resource_type"],
            title=raw["title"],
            description=raw["description"],
            language=raw.get("language"),
            ewc=raw.get("ewc"),
            hazardous=bool(raw.get("hazardous", False)),
            quantity=_float(raw.get("quantity")),
            unit=raw.get("unit"),
            period=raw.get("period"),
            properties=dict(raw.get("properties") or {}),
            max_distance_km=_float(raw.get("max_distance_km")),
            lat=float(owner["lat"]),
            lon=float(owner["lon"]),
            nace=tuple(owner.get("nace") or ()),
            region=owner.get("region"),
            legal_status=raw.get("legal_status"),
            recovery_operations=tuple(raw.get("recovery_operations") or ()),
        )
    except (TypeError, ValueError) as exc:
        raise CaseFileError(f"{where}: {exc}") from None


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


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
