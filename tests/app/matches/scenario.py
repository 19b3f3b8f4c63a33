"""A small region arranged through the API: a power plant's fly ash (anonymous) and a cement works' need."""

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api


@dataclass
class Scenario:
    seller: dict[str, str]
    buyer: dict[str, str]
    agency: dict[str, str]
    other_agency: dict[str, str]
    power: dict[str, Any]
    cement: dict[str, Any]
    offer: dict[str, Any]
    need: dict[str, Any]
    match_id: str


def build(api: Api, client: TestClient) -> Scenario:
    power = api.organization(
        name="Ukryta Elektrociepłownia",
        region="PL213",
        lat=50.08,
        lon=20.05,
        nace=["35.11"],
        contact={"person": "Jan Kowal", "email": "jan@ec.example.pl", "phone": "+48 12 000 00 00"},
    )
    cement = api.organization(
        name="Cementownia Jawna",
        region="PL214",
        lat=50.02,
        lon=19.80,
        nace=["23.51"],
        contact={"person": "Ewa Nowak", "email": "ewa@cem.example.pl"},
    )
    seller, buyer = api.key(power["id"]), api.key(cement["id"])
    agency = api.key(api.organization(kind="agency", region="PL21", name="Agencja PL21")["id"], role="agency")
    other = api.key(api.organization(kind="agency", region="PL22", name="Agencja PL22")["id"], role="agency")
    offer = api.listing(seller, **ASH | {"visibility": "anonymous"})
    need = api.listing(buyer, **CEMENT_NEED)
    matches = client.get(f"/api/v1/listings/{need['id']}/matches", headers=buyer).json()["items"]
    assert len(matches) == 1
    return Scenario(seller, buyer, agency, other, power, cement, offer, need, matches[0]["id"])
