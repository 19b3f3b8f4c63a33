"""Operations endpoints, authentication on every API route, and the problem+json error shape."""

from fastapi.testclient import TestClient

from app.main import API_PREFIX, create_app
from tests.conftest import bearer

PROBLEM = "application/problem+json"


PATH_VALUES = {
    "{organization_id}": "00000000-0000-0000-0000-000000000001",
    "{listing_id}": "00000000-0000-0000-0000-000000000002",
    "{key_id}": "00000000-0000-0000-0000-000000000003",
    "{code}": "PL21",
    "{match_id}": "00000000-0000-0000-0000-000000000004",
    "{webhook_id}": "00000000-0000-0000-0000-000000000005",
}


def _api_routes() -> list[tuple[str, str]]:
    """Every documented operation under the API prefix, with its path parameters filled in."""
    routes: list[tuple[str, str]] = []
    for template, operations in create_app().openapi()["paths"].items():
        if not template.startswith(API_PREFIX):
            continue
        path = template
        for name, value in PATH_VALUES.items():
            path = path.replace(name, value)
        assert "{" not in path, f"add a value for the parameters of {template}"
        routes.extend((method.upper(), path) for method in operations)
    return sorted(routes)


def test_health_and_ready_need_no_key(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_every_api_endpoint_answers_401_problem_without_a_key(client: TestClient) -> None:
    routes = _api_routes()
    assert len(routes) >= 12
    for method, path in routes:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["status"] == 401


def test_an_unknown_key_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/me", headers=bearer("sbz_" + "x" * 43))
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


def test_404_and_405_are_problems(client: TestClient, admin_key: str) -> None:
    missing = client.get("/api/v1/nothing-here", headers=bearer(admin_key))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    wrong_method = client.put("/api/v1/listings", headers=bearer(admin_key))
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == PROBLEM
    assert wrong_method.json()["title"] == "Method not allowed"


def test_an_unexpected_error_is_a_500_problem_without_internals(database_url: str) -> None:
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret" not in response.text


def test_openapi_documents_the_bearer_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert "/api/v1/listings" in schema["paths"]
