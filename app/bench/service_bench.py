"""Benchmarks through the database and over HTTP: bulk loading, full rebuilds, creating listings until their
matches are stored, and concurrent reads against `symbioza serve --workers N`.

The database is the one SYMBIOZA_DATABASE_URL names (or --url); `reset` wipes it, so point it at a scratch one.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

from app import db
from app.auth.service import create_key
from app.bench import wrk
from app.bench.engine_bench import percentiles
from app.bench.generate import Dataset, generate
from app.bench.machine import children_peak_rss_mb, peak_rss_mb
from app.matches import repository
from app.matches.models import Match
from app.organizations.models import Organization

LOAD_CHUNK = 2000
PORTS = range(8600, 8700)  # the ports benchmarks may listen on
# Each worker loads the matching index before it serves: about 25 s of CPU at 100k listings, 4 workers on 2 cores.
SERVER_START_S = 300.0
# The fields of a listing that POST /listings takes (the generator's records also carry id and owner).
API_FIELDS = (
    "kind",
    "resource_type",
    "title",
    "description",
    "language",
    "ewc",
    "hazardous",
    "form",
    "quantity",
    "unit",
    "period",
    "available_from",
    "available_until",
    "legal_status",
    "recovery_operations",
    "properties",
    "max_distance_km",
    "lat",
    "lon",
    "visibility",
    "status",
)


def use_database(url: str) -> None:
    """Points this process (and the processes it starts) at a database."""
    os.environ["SYMBIOZA_DATABASE_URL"] = url
    db.forget_engines()


def reset_database(url: str) -> None:
    """An empty database at the current schema, with the code catalogues loaded. Wipes what was there."""
    from app.migrate import load_catalogues, upgrade

    use_database(url)
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    else:
        engine = db.make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    load_catalogues()


def server_version() -> str:
    with db.session_scope() as session:
        if session.get_bind().dialect.name == "postgresql":
            return str(session.scalar(text("SELECT version()"))).split(" on ")[0]
        return f"SQLite {session.scalar(text('SELECT sqlite_version()'))}"


def load(dataset: Dataset) -> dict[str, Any]:
    """Organizations and listings in bulk (COPY on PostgreSQL, multi-row inserts elsewhere; no ORM objects, no
    matching): `symbioza match --rebuild` computes profiles and matches afterwards."""
    started = time.perf_counter()
    now = db.utcnow()
    organizations = [
        o | {"id": uuid.UUID(o["id"]), "version": 1, "created_at": now, "updated_at": now}
        for o in dataset.organizations
    ]
    listings = [_listing_row(raw, now) for raw in dataset.listings]
    with db.session_scope() as session:
        for table, rows in ((repository.ORGANIZATIONS, organizations), (repository.LISTINGS, listings)):
            for start in range(0, len(rows), LOAD_CHUNK):
                repository.bulk_insert(session, table, rows[start : start + LOAD_CHUNK])
    vacuum()
    return {
        "organizations": len(organizations),
        "listings": len(listings),
        "seconds": time.perf_counter() - started,
    }


def _listing_row(raw: dict[str, Any], now: Any) -> dict[str, Any]:
    row = {field: raw[field] for field in API_FIELDS}
    for field in ("available_from", "available_until"):
        row[field] = date.fromisoformat(raw[field]) if raw[field] else None
    return row | {
        "id": uuid.UUID(raw["id"]),
        "organization_id": uuid.UUID(raw["organization"]),
        "suggested_ewc": None,
        "suggested_ewc_confidence": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def vacuum() -> None:
    repository.vacuum(db.get_engine())


def rebuild(first_load: bool = False) -> dict[str, Any]:
    """`symbioza match --rebuild` (with `--first-load`) on the configured database: wall time, this process's peak
    memory and that of the largest process it forked, what it wrote and how large the tables are afterwards."""
    from app.matches.sync import rebuild as rebuild_matches

    started = time.perf_counter()
    with db.session_scope() as session:
        report = rebuild_matches(session, first_load=first_load)
    vacuum()  # as the CLI does once the rebuild has committed
    seconds = time.perf_counter() - started
    return {
        "listings": report.listings,
        "matches": report.matches,
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "forked_peak_rss_mb": children_peak_rss_mb(),
        "table_mb": table_sizes(),
    }


def store_profiles() -> dict[str, Any]:
    """Every listing's profile stored, no matches computed: a loaded database ready for incremental writes."""
    from app.matches.sync import refresh_profiles

    started = time.perf_counter()
    with db.session_scope() as session:
        listings = refresh_profiles(session)
    return {"listings": listings, "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def table_sizes() -> dict[str, float]:
    """On PostgreSQL, each matching table with its indexes, in MB."""
    with db.session_scope() as session:
        if session.get_bind().dialect.name != "postgresql":
            return {}
        return {
            table: (session.scalar(text(f"SELECT pg_total_relation_size('{table}')")) or 0) / 1024**2
            for table in ("listings", "listing_concepts", "matches")
        }


# --- HTTP ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@contextmanager
def server(workers: int, settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """`symbioza serve --workers N` on a free loopback port, as the README tells production to run it (with these
    SYMBIOZA_ settings besides); yields its base URL and stops it afterwards."""
    port = free_port()
    env = os.environ | {"SYMBIOZA_RATE_LIMIT_PER_MINUTE": "0"} | dict(settings or {})
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    # The server's own log (one access line per request) goes to a file, not between the figures.
    log = Path(tempfile.gettempdir()) / f"symbioza-bench-server-{port}.log"
    with log.open("wb") as output:
        # A session of its own: stopping it stops uvicorn's worker processes too, not only their parent.
        process = subprocess.Popen(
            [*command, "--workers", str(workers), "--log-level", "warning"],
            env=env,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, process, log)
            yield base
        finally:
            _stop(process)
    log.unlink(missing_ok=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn and its workers), then SIGKILL if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 15.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.5)  # the workers leave just after their parent
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the server at {base} exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"the server at {base} did not start within {SERVER_START_S:.0f} s")


def bench_keys(regions: Sequence[str]) -> tuple[str, str]:
    """A new admin key and an agency key for `regions` (its agency organization is created for it)."""
    with db.session_scope() as session:
        _, admin = create_key(session, None, role="admin", name="benchmark admin")
        agency = Organization(name="Benchmark agency", kind="agency", country="PL", region=regions[0])
        session.add(agency)
        session.flush()
        _, agency_key = create_key(session, agency, role="agency", name="benchmark agency", regions=regions)
    return admin, agency_key


def new_listings(count: int, seed: int, seed_dir: Path) -> list[dict[str, Any]]:
    """Request bodies for POST /listings: listings of another seed, taking part in matching, each owned by one
    of the companies already in the database."""
    with db.session_scope() as session:
        owners = session.scalars(select(Organization.id).where(Organization.kind == "company").limit(5000)).all()
    rng = random.Random(seed)
    extra = generate(count * 2, seed=seed + 2000, seed_dir=seed_dir)
    bodies = [
        {field: raw[field] for field in API_FIELDS}
        | {"organization_id": str(rng.choice(owners)), "visibility": "public", "status": "active"}
        for raw in extra.listings
    ]
    return bodies[:count]


def incremental(base: str, key: str, bodies: Sequence[dict[str, Any]], warm_up: int = 3) -> dict[str, Any]:
    """POST /listings one after another (one client, one connection): the answer comes once the listing's matches
    are stored, so each latency is create-to-matches-stored. The first `warm_up` requests (the worker loading
    the engine) are not counted."""
    latencies: list[float] = []
    created: list[uuid.UUID] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        for i, body in enumerate(bodies):
            started = time.perf_counter()
            response = client.post("/api/v1/listings", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 201:
                raise RuntimeError(f"POST /listings answered {response.status_code}: {response.text[:300]}")
            if i >= warm_up:
                latencies.append(elapsed)
                created.append(uuid.UUID(response.json()["id"]))
    return {
        "requests": len(latencies),
        "latency_ms": percentiles(latencies),
        "matches_per_listing": percentiles([float(n) for n in matches_of(created)]),
    }


def matches_of(listing_ids: Sequence[uuid.UUID]) -> list[int]:
    with db.session_scope() as session:
        counts = dict(
            session.execute(
                select(Match.offer_id, func.count()).where(Match.offer_id.in_(listing_ids)).group_by(Match.offer_id)
            ).all()
        )
        counts |= dict(
            session.execute(
                select(Match.need_id, func.count()).where(Match.need_id.in_(listing_ids)).group_by(Match.need_id)
            ).all()
        )
    return [int(counts.get(i, 0)) for i in listing_ids]


def listings_with_matches(count: int, seed: int) -> list[uuid.UUID]:
    """Up to `count` listings (offers and needs) that have matches, drawn at random."""
    with db.session_scope() as session:
        offers = session.scalars(select(Match.offer_id).distinct().limit(20_000)).all()
        needs = session.scalars(select(Match.need_id).distinct().limit(20_000)).all()
    found = sorted({*offers, *needs})
    return random.Random(seed).sample(found, min(count, len(found)))


def reads(
    base: str,
    key: str,
    paths: Sequence[str],
    *,
    seconds: float,
    concurrency: int,
    max_requests: int,
    use_wrk: bool = False,
) -> dict[str, Any]:
    """Runs a load generator in a process of its own against the server: wrk when installed and asked for
    (app/bench/wrk.py; it counts only requests answered within the run, so not for requests that take longer),
    else app/bench/loadgen.py."""
    if use_wrk and wrk.available():
        return wrk.run(base, key, paths, seconds=seconds, concurrency=concurrency)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
        handle.write("\n".join(paths))
        paths_file = handle.name
    command = [sys.executable, "-m", "app.bench.loadgen", "--base", base, "--key", key, "--paths", paths_file]
    options = ["--seconds", str(seconds), "--concurrency", str(concurrency), "--max-requests", str(max_requests)]
    try:
        done = subprocess.run([*command, *options], capture_output=True, text=True, check=True)
    finally:
        Path(paths_file).unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result | {"load_generator": "loadgen.py (httpx threads)"}
