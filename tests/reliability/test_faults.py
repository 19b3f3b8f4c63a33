"""Faults on a PostgreSQL cluster the tests own (see cluster.py): the database going down under a running API,
and a match rebuild killed half way. Never the shared cluster."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, delete, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.config import SEED_DATA_DIR
from app.errors import PROBLEM_JSON
from app.listings.models import Listing
from app.listings.service import _checked
from app.matches.models import ListingConcept, Match
from app.matches.sync import rebuild
from app.migrate import upgrade
from app.organizations.models import Organization
from app.organizations.schemas import OrganizationCreate
from app.taxonomy.service import load_project_catalogues
from tests.reliability.cluster import Cluster, why_not_available
from tests.reliability.servers import free_port, uvicorn

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(why_not_available() is not None, reason=f"fault tests: {why_not_available()}"),
]

TEMPLATE = "symbioza_template"
API_NAME = "symbioza-fault-api"  # application_name of the API's connections (PGAPPNAME)
REBUILD_NAME = "symbioza-fault-rebuild"
LEAKS = ("select ", "insert ", "update ", "psycopg", "sqlalchemy", "traceback", "connection refused")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A fresh cluster with a migrated template database, removed afterwards."""
    cluster = Cluster(free_port())
    try:
        cluster.init()
        cluster.start()
        cluster.execute(f"CREATE DATABASE {TEMPLATE}")
        upgrade(cluster.url(TEMPLATE))
        engine = create_engine(cluster.url(TEMPLATE), poolclass=NullPool)
        with Session(engine) as session:
            load_project_catalogues(session, SEED_DATA_DIR)
            session.commit()
        engine.dispose()
        yield cluster
    finally:
        cluster.remove()


def _database(cluster: Cluster, name: str) -> Engine:
    if not cluster.running:
        cluster.start()
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return create_engine(cluster.url(name), poolclass=NullPool)


def _wait_for(engine: Engine, application: str, condition: str, *, gone: bool = False, seconds: float = 60) -> None:
    """Until a connection named `application` is in the state `condition` (SQL on pg_stat_activity), or with
    `gone`, until none is."""
    query = text(f"SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND {condition}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if bool(connection.scalar(query.bindparams(name=application))) != gone:
                return
        time.sleep(0.02)
    raise AssertionError(f"{application}: {'no longer ' if gone else ''}{condition!r} did not come within {seconds} s")


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.method, response.request.url, response.text)
    assert response.headers["content-type"] == PROBLEM_JSON
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 503
    assert not [leak for leak in LEAKS if leak in response.text.lower()], response.text


def _wait_until_ready(http: httpx.Client, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if http.get("/ready").status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"/ready did not answer 200 within {seconds} s of the database coming back")


def _listing(organization_id: str, n: int) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "kind": "offer" if n % 2 else "need",
        "resource_type": "material",
        "title": f"Popiół lotny, partia {n}" if n % 2 else f"Fly ash for concrete, lot {n}",
        "ewc": "10 01 02" if n % 2 else None,
        "quantity": 1000 + n,
        "unit": "t",
        "period": "year",
    }


def test_with_the_database_down_the_api_answers_503_and_recovers_without_a_restart(cluster: Cluster) -> None:
    engine = _database(cluster, "outage")
    admin = "sbz_fault_admin_" + secrets.token_urlsafe(32)
    env = {"SYMBIOZA_BOOTSTRAP_ADMIN_KEY": admin, "PGAPPNAME": API_NAME}
    with (
        uvicorn(cluster.url("outage"), env=env) as urls,
        httpx.Client(base_url=urls[0], headers={"Authorization": f"Bearer {admin}"}, timeout=60) as http,
    ):
        firms = [
            http.post("/api/v1/organizations", json={"name": name, "country": "PL", "region": "PL213"}).json()["id"]
            for name in ("Fault CHP", "Fault Cement")
        ]
        first = http.post("/api/v1/listings", json=_listing(firms[0], 1))
        assert first.status_code == 201, first.text
        listing = first.json()["id"]

        # The database crashes while a bulk upload is writing its rows in one transaction.
        bulk = {"items": [_listing(firms[1], n) for n in range(2, 300)]}
        with ThreadPoolExecutor(max_workers=1) as pool:
            upload = pool.submit(http.post, "/api/v1/listings/bulk", json=bulk)
            _wait_for(engine, API_NAME, "backend_xid IS NOT NULL")  # it has written
            time.sleep(0.5)  # and writes on
            cluster.stop("immediate")
            _assert_unavailable(upload.result())

        # While it is down: /ready and every API request answer 503 problem+json with Retry-After.
        _assert_unavailable(http.get("/ready"))
        tag = {"If-Match": '"1"'}
        for method, path, kwargs in (
            ("GET", "/api/v1/me", {}),
            ("GET", "/api/v1/listings", {}),
            ("GET", f"/api/v1/listings/{listing}", {}),
            ("POST", "/api/v1/listings", {"json": _listing(firms[0], 3), "headers": {"Idempotency-Key": "k-1"}}),
            ("PATCH", f"/api/v1/listings/{listing}", {"json": {"quantity": 5}, "headers": tag}),
            ("DELETE", f"/api/v1/listings/{listing}", {"headers": tag}),
            ("GET", "/api/v1/matches", {}),
            ("POST", "/api/v1/taxonomy/suggest", {"json": {"text": "popiół lotny"}}),
        ):
            _assert_unavailable(http.request(method, path, **kwargs))

        # It comes back: the same API process serves again (pool_pre_ping replaces the dead connections).
        cluster.start()
        _wait_until_ready(http)
        stored = http.get("/api/v1/listings")
        assert stored.status_code == 200, stored.text
        assert [(x["id"], x["version"], x["quantity"]) for x in stored.json()["items"]] == [(listing, 1, 1001.0)]
        again = http.post("/api/v1/listings", json=_listing(firms[1], 4))
        assert again.status_code == 201, again.text

    # Nothing half-written: no row of the upload, and the stored matches are those a full rebuild computes.
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Listing)) == 2
        report = rebuild(session)
        session.rollback()
    assert report.matches > 0
    assert (report.added, report.changed, report.removed) == (0, 0, 0)
    engine.dispose()


def _load_demo_region(session: Session) -> None:
    """The demo region's organizations and listings, written directly (validated as the API does, not matched)."""
    data = json.loads((SEED_DATA_DIR / "demo" / "region.json").read_text(encoding="utf-8"))
    ids = {record["id"]: uuid.uuid4() for record in data["organizations"]}
    for record in data["organizations"]:
        organization = OrganizationCreate.model_validate({k: v for k, v in record.items() if k != "id"})
        session.add(Organization(id=ids[record["id"]], **organization.model_dump()))
    session.flush()
    for record in data["listings"]:
        fields = {k: v for k, v in record.items() if k not in {"id", "organization"}}
        values = _checked(session, fields)
        session.add(Listing(id=uuid.uuid4(), organization_id=ids[record["organization"]], version=1, **values))
    session.flush()


def _state(session: Session) -> tuple[dict[tuple[uuid.UUID, uuid.UUID], tuple[uuid.UUID, float]], int]:
    matches = {(m.offer_id, m.need_id): (m.id, round(m.score, 6)) for m in session.scalars(select(Match))}
    concepts = session.scalar(select(func.count()).select_from(ListingConcept)) or 0
    return matches, concepts


def _rebuild_command(url: str) -> tuple[list[str], dict[str, str]]:
    env = os.environ | {"SYMBIOZA_DATABASE_URL": url, "PGAPPNAME": REBUILD_NAME}
    return [sys.executable, "-m", "app.cli", "match", "--rebuild"], env


def test_a_rebuild_killed_half_way_leaves_the_previous_matches_and_a_rerun_completes(cluster: Cluster) -> None:
    engine = _database(cluster, "rebuild")
    with Session(engine, expire_on_commit=False) as session:
        _load_demo_region(session)
        rebuild(session)
        session.commit()
        computed, concepts = _state(session)
        assert computed and concepts
        # Make the stored state differ from what a rebuild computes, so that a rebuild has much to write.
        session.execute(update(Match).values(score=0.0123))
        halves = session.scalars(select(Listing.id).order_by(Listing.id)).all()[::2]
        session.execute(delete(ListingConcept).where(ListingConcept.listing_id.in_(halves)))
        session.commit()
        before = _state(session)

    command, env = _rebuild_command(cluster.url("rebuild"))
    with Session(engine) as blocker:
        # Hold one match row: the rebuild writes everything else, then waits for this one. Kill it there.
        blocker.scalars(select(Match).order_by(Match.id.desc()).limit(1).with_for_update()).one()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(engine, REBUILD_NAME, "wait_event_type = 'Lock'")
            assert process.poll() is None, "the rebuild finished although a row it must write was locked"
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=30)
        blocker.rollback()
    assert process.returncode == -signal.SIGKILL
    _wait_for(engine, REBUILD_NAME, "true", gone=True)  # its server process has ended (and rolled back)

    with Session(engine) as session:
        assert _state(session) == before  # not one row of the killed rebuild's transaction is left

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    with Session(engine) as session:
        matches, restored = _state(session)
    assert restored == concepts
    assert {pair: score for pair, (_, score) in matches.items()} == {p: s for p, (_, s) in computed.items()}
    assert {pair: match for pair, (match, _) in matches.items()} == {p: m for p, (m, _) in computed.items()}
    engine.dispose()
