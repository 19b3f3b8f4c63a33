"""Match lists as CSV (one line per match, opens in a spreadsheet) and GeoJSON (a line from offer to need)."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from app.auth.principal import Principal
from app.listings.models import Listing
from app.listings.service import APPROXIMATE_DEGREES, is_masked
from app.matches import adapter
from app.matches.service import Exported, Row
from app.organizations.models import Organization

COLUMNS = (
    "match_id",
    "score",
    "status",
    "rule",
    "distance_km",
    "exchangeable_quantity",
    "unit",
    "co2e_avoided_t",
    "offer_id",
    "offer_title",
    "offer_organization",
    "offer_region",
    "offer_ewc",
    "offer_quantity",
    "offer_unit",
    "offer_period",
    "need_id",
    "need_title",
    "need_organization",
    "need_region",
    "need_ewc",
    "need_quantity",
    "need_unit",
    "need_period",
    "top_reasons",
    "created_at",
)


def properties(principal: Principal, exported: Exported) -> dict[str, Any]:
    (match, offer, need, offer_owner, need_owner), identities_open, said = exported
    impact = match.impact or {}
    values: dict[str, Any] = {
        "match_id": str(match.id),
        "score": match.score,
        "status": match.status,
        "rule": match.rule,
        "distance_km": match.distance_km,
        "exchangeable_quantity": impact.get("quantity"),
        "unit": impact.get("unit"),
        "co2e_avoided_t": match.co2e_avoided_t,
        "top_reasons": " | ".join(adapter.explanation(match, said)[1:3]),
        "created_at": match.created_at.isoformat(),
    }
    for side, listing, owner in (("offer", offer, offer_owner), ("need", need, need_owner)):
        hidden = is_masked(principal, listing) and not identities_open
        values |= {
            f"{side}_id": str(listing.id),
            f"{side}_title": listing.title,
            f"{side}_organization": None if hidden else owner.name,
            f"{side}_region": owner.region,
            f"{side}_ewc": listing.ewc or listing.suggested_ewc,
            f"{side}_quantity": listing.quantity,
            f"{side}_unit": listing.unit,
            f"{side}_period": listing.period,
        }
    return values


def csv_lines(principal: Principal, rows: Iterable[Exported]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    # A byte-order mark makes spreadsheet programs read the file as UTF-8 (Polish letters intact).
    yield "\ufeff"
    writer.writeheader()
    for exported in rows:
        writer.writerow(properties(principal, exported))
        if buffer.tell() > 64_000:
            yield _drain(buffer)
    yield _drain(buffer)


def geojson_chunks(principal: Principal, rows: Iterable[Exported]) -> Iterator[str]:
    yield '{"type": "FeatureCollection", "features": ['
    separator = ""
    for exported in rows:
        feature = {
            "type": "Feature",
            "id": str(exported.row[0].id),
            "geometry": _line(principal, exported.row, exported.identities_open),
            "properties": properties(principal, exported),
        }
        yield separator + json.dumps(feature, ensure_ascii=False)
        separator = ","
    yield "]}"


def _line(principal: Principal, row: Row, identities_open: bool) -> dict[str, Any] | None:
    _, offer, need, offer_owner, need_owner = row
    points = [
        _point(principal, offer, offer_owner, identities_open),
        _point(principal, need, need_owner, identities_open),
    ]
    if any(p is None for p in points):
        return None
    return {"type": "LineString", "coordinates": points}


def _point(principal: Principal, listing: Listing, owner: Organization, identities_open: bool) -> list[float] | None:
    lat, lon = (listing.lat, listing.lon) if listing.lat is not None else (owner.lat, owner.lon)
    if lat is None or lon is None:
        return None
    if is_masked(principal, listing) and not identities_open:
        lat, lon = round(lat, APPROXIMATE_DEGREES), round(lon, APPROXIMATE_DEGREES)
    return [lon, lat]  # GeoJSON orders longitude first


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
