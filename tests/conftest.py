"""Every API test runs against SQLite and, when SYMBIOZA_TEST_POSTGRES_URL is set, against PostgreSQL too.

The schema is built by the real Alembic migrations; each test starts with no organizations, keys or listings.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, make_url, text
from sqlalchemy.orm import Session

from app import db
from app.auth.service import create_key
from app.main import create_app
from app.migrate import load_catalogues, upgrade
from app.models import ApiKey, Listing, Organization, WebhookDelivery, WebhookSubscription

POSTGRES_URL = os.environ.get("SYMBIOZA_TEST_POSTGRES_URL")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _worker_database(url: str) -> str:
    """Under pytest-xdist, each worker runs on a database of its own beside the configured one (created on first
    use): every test wipes the database it runs on."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    configured = make_url(url)
    name = f"{configured.database}_{worker}"
    engine = db.make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return configured.set(database=name).render_as_string(hide_password=False)


def _fresh_postgres(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'symbioza.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL half skipped: set SYMBIOZA_TEST_POSTGRES_URL to run it (.ci/run sets it)")
        url = _worker_database(POSTGRES_URL)
        _fresh_postgres(url)
    os.environ["SYMBIOZA_DATABASE_URL"] = url
    db.forget_engines()
    upgrade(url)
    load_catalogues()
    yield url
    db.forget_engines()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.get_engine()
    yield engine
    with Session(engine) as session, session.begin():
        for model in (WebhookDelivery, WebhookSubscription, Listing, ApiKey, Organization):
            session.execute(delete(model))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session to look at (or arrange) the database directly, beside the API."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def admin_key(session: Session) -> str:
    _, secret = create_key(session, None, role="admin", name="test admin")
    session.commit()
    return secret


class Api:
    """Small helpers that arrange data through the HTTP API, as a client would."""

    def __init__(self, client: TestClient, admin_key: str) -> None:
        self.client = client
        self.admin = bearer(admin_key)

    def organization(self, **fields: Any) -> dict[str, Any]:
        body = {
            "name": f"Firm {uuid.uuid4().hex[:6]}",
            "country": "PL",
            "region": "PL213",
            "lat": 50.06,
            "lon": 19.94,
            "nace": ["23.51"],
            "contact": {"person": "Anna Nowak", "email": "anna@example.pl"},
        } | fields
        response = self.client.post("/api/v1/organizations", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def key(self, organization_id: str, role: str = "member", **fields: Any) -> dict[str, str]:
        response = self.client.post(
            f"/api/v1/organizations/{organization_id}/api-keys",
            json={"role": role} | fields,
            headers=self.admin,
        )
        assert response.status_code == 201, response.text
        return bearer(response.json()["key"])

    def listing(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {
            "kind": "offer",
            "resource_type": "material",
            "title": "Coal fly ash from CHP",
            "description": "Dry fly ash, class F, loss on ignition below 5 %.",
            "ewc": "10 01 02",
            "quantity": 12000,
            "unit": "t",
            "period": "year",
        } | fields
        response = self.client.post("/api/v1/listings", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def current(self, url: str, headers: dict[str, str]) -> dict[str, str]:
        """`headers` plus If-Match with the ETag `url` has now (as these headers read it), for a PATCH or DELETE."""
        response = self.client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        return headers | {"If-Match": response.headers["etag"]}


@pytest.fixture
def api(client: TestClient, admin_key: str) -> Api:
    return Api(client, admin_key)


def pytest_report_header() -> str:
    where = POSTGRES_URL or "not configured (SYMBIOZA_TEST_POSTGRES_URL unset): that half is skipped"
    return f"databases: SQLite (temporary file) and PostgreSQL at {where}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per database, so a run shows that each half really ran."""
    for backend in ("sqlite", "postgresql"):
        counts = {
            outcome: sum(f"[{backend}" in r.nodeid for r in terminalreporter.stats.get(outcome, []))
            for outcome in ("passed", "failed", "skipped", "error")
        }
        terminalreporter.write_line(
            f"{backend}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped, {counts['error']} errors"
        )
