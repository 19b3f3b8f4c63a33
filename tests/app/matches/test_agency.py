"""The agency match list: region scoping, filters, sorting, and CSV / GeoJSON exports that tools can open."""

import csv
import io
import json

import geojson
from fastapi.testclient import TestClient

from tests.app.matches.scenario import build
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api


def test_an_agency_exports_its_regions_matches_and_another_region_sees_none(api: Api, client: TestClient) -> None:
    s = build(api, client)
    listed = client.get("/api/v1/matches", headers=s.agency).json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["offer"]["organization"]["name"] == "Ukryta Elektrociepłownia"  # agencies always see identities
    assert item["contacts"]["offer"]["person"] == "Jan Kowal"

    exported = client.get("/api/v1/matches?format=csv", headers=s.agency)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 1
    assert rows[0]["match_id"] == s.match_id
    assert rows[0]["offer_organization"] == "Ukryta Elektrociepłownia"
    assert rows[0]["offer_ewc"] == "10 01 02"
    assert float(rows[0]["score"]) == item["score"]
    assert rows[0]["top_reasons"] == " | ".join(item["explanation"][1:3])  # written when read, as the list's

    shapes = client.get("/api/v1/matches?format=geojson", headers=s.agency)
    assert shapes.headers["content-type"].startswith("application/geo+json")
    collection = geojson.loads(shapes.text)
    assert collection.is_valid, collection.errors()
    assert collection["type"] == "FeatureCollection"
    feature = collection["features"][0]
    assert feature["geometry"]["type"] == "LineString"
    assert feature["geometry"]["coordinates"] == [[20.05, 50.08], [19.8, 50.02]]  # lon, lat: offer then need
    assert feature["properties"]["need_organization"] == "Cementownia Jawna"
    assert feature["properties"]["top_reasons"] == rows[0]["top_reasons"]

    for view in ("", "?format=csv", "?format=geojson"):
        text = client.get(f"/api/v1/matches{view}", headers=s.other_agency).text
        assert s.match_id not in text
    assert client.get("/api/v1/matches", headers=s.other_agency).json()["total"] == 0
    assert client.get(f"/api/v1/matches/{s.match_id}", headers=s.other_agency).status_code == 404


def test_members_see_only_their_own_matches(api: Api, client: TestClient) -> None:
    s = build(api, client)
    stranger = api.key(api.organization()["id"])
    assert client.get("/api/v1/matches", headers=stranger).json()["total"] == 0
    assert s.match_id not in client.get("/api/v1/matches?format=csv", headers=stranger).text
    mine = client.get("/api/v1/matches", headers=s.buyer).json()
    assert [m["id"] for m in mine["items"]] == [s.match_id]
    row = next(
        csv.DictReader(io.StringIO(client.get("/api/v1/matches?format=csv", headers=s.buyer).text.lstrip("\ufeff")))
    )
    assert row["offer_organization"] == ""  # anonymous until both say interested


def test_filters_and_sorting(api: Api, client: TestClient) -> None:
    s = build(api, client)
    api.listing(s.seller, **ASH | {"title": "Popiół paleniskowy", "ewc": "10 01 01", "quantity": 90000})
    api.listing(s.buyer, **CEMENT_NEED | {"title": "Ash for concrete blocks", "quantity": 70000})

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/matches?{query}", headers=s.agency)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    everything = ids("")
    assert len(everything) >= 3
    scores = [m["score"] for m in client.get("/api/v1/matches", headers=s.agency).json()["items"]]
    assert scores == sorted(scores, reverse=True)
    assert s.match_id in ids("ewc=10 01 02") and len(ids("ewc=10 01 02")) < len(everything)
    assert ids("ewc=17") == []
    assert set(ids("nace=23.51")) == set(everything)
    assert ids("nace=01") == []
    assert ids("resource_type=energy") == []
    assert set(ids("region=PL213")) == set(everything)
    assert ids("region=PL22") == []
    assert ids("bbox=19.5,49.9,20.2,50.2") == everything
    assert ids("bbox=21,49,22,50") == []
    assert ids("status=interested") == []
    assert ids(f"organization_id={s.cement['id']}") == everything
    assert ids("min_score=0.99") == []
    assert ids("created_since=2000-01-01T00:00:00Z") == everything
    impact = [
        m["impact"]["co2e_avoided_t"]
        for m in client.get("/api/v1/matches?sort=impact", headers=s.agency).json()["items"]
    ]
    assert impact == sorted(impact, reverse=True)
    distance = [m["distance_km"] for m in client.get("/api/v1/matches?sort=distance", headers=s.agency).json()["items"]]
    assert distance == sorted(distance)
    assert len(ids("limit=1")) == 1
    for bad in ("bbox=1,2,3", "bbox=30,0,10,5", "ewc=ash", "region=małopolska", "sort=price", "format=xlsx"):
        assert client.get(f"/api/v1/matches?{bad}", headers=s.agency).status_code == 422, bad


def test_a_created_since_must_be_a_date_not_a_number(api: Api, client: TestClient) -> None:
    """Pydantic reads a number as seconds since 1970; the schema says date-time text (the fuzz test found
    created_since=-9.943100915153428e-64 answered 200)."""
    s = build(api, client)
    for bad in ("-9.943100915153428e-64", "1700000000", "0", "nan"):
        answer = client.get(f"/api/v1/matches?created_since={bad}", headers=s.agency)
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "created_since" in answer.text and "ISO 8601" in answer.text
    ok = client.get("/api/v1/matches?created_since=2000-01-01T00:00:00Z", headers=s.agency)
    assert ok.status_code == 200 and ok.json()["total"] >= 1


def test_export_streams_every_row_not_one_page(api: Api, client: TestClient) -> None:
    s = build(api, client)
    for index in range(4):
        api.listing(s.buyer, **CEMENT_NEED | {"title": f"Fly ash for precast line {index}"})
    page = client.get("/api/v1/matches?limit=2", headers=s.agency).json()
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/api/v1/matches?format=csv&limit=2", headers=s.agency).text.lstrip("\ufeff"))
        )
    )
    assert page["total"] == len(rows) == 5
    features = json.loads(client.get("/api/v1/matches?format=geojson", headers=s.agency).text)["features"]
    assert len(features) == 5
