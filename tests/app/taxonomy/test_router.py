from fastapi.testclient import TestClient

from tests.conftest import Api


def test_ewc_lookup_by_code_in_any_spelling(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    for spelling in ("10 01 02", "100102", "10.01.02"):
        entry = client.get(f"/api/v1/taxonomy/ewc/{spelling}", headers=member).json()
        assert entry["code"] == "10 01 02"
        assert entry["hazardous"] is False
        assert entry["label_pl"]
        assert any(s.startswith("pl:") for s in entry["synonyms"])
    assert client.get("/api/v1/taxonomy/ewc/10 01 04", headers=member).json()["hazardous"] is True
    missing = client.get("/api/v1/taxonomy/ewc/99 99 99", headers=member)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_ewc_search(api: Api, client: TestClient) -> None:
    chapter = client.get("/api/v1/taxonomy/ewc?prefix=10 01&level=entry&limit=200", headers=api.admin).json()
    assert chapter["total"] == 22
    assert all(item["code"].startswith("10 01 ") for item in chapter["items"])
    hazardous = client.get("/api/v1/taxonomy/ewc?prefix=10 01&hazardous=true&limit=200", headers=api.admin).json()
    assert 0 < hazardous["total"] < chapter["total"]
    assert all(item["hazardous"] for item in hazardous["items"])
    words = client.get("/api/v1/taxonomy/ewc?q=fly ash&level=entry", headers=api.admin).json()
    assert "10 01 02" in [item["code"] for item in words["items"]]
    assert client.get("/api/v1/taxonomy/ewc?level=galaxy", headers=api.admin).status_code == 422


def test_nace_search(api: Api, client: TestClient) -> None:
    classes = client.get("/api/v1/taxonomy/nace?prefix=23.5&level=class", headers=api.admin).json()
    assert {item["code"] for item in classes["items"]} >= {"23.51", "23.52"}
    sections = client.get("/api/v1/taxonomy/nace?level=section", headers=api.admin).json()
    assert sections["total"] == 21
    cement = client.get("/api/v1/taxonomy/nace?q=cement&level=class", headers=api.admin).json()
    assert "23.51" in [item["code"] for item in cement["items"]]


def test_forbidden_is_a_problem_too(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    response = client.post("/api/v1/organizations", json={"name": "X", "country": "PL"}, headers=member)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


def test_a_suggestion_count_must_be_a_whole_number_not_true(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    text = "popiół lotny z kotła pyłowego"
    for wrong in (True, "3", 2.5, 0, 21):
        response = client.post("/api/v1/taxonomy/suggest", json={"text": text, "k": wrong}, headers=member)
        assert response.status_code == 422, wrong
        assert response.headers["content-type"] == "application/problem+json"
        assert any(error["field"] == "k" for error in response.json()["errors"]), response.json()
    response = client.post("/api/v1/taxonomy/suggest", json={"text": text, "k": 3}, headers=member)
    assert response.status_code == 200 and len(response.json()["items"]) == 3
