"""Each validation rule of a listing with a bad input: a 422 problem naming the field, and nothing stored."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.listings.models import Listing
from tests.conftest import Api

GOOD: dict[str, Any] = {
    "kind": "offer",
    "resource_type": "material",
    "title": "Coal fly ash",
    "ewc": "10 01 02",
    "quantity": 1000,
    "unit": "t",
    "period": "year",
}

BAD_CREATES: list[tuple[dict[str, Any], str]] = [
    ({"kind": "gift"}, "kind"),
    ({"resource_type": "sunshine"}, "resource_type"),
    ({"title": "ab"}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"description": "x" * 5001}, "description"),
    ({"language": "polish"}, "language"),
    ({"unit": "tons"}, "unit"),
    ({"period": "fortnight"}, "period"),
    ({"quantity": -5}, "quantity"),
    ({"quantity": "lots"}, "quantity"),
    ({"quantity": True}, "quantity"),  # JSON true is not the number 1
    ({"unit": None}, "body"),  # a quantity without a unit
    (
        {"resource_type": "water", "ewc": None, "unit": "t"},
        "body",
    ),  # tonnes of water: a unit the resource cannot have
    ({"ewc": "99 99 99"}, "ewc"),
    ({"ewc": "10 01"}, "ewc"),  # a subchapter, not an entry
    ({"ewc": "fly ash"}, "ewc"),
    ({"ewc": "10 01 04", "hazardous": False}, "hazardous"),  # oil fly ash is hazardous
    ({"ewc": "10 01 02", "hazardous": True}, "hazardous"),
    ({"ewc": "10 01 02*"}, "hazardous"),  # an asterisk on a non-hazardous code
    ({"form": "fluffy"}, "form"),
    ({"legal_status": "maybe"}, "legal_status"),
    ({"recovery_operations": ["R14"]}, "recovery_operations.0"),
    ({"recovery_operations": ["R5", "R5"]}, "body"),
    ({"available_from": "2026-06-01", "available_until": "2026-01-01"}, "body"),
    ({"available_from": "next spring"}, "available_from"),
    ({"available_from": 0}, "available_from"),  # pydantic would read a number as seconds since 1970
    ({"available_until": "1767225600"}, "available_until"),
    ({"lat": 91, "lon": 19}, "lat"),
    ({"lat": 50, "lon": -181}, "lon"),
    ({"lat": 50}, "body"),
    ({"lat": 50, "lon": False}, "lon"),
    ({"max_distance_km": True}, "max_distance_km"),
    ({"max_distance_km": 0}, "max_distance_km"),
    ({"max_distance_km": 50000}, "max_distance_km"),
    ({"visibility": "secret"}, "visibility"),
    ({"status": "sold"}, "status"),
    ({"properties": {"Bad Key": 1}}, "properties.Bad Key.[key]"),
    ({"properties": {"note": "x" * 201}}, "properties.note"),
    ({"properties": {f"k{i}": i for i in range(31)}}, "properties"),
    ({"colour": "grey"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), BAD_CREATES, ids=[f for _, f in BAD_CREATES])
def test_a_bad_listing_is_refused_naming_the_field(
    api: Api, client: TestClient, session: Session, change: dict[str, Any], field: str
) -> None:
    member = api.key(api.organization()["id"])
    response = client.post("/api/v1/listings", json=GOOD | change, headers=member)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    fields = [error["field"] for error in problem["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert problem["detail"]
    assert session.scalar(select(func.count()).select_from(Listing)) == 0


def test_a_good_listing_passes_and_hazard_follows_the_code(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    response = client.post("/api/v1/listings", json=GOOD | {"ewc": "10 01 04*"}, headers=member)
    assert response.status_code == 201, response.text
    assert response.json()["hazardous"] is True


BAD_UPDATES: list[tuple[dict[str, Any], str]] = [
    ({"quantity": -1}, "quantity"),
    ({"available_from": 1767225600}, "available_from"),
    ({"ewc": "10 01 04", "hazardous": False}, "hazardous"),
    ({"resource_type": "energy"}, "body"),  # the listing counts pieces, which cannot measure energy
    ({"available_until": "2000-01-01", "available_from": "2001-01-01"}, "body"),
    ({"title": None}, "title"),
    ({"kind": None}, "kind"),
    ({"owner": "someone else"}, "owner"),
]


@pytest.mark.parametrize(("change", "field"), BAD_UPDATES, ids=[f for _, f in BAD_UPDATES])
def test_a_rejected_update_leaves_the_listing_as_it_was(
    api: Api, client: TestClient, change: dict[str, Any], field: str
) -> None:
    member = api.key(api.organization()["id"])
    before = api.listing(member, unit="pcs", quantity=10)
    url = f"/api/v1/listings/{before['id']}"
    response = client.patch(url, json=change, headers=member | {"If-Match": '"1"'})
    assert response.status_code == 422, response.text
    fields = [error["field"] for error in response.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    after = client.get(url, headers=member).json()
    assert after == before


def test_bad_query_parameters_name_the_parameter(api: Api, client: TestClient) -> None:
    for query, field in [
        ("kind=gift", "kind"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("near=north", "near"),
        ("near=95,10", "near"),
        ("radius_km=-3", "radius_km"),
        ("region=małopolska", "region"),
        ("ewc=ash", "ewc"),
        ("organization_id=42", "organization_id"),
    ]:
        response = client.get(f"/api/v1/listings?{query}", headers=api.admin)
        assert response.status_code == 422, query
        assert field in [e["field"] for e in response.json()["errors"]], (query, response.json())
