"""Two API processes writing at the same time leave exactly the matches a full rebuild computes."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from app.matches.sync import rebuild
from tests.conftest import Api

WRITES_PER_CLIENT = 6


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def servers(database_url: str) -> Iterator[list[str]]:
    """Two real uvicorn processes on the test database."""
    ports = [_free_port(), _free_port()]
    env = os.environ | {"SYMBIOZA_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--log-level", "warning"]
    processes = [subprocess.Popen([*command, "--port", str(port)], env=env) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            _wait_until_up(url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not start")


def _listing(index: int) -> dict[str, Any]:
    if index % 2:
        return {
            "kind": "need",
            "resource_type": "material",
            "title": f"Fly ash for concrete plant {index}",
            "description": "Siliceous fly ash as cement replacement.",
            "quantity": 1000 * index,
            "unit": "t",
            "period": "year",
        }
    return {
        "kind": "offer",
        "resource_type": "material",
        "title": f"Popiół lotny partia {index}",
        "ewc": "10 01 02",
        "quantity": 800 * index,
        "unit": "t",
        "period": "year",
    }


def test_two_processes_writing_at_once_match_a_rebuild(api: Api, servers: list[str], session: Session) -> None:
    firms = [api.organization(lat=50.0 + i / 100, lon=19.9, nace=["23.51"]) for i in range(4)]
    keys = [api.key(firm["id"]) for firm in firms]

    def write(client_index: int) -> list[int]:
        url = servers[client_index % 2]
        statuses = []
        with httpx.Client(base_url=url, headers=keys[client_index], timeout=60) as http:
            for n in range(WRITES_PER_CLIENT):
                created = http.post("/api/v1/listings", json=_listing(client_index * 10 + n))
                statuses.append(created.status_code)
                if n % 3 == 2:
                    etag = {"If-Match": created.headers["etag"]}
                    changed = http.patch(
                        f"/api/v1/listings/{created.json()['id']}", json={"quantity": 123}, headers=etag
                    )
                    statuses.append(changed.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        results = [status for statuses in pool.map(write, range(len(keys))) for status in statuses]
    assert set(results) <= {200, 201}, results

    report = rebuild(session)
    session.rollback()  # only the comparison matters; leave the stored matches as the API left them
    assert report.matches > 0
    assert (report.added, report.changed, report.removed) == (0, 0, 0)
