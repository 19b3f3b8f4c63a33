"""Bulk registration over HTTP: CSV files as firms keep them, JSON lists, per-row outcomes and the atomic mode."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import InvalidField
from app.listings import bulk
from app.listings.models import Listing
from app.matches import sync
from tests.conftest import Api

URL = "/api/v1/listings/bulk"
CSV = {"Content-Type": "text/csv"}

# A spreadsheet saved with Polish settings: byte-order mark, ';' between cells, decimal commas, empty cells.
POLISH_CSV = (
    "\ufeffkind;resource_type;title;description;language;ewc;quantity;unit;period;legal_status;"
    "recovery_operations;properties.moisture_pct;properties.note;max_distance_km;available_from\n"
    "offer;material;Popiół lotny z kotłów pyłowych;Suchy popiół, odbiór z silosu, strata prażenia < 5 %;pl;"
    "10 01 02;12 000,5;t;year;waste;R5|R10;12,5;odbiór własnym transportem;150;2026-01-01\n"
    "offer;material;Gips z odsiarczania spalin (IOS);Siarczan wapnia, wilgotność ok. 10 %;pl;10 01 05;"
    "30000;t;year;by_product;;;;;\n"
)

# The row on line 5 has a description over two lines; line 7 is blank (skipped), so the last row is line 8.
MIXED_CSV = (
    "kind,resource_type,title,ewc,quantity,unit,period,description\n"
    "offer,material,Coal fly ash,10 01 02,1000,t,year,\n"
    "offer,material,Negative ash,10 01 02,-5,t,year,\n"
    "offer,material,Unknown code,99 99 99,10,t,year,\n"
    'offer,material,Boiler slag,10 01 01,500,t,year,"Wet slag,\nfrom the bottom of the boiler"\n'
    "\n"
    "gift,material,A present,,,,,\n"
)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Listing)) or 0


def _titles(session: Session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Listing.title)))


def _post_csv(client: TestClient, headers: dict[str, str], text: str, query: str = "") -> Any:
    return client.post(URL + query, content=text.encode(), headers=headers | CSV)


def test_a_polish_spreadsheet_with_semicolons_is_registered(api: Api, client: TestClient) -> None:
    org = api.organization(name="Elektrociepłownia Łęg", lat=50.07, lon=20.01)
    member = api.key(org["id"])
    response = _post_csv(client, member, POLISH_CSV)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["rejected"], result["atomic"]) == (2, 0, False)
    assert [(i["row"], i["status"], i["errors"]) for i in result["items"]] == [
        (2, "created", []),
        (3, "created", []),
    ]
    ash = client.get(f"/api/v1/listings/{result['items'][0]['id']}", headers=member).json()
    assert ash["title"] == "Popiół lotny z kotłów pyłowych"
    assert ash["organization_id"] == org["id"]
    assert (ash["ewc"], ash["quantity"], ash["unit"], ash["period"]) == ("10 01 02", 12000.5, "t", "year")
    assert ash["recovery_operations"] == ["R5", "R10"]
    assert ash["properties"] == {"moisture_pct": 12.5, "note": "odbiór własnym transportem"}
    assert (ash["max_distance_km"], ash["available_from"]) == (150, "2026-01-01")
    gypsum = client.get(f"/api/v1/listings/{result['items'][1]['id']}", headers=member).json()
    # Empty cells are "not given": the defaults apply.
    assert (gypsum["recovery_operations"], gypsum["properties"], gypsum["max_distance_km"]) == ([], {}, None)
    assert (gypsum["lat"], gypsum["lon"], gypsum["visibility"], gypsum["status"]) == (50.07, 20.01, "public", "active")


def test_bad_rows_are_rejected_with_line_and_field_while_good_rows_are_stored(
    api: Api, client: TestClient, session: Session
) -> None:
    member = api.key(api.organization()["id"])
    response = _post_csv(client, member, MIXED_CSV)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["rejected"]) == (2, 3)
    outcomes = {i["row"]: (i["status"], [e["field"] for e in i["errors"]]) for i in result["items"]}
    assert outcomes == {
        2: ("created", []),
        3: ("rejected", ["quantity"]),
        4: ("rejected", ["ewc"]),
        5: ("created", []),
        8: ("rejected", ["kind"]),
    }
    assert all(e["message"] for i in result["items"] for e in i["errors"])
    assert all(i["id"] for i in result["items"] if i["status"] == "created")
    assert all(i["id"] is None for i in result["items"] if i["status"] == "rejected")
    assert _titles(session) == {"Coal fly ash", "Boiler slag"}
    slag = client.get(f"/api/v1/listings/{result['items'][3]['id']}", headers=member).json()
    assert slag["description"] == "Wet slag,\nfrom the bottom of the boiler"


def test_atomic_upload_stores_nothing_when_a_row_is_bad(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    response = _post_csv(client, member, MIXED_CSV, "?atomic=true")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "3 of 5 rows" in problem["detail"]
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [(3, "quantity"), (4, "ewc"), (8, "kind")]
    assert all(e["message"] for e in problem["errors"])
    assert _count(session) == 0

    good = "\n".join(MIXED_CSV.splitlines()[:2]) + "\n"  # the header and the first good row
    stored = _post_csv(client, member, good, "?atomic=true")
    assert stored.status_code == 200, stored.text
    assert (stored.json()["created"], stored.json()["atomic"]) == (1, True)
    assert _titles(session) == {"Coal fly ash"}


def test_a_failing_row_leaves_nothing_half_written(
    api: Api, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    refresh = sync.refresh

    def failing_refresh(session: Session, listing: Listing) -> None:
        if listing.title.startswith("Broken"):
            raise InvalidField("title", "matching failed for this one")  # after the row was inserted
        refresh(session, listing)

    monkeypatch.setattr(sync, "refresh", failing_refresh)
    member = api.key(api.organization()["id"])
    text = "kind,resource_type,title\noffer,material,Broken listing\noffer,material,Sound listing\n"
    result = _post_csv(client, member, text).json()
    assert [(i["row"], i["status"]) for i in result["items"]] == [(2, "rejected"), (3, "created")]
    assert result["items"][0]["errors"] == [{"field": "title", "message": "matching failed for this one"}]
    assert _titles(session) == {"Sound listing"}


def test_a_json_body_is_numbered_by_index(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    other = api.organization()
    good = {"kind": "need", "resource_type": "energy", "title": "Ciepło do suszarni", "unit": "MWh"}
    body = {
        "items": [
            good,
            good | {"colour": "grey"},
            good | {"organization_id": other["id"]},
            "not a listing",
            good | {"title": "Ciepło technologiczne", "quantity": 5000},  # no period
            good | {"title": "Para technologiczna"},
        ]
    }
    response = client.post(URL, json=body, headers=member)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["rejected"]) == (2, 4)
    outcomes = [(i["row"], i["status"], [e["field"] for e in i["errors"]]) for i in result["items"]]
    assert outcomes == [
        (0, "created", []),
        (1, "rejected", ["colour"]),
        (2, "rejected", ["organization_id"]),
        (3, "rejected", ["row"]),
        (4, "rejected", ["row"]),
        (5, "created", []),
    ]
    assert _titles(session) == {"Ciepło do suszarni", "Para technologiczna"}
    assert client.post(URL, json={"listings": []}, headers=member).status_code == 422
    assert client.post(URL, json={"items": [], "extra": 1}, headers=member).json()["errors"][0]["field"] == "extra"


def test_an_unknown_column_is_named_and_nothing_is_stored(api: Api, client: TestClient, session: Session) -> None:
    member = api.key(api.organization()["id"])
    response = _post_csv(client, member, "kind,resource_type,title,Colour\noffer,material,Grey ash,grey\n")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(1, "Colour")]
    assert "unknown column" in errors[0]["message"]
    assert _count(session) == 0


def test_uploads_beyond_the_limits_are_refused(
    api: Api, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = api.key(api.organization()["id"])
    monkeypatch.setattr(bulk, "MAX_ROWS", 3)
    rows = [f"offer,material,Listing {n}\n" for n in range(4)]
    too_many = _post_csv(client, member, "kind,resource_type,title\n" + "".join(rows))
    assert too_many.status_code == 413, too_many.text
    assert too_many.headers["content-type"] == "application/problem+json"
    assert "at most 3" in too_many.json()["detail"]
    json_items = {"items": [{"kind": "offer", "resource_type": "material", "title": f"L {n}"} for n in range(4)]}
    assert client.post(URL, json=json_items, headers=member).status_code == 413
    assert _post_csv(client, member, "kind,resource_type,title\n" + "".join(rows[:3])).status_code == 200

    monkeypatch.setattr(bulk, "MAX_BYTES", 100)
    too_big = _post_csv(client, member, "kind,resource_type,title\n" + "offer,material,A long title\n" * 5)
    assert too_big.status_code == 413, too_big.text
    assert _count(session) == 3


def test_agencies_are_refused_and_other_media_types_too(api: Api, client: TestClient, session: Session) -> None:
    agency = api.key(api.organization(kind="agency", region="PL21")["id"], role="agency")
    response = _post_csv(client, agency, "kind,resource_type,title\noffer,material,Fly ash\n")
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    member = api.key(api.organization()["id"])
    xml = client.post(URL, content=b"<listings/>", headers=member | {"Content-Type": "application/xml"})
    assert xml.status_code == 415
    assert client.post(URL, content=b"kind\n", headers=CSV).status_code == 401
    not_utf8 = "kind,resource_type,title\noffer,material,Popiół\n".encode("cp1250")
    refused = client.post(URL, content=not_utf8, headers=member | CSV)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["row"] == 2
    assert _count(session) == 0


def test_a_bulk_created_offer_and_need_are_matched(api: Api, client: TestClient) -> None:
    power = api.organization(name="Elektrociepłownia Test", lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(name="Cementownia Test", lat=50.25, lon=19.60, nace=["23.51"])
    text = (
        "organization_id;kind;resource_type;title;description;language;ewc;quantity;unit;period\n"
        f"{power['id']};offer;material;Popiół lotny z węgla kamiennego;"
        "Suchy popiół lotny z kotłów pyłowych, odbiór z silosu.;pl;10 01 02;40000;t;year\n"
        f"{cement['id']};need;material;Pozzolanic addition for blended cement;"
        "Cement works buys siliceous ash as a clinker substitute, loss on ignition below 5 %.;en;;25000;t;year\n"
        ";offer;material;Nobody's ash;;;10 01 02;;;\n"
    )
    response = _post_csv(client, api.admin, text)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["created", "created", "rejected"]
    assert [e["field"] for e in items[2]["errors"]] == ["organization_id"]  # an admin names the owner
    offer_id, need_id = items[0]["id"], items[1]["id"]
    matches = client.get(f"/api/v1/listings/{offer_id}/matches", headers=api.admin).json()
    assert [m["listing"]["id"] for m in matches["items"]] == [need_id]
    back = client.get(f"/api/v1/listings/{need_id}/matches", headers=api.admin).json()
    assert [m["listing"]["id"] for m in back["items"]] == [offer_id]
