"""Real uvicorn processes for the reliability tests, on ports 8700-8799 of 127.0.0.1 (a share for each xdist
worker)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

HOST = "127.0.0.1"


def _ports() -> range:
    """This worker's share of 8700-8799. uvicorn binds its port only after start-up, so two workers probing the
    same range could both find a port free; the slower server would then fail to bind and the faster one answer its
    health checks."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    share = int(worker[2:]) % 4 if worker[2:].isdigit() else 0
    return range(8700 + 25 * share, 8725 + 25 * share)


PORTS = _ports()


def free_port(taken: frozenset[int] = frozenset()) -> int:
    """A port of PORTS that nothing listens on now."""
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def _up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> bool:
    """True once the server answers /health; False if it exits first (its port was taken meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not start within {seconds} s")


@contextmanager
def uvicorn(database_url: str, count: int = 1, env: Mapping[str, str] | None = None) -> Iterator[list[str]]:
    """`count` API processes (one uvicorn worker each) on the database; yields their base URLs."""
    environment = os.environ | {"SYMBIOZA_DATABASE_URL": database_url, "SYMBIOZA_WEBHOOKS_ENABLED": "false"}
    environment |= env or {}
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--log-level", "warning"]
    processes: list[subprocess.Popen[bytes]] = []
    tried: set[int] = set()

    def launch() -> tuple[subprocess.Popen[bytes], str]:
        port = free_port(frozenset(tried))
        tried.add(port)
        processes.append(subprocess.Popen([*command, "--host", HOST, "--port", str(port)], env=environment))
        return processes[-1], f"http://{HOST}:{port}"

    try:
        starting = [launch() for _ in range(count)]  # they start side by side
        urls = []
        for process, url in starting:
            for _ in range(5):  # another program may take a port between the probe and the server's bind
                if _up(url, process):
                    break
                process, url = launch()
            else:
                raise AssertionError("no API process could bind a port")
            urls.append(url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
