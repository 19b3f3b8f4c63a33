"""Matches end to end: listings written over HTTP, their stored matches read back over HTTP."""

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.listings.models import Listing
from app.matches import adapter
from app.matches.engine import get_engine
from app.matches.models import Match
from app.matches.sync import rebuild
from tests.conftest import Api

ASH: dict[str, Any] = {
    "kind": "offer",
    "resource_type": "material",
    "title": "Popiół lotny z węgla kamiennego",
    "description": "Suchy popiół lotny z kotłów pyłowych, odbiór z silosu.",
    "language": "pl",
    "ewc": "10 01 02",
    "quantity": 40000,
    "unit": "t",
    "period": "year",
}
CEMENT_NEED: dict[str, Any] = {
    "kind": "need",
    "resource_type": "material",
    "title": "Pozzolanic addition for blended cement",
    "description": "Cement works buys siliceous ash as a clinker substitute, loss on ignition below 5 %.",
    "language": "en",
    "quantity": 25000,
    "unit": "t",
    "period": "year",
}


def _pair(api: Api, **need_owner: Any) -> tuple[dict[str, str], dict[str, str], dict[str, Any], dict[str, Any]]:
    power = api.organization(name="Elektrociepłownia Test", lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(name="Cementownia Test", lat=50.25, lon=19.60, nace=["23.51"], **need_owner)
    seller, buyer = api.key(power["id"]), api.key(cement["id"])
    return seller, buyer, api.listing(seller, **ASH), api.listing(buyer, **CEMENT_NEED)


def _matches(client: TestClient, headers: dict[str, str], listing_id: str, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/listings/{listing_id}/matches{query}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_new_listing_has_its_matches_when_the_response_returns(api: Api, client: TestClient) -> None:
    seller, buyer, ash, need = _pair(api)
    from_offer = _matches(client, seller, ash["id"])
    assert from_offer["total"] == 1
    match = from_offer["items"][0]
    assert match["listing"]["id"] == need["id"]
    assert 0 < match["score"] <= 1
    assert match["rule"] in {"same_code", "knowledge_route", "text_neighbour", "activity_route", "code_proximity"}
    assert {c["name"] for c in match["components"]} >= {"material", "distance", "quantity", "quality"}
    assert all(c["reason"] for c in match["components"])
    assert match["explanation"][0].startswith("Proposed because")
    assert 30 < match["distance_km"] < 50
    assert match["impact"]["quantity"] == 25000
    assert match["impact"]["unit"] == "t"
    from_need = _matches(client, buyer, need["id"])
    assert [m["listing"]["id"] for m in from_need["items"]] == [ash["id"]]
    assert from_need["items"][0]["id"] == match["id"]


def test_a_match_reads_back_as_the_engine_wrote_it(api: Api, client: TestClient, session: Session) -> None:
    """A row stores its comparisons as lists without their reasons, and its impact's route, not its basis: what
    the API shows of them is still the engine's candidate for the pair, field for field, sentences included."""
    seller, _, ash, need = _pair(api)
    shown = _matches(client, seller, ash["id"])["items"][0]
    offer, wanted = (session.get(Listing, uuid.UUID(x["id"])) for x in (ash, need))
    assert offer is not None and wanted is not None
    engine = get_engine()
    offer_profile, need_profile = engine.profiles([adapter.record(offer), adapter.record(wanted)])
    candidate = engine.pair(offer_profile, need_profile)
    assert candidate is not None
    assert shown["components"] == [c._asdict() for c in candidate.components]
    assert shown["impact"] == candidate.impact._asdict()
    assert shown["impact"]["route"] and shown["impact"]["basis"].startswith(f"Route {shown['impact']['route']}: ")
    assert "road freight over" in shown["impact"]["basis"]
    assert shown["explanation"] == list(candidate.explanation)
    stored = session.scalars(select(Match).where(Match.offer_id == offer.id)).one()
    assert "basis" not in stored.impact
    assert [len(c) for c in stored.components] == [5] * len(candidate.components)  # no reasons: no party acted


def test_pausing_updating_and_deleting_keep_matches_current(api: Api, client: TestClient) -> None:
    seller, buyer, ash, need = _pair(api)
    url = f"/api/v1/listings/{ash['id']}"
    need_url = f"/api/v1/listings/{need['id']}"
    assert client.patch(url, json={"status": "paused"}, headers=api.current(url, seller)).status_code == 200
    assert _matches(client, buyer, need["id"])["total"] == 0
    assert client.patch(url, json={"status": "active"}, headers=api.current(url, seller)).status_code == 200
    assert _matches(client, buyer, need["id"])["total"] == 1
    far = client.patch(need_url, json={"max_distance_km": 10}, headers=api.current(need_url, buyer))
    assert far.status_code == 200
    assert _matches(client, seller, ash["id"])["total"] == 0
    near = client.patch(need_url, json={"max_distance_km": 100}, headers=api.current(need_url, buyer))
    assert near.status_code == 200
    assert _matches(client, seller, ash["id"])["total"] == 1
    assert client.delete(url, headers=api.current(url, seller)).status_code == 204
    assert _matches(client, buyer, need["id"])["total"] == 0


def test_a_rebuild_changes_nothing_after_api_writes(api: Api, client: TestClient, session: Session) -> None:
    seller, buyer, _, need = _pair(api)
    api.listing(buyer, **CEMENT_NEED | {"title": "Fly ash for ready-mix concrete", "quantity": 5000})
    api.listing(seller, **ASH | {"title": "Żużel i popiół paleniskowy", "ewc": "10 01 01"})
    need_url = f"/api/v1/listings/{need['id']}"
    assert client.patch(need_url, json={"quantity": 9000}, headers=api.current(need_url, buyer)).status_code == 200
    before = {(m.offer_id, m.need_id, m.score) for m in session.scalars(select(Match))}
    assert before
    report = rebuild(session)
    session.commit()
    assert (report.added, report.changed, report.removed) == (0, 0, 0)
    assert {(m.offer_id, m.need_id, m.score) for m in session.scalars(select(Match))} == before


def test_anonymous_counterparts_stay_hidden_in_matches(api: Api, client: TestClient) -> None:
    power = api.organization(name="Tajna Elektrownia", lat=50.0812, lon=20.0523)
    seller = api.key(power["id"])
    cement = api.organization(name="Cementownia Jawna", lat=50.25, lon=19.60, nace=["23.51"])
    buyer = api.key(cement["id"])
    api.listing(seller, **ASH | {"visibility": "anonymous"})
    need = api.listing(buyer, **CEMENT_NEED)
    body = client.get(f"/api/v1/listings/{need['id']}/matches", headers=buyer).text
    seen = _matches(client, buyer, need["id"])["items"][0]["listing"]
    assert seen["organization"] is None and seen["organization_id"] is None
    assert (seen["lat"], seen["lon"]) == (50.1, 20.1)
    assert "Tajna" not in body and power["id"] not in body


def test_private_listings_take_no_part_in_matching(api: Api, client: TestClient) -> None:
    seller, buyer, ash, need = _pair(api)
    url = f"/api/v1/listings/{ash['id']}"
    assert client.patch(url, json={"visibility": "private"}, headers=api.current(url, seller)).status_code == 200
    assert _matches(client, buyer, need["id"])["total"] == 0
    assert _matches(client, seller, ash["id"])["total"] == 0


def test_hazardous_offers_reach_only_receivers_that_accept_them(api: Api, client: TestClient) -> None:
    seller, buyer, _, need = _pair(api)
    oil_ash = api.listing(seller, **ASH | {"title": "Popiół lotny z oleju opałowego", "ewc": "10 01 04"})
    assert oil_ash["hazardous"] is True
    assert oil_ash["id"] not in {m["listing"]["id"] for m in _matches(client, buyer, need["id"])["items"]}
    need_url = f"/api/v1/listings/{need['id']}"
    accepting = client.patch(
        need_url, json={"properties": {"accepts_hazardous": True}}, headers=api.current(need_url, buyer)
    )
    assert accepting.status_code == 200
    items = _matches(client, buyer, need["id"])["items"]
    hazardous = next(m for m in items if m["listing"]["id"] == oil_ash["id"])
    assert any("hazardous" in sentence for sentence in hazardous["explanation"])


def test_filters_and_limits(api: Api, client: TestClient) -> None:
    seller, buyer, ash, _ = _pair(api)
    api.listing(buyer, **CEMENT_NEED | {"title": "Fly ash for concrete blocks"})
    everything = _matches(client, seller, ash["id"])
    assert everything["total"] == 2
    scores = [m["score"] for m in everything["items"]]
    assert scores == sorted(scores, reverse=True)
    assert _matches(client, seller, ash["id"], "?limit=1")["items"][0]["id"] == everything["items"][0]["id"]
    assert _matches(client, seller, ash["id"], "?min_score=0.99")["total"] == 0
    assert _matches(client, seller, ash["id"], "?max_distance_km=5")["total"] == 0
    assert client.get(f"/api/v1/listings/{ash['id']}/matches?limit=0", headers=seller).status_code == 422


def test_a_listing_without_a_code_gets_a_suggestion_but_keeps_its_own(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    uncoded = api.listing(member, **ASH | {"ewc": None, "title": "Popiół lotny z elektrociepłowni węglowej"})
    assert uncoded["ewc"] is None
    assert uncoded["suggested_ewc"] == "10 01 02"
    assert 0 < uncoded["suggested_ewc_confidence"] <= 1
    coded = api.listing(member, **ASH | {"ewc": "10 01 01"})
    assert coded["ewc"] == "10 01 01"
    assert coded["suggested_ewc"] is None


def test_code_suggestion_endpoint(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    response = client.post(
        "/api/v1/taxonomy/suggest", json={"text": "gips z mokrego odsiarczania spalin"}, headers=member
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 5
    assert items[0]["code"] == "10 01 05"
    assert items[0]["label_pl"]
    assert "gips" in items[0]["matched_words"]
    assert abs(sum(i["confidence"] for i in items) - 1) < 0.01
    bad = client.post("/api/v1/taxonomy/suggest", json={"text": ""}, headers=member)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "text"


def test_matches_of_a_hidden_listing_are_hidden(api: Api, client: TestClient) -> None:
    seller, _, ash, _ = _pair(api)
    url = f"/api/v1/listings/{ash['id']}"
    assert client.patch(url, json={"visibility": "private"}, headers=api.current(url, seller)).status_code == 200
    stranger = api.key(api.organization()["id"])
    assert client.get(f"/api/v1/listings/{ash['id']}/matches", headers=stranger).status_code == 404


def test_an_owner_moving_away_updates_its_listings_matches(api: Api, client: TestClient, session: Session) -> None:
    seller, buyer, ash, need = _pair(api)
    owner_id = ash["organization_id"]
    moved = client.patch(f"/api/v1/organizations/{owner_id}", json={"lat": 54.35, "lon": 18.65}, headers=seller)
    assert moved.status_code == 200
    assert _matches(client, buyer, need["id"])["total"] == 0  # Gdańsk is beyond what fly ash travels by road
    report = rebuild(session)
    session.rollback()
    assert (report.added, report.changed, report.removed) == (0, 0, 0)
