"""32 clients create, change and delete listings at once through two real API processes on PostgreSQL.

Afterwards the table holds exactly what the clients saw succeed (nothing lost, nothing duplicated, every last
change kept) and the stored matches equal those of a full rebuild.
"""

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.listings.models import Listing
from app.matches.sync import rebuild
from tests.conftest import Api
from tests.reliability.servers import uvicorn

pytestmark = pytest.mark.reliability

CLIENTS = 32
ORGANIZATIONS = 8
CREATES_PER_CLIENT = 4  # then the first two are changed and the third is deleted


@dataclass
class Seen:
    """What one client saw succeed, and every answer that was not a success."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    kept: dict[uuid.UUID, tuple[int, float]] = field(default_factory=dict)  # id -> (version, quantity)
    deleted: set[uuid.UUID] = field(default_factory=set)


# Four materials, so that not every offer matches every need: (offer ewc, offer title, need title)
MATERIALS = [
    ("10 01 02", "Popiół lotny z kotła pyłowego", "Fly ash as a cement replacement in concrete"),
    ("10 01 05", "Gips z odsiarczania spalin (IOS)", "FGD gypsum for plasterboard production"),
    ("03 01 05", "Trociny i wióry sosnowe", "Sawdust for wood pellet production"),
    ("02 07 04", "Wysłodziny browarniane", "Brewers' spent grain as cattle feed"),
]


def _body(client: int, n: int) -> dict[str, Any]:
    ewc, offer, need = MATERIALS[client % len(MATERIALS)]
    quantity = 1000 + 10 * client + n
    if (client // len(MATERIALS) + n) % 2:
        return {"kind": "need", "resource_type": "material", "title": f"{need} ({client}/{n})", "quantity": quantity}
    return {"kind": "offer", "resource_type": "material", "title": f"{offer} ({client}/{n})", "ewc": ewc} | {
        "quantity": quantity
    }


def _work(client: int, url: str, key: dict[str, str]) -> Seen:
    seen = Seen()
    with httpx.Client(base_url=f"{url}/api/v1", headers=key, timeout=120) as http:

        def call(method: str, path: str, expected: int, **kwargs: Any) -> httpx.Response | None:
            response = http.request(method, path, **kwargs)
            seen.requests += 1
            seen.statuses[response.status_code] += 1
            if response.status_code != expected:
                seen.failures.append(f"client {client}: {method} {path} -> {response.status_code} {response.text}")
                return None
            return response

        created: list[tuple[uuid.UUID, str]] = []
        for n in range(CREATES_PER_CLIENT):
            body = _body(client, n) | {"unit": "t", "period": "year"}
            response = call("POST", "/listings", 201, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
            if response is not None:
                listing_id = uuid.UUID(response.json()["id"])
                created.append((listing_id, response.headers["ETag"]))
                seen.kept[listing_id] = (response.json()["version"], float(body["quantity"]))
        for listing_id, tag in created[:2]:
            quantity = 5000.0 + client
            response = call(
                "PATCH", f"/listings/{listing_id}", 200, json={"quantity": quantity}, headers={"If-Match": tag}
            )
            if response is not None:
                seen.kept[listing_id] = (response.json()["version"], quantity)
        for listing_id, tag in created[2:3]:
            if call("DELETE", f"/listings/{listing_id}", 204, headers={"If-Match": tag}) is not None:
                del seen.kept[listing_id]
                seen.deleted.add(listing_id)
    return seen


def test_32_clients_lose_and_duplicate_nothing(
    api: Api, session: Session, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite serialises all writers, so there is no concurrency to test")
    firms = [api.organization(lat=50.0 + i / 50, lon=19.9 + i / 50, nace=["23.63"]) for i in range(ORGANIZATIONS)]
    keys = [api.key(firms[i % ORGANIZATIONS]["id"]) for i in range(CLIENTS)]

    with uvicorn(database_url, count=2) as urls, ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(lambda i: _work(i, urls[i % 2], keys[i]), range(CLIENTS)))

    requests = sum(r.requests for r in results)
    failures = [failure for r in results for failure in r.failures]
    statuses = sum((r.statuses for r in results), Counter[int]())
    expected = {listing_id: state for r in results for listing_id, state in r.kept.items()}
    deleted = {listing_id for r in results for listing_id in r.deleted}
    organization_ids = [uuid.UUID(firm["id"]) for firm in firms]
    rows = session.scalars(select(Listing).where(Listing.organization_id.in_(organization_ids))).all()
    stored = {row.id: (row.version, row.quantity) for row in rows}
    lost = expected.keys() - stored.keys()
    unexpected = stored.keys() - expected.keys()  # duplicates, or deleted ones come back
    stale = {i for i in expected.keys() & stored.keys() if expected[i] != stored[i]}
    report = rebuild(session)
    session.rollback()  # only the comparison matters; leave the stored matches as the API left them

    with capsys.disabled():
        print(
            f"\nconcurrency: {CLIENTS} clients, 2 API processes, {requests} requests {dict(sorted(statuses.items()))}, "
            f"failures = {len(failures)}, rows kept {len(stored)}, deleted {len(deleted)}, rows lost = {len(lost)}, "
            f"unexpected = {len(unexpected)}, stale = {len(stale)}; {report.matches} matches, a rebuild: "
            f"{report.added} added, {report.changed} changed, {report.removed} removed"
        )
    assert not failures, "\n".join(failures[:10])
    assert requests == CLIENTS * (CREATES_PER_CLIENT + 3)
    assert len(rows) == len(stored)  # one row per id
    assert (lost, unexpected, stale) == (set(), set(), set())
    assert deleted.isdisjoint(stored)
    assert report.matches > 0
    assert (report.added, report.changed, report.removed) == (0, 0, 0)
