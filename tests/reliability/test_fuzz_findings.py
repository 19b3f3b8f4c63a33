"""What the fuzzing found, pinned down: each of these answered 500, or undocumented, before it was fixed."""

import httpx
from fastapi.testclient import TestClient

from app.deps import MAX_OFFSET
from app.errors import PROBLEM_JSON
from tests.conftest import Api, bearer


def _assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_an_offset_beyond_any_list_is_refused(client: TestClient, admin_key: str) -> None:
    # SQLite: "Python int too large to convert to SQLite INTEGER"; PostgreSQL: bigint out of range.
    for path in ("/api/v1/listings", "/api/v1/organizations", "/api/v1/taxonomy/ewc"):
        response = client.get(path, params={"offset": 10**30}, headers=bearer(admin_key))
        _assert_refused(response, "offset")
    assert client.get("/api/v1/listings", params={"offset": MAX_OFFSET}, headers=bearer(admin_key)).status_code == 200


def test_the_nul_character_is_refused_in_queries_and_bodies(api: Api, client: TestClient, admin_key: str) -> None:
    # PostgreSQL stores no NUL in text: the statement failed. Now both databases refuse it, naming the field.
    headers = bearer(admin_key)
    _assert_refused(client.get("/api/v1/taxonomy/nace", params={"q": "ce\x00ment"}, headers=headers), "q")
    firm = api.organization()
    body = {"organization_id": firm["id"], "kind": "need", "resource_type": "material", "title": "Fly\x00ash"}
    _assert_refused(client.post("/api/v1/listings", json=body, headers=headers), "title")
    bulk = {"items": [body | {"title": "Fly ash", "properties": {"note": "a\x00b"}}]}
    _assert_refused(client.post("/api/v1/listings/bulk", json=bulk, headers=headers), "items.0.properties.note")
    csv = b"kind,resource_type,title\nneed,material,Fly\x00ash\n"
    upload = client.post("/api/v1/listings/bulk", content=csv, headers=headers | {"Content-Type": "text/csv"})
    _assert_refused(upload, "body")
    assert client.get("/api/v1/listings", headers=headers).json()["total"] == 0


def test_every_error_response_is_documented_as_problem_json(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {code: r for code, r in responses.items() if code[0] in "45"}
            if path.startswith("/api/v1/"):
                assert {"401", "404", "422", "429", "503"} <= errors.keys(), (method, path)
            if method in {"patch", "delete"} and path.startswith("/api/v1/"):
                assert {"412", "428"} <= errors.keys(), (method, path)
            for code, response in errors.items():
                assert list(response["content"]) == [PROBLEM_JSON], (method, path, code)
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
