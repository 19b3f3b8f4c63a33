"""A small HTTP load generator, run as its own process so that it does not share the server's interpreter:

    python -m app.bench.loadgen --base http://127.0.0.1:8600 --key sbz_... --paths paths.txt --seconds 20

Threads (each with its own keep-alive connection) send GET requests for the paths, in turn, until the time or the
request budget runs out, and the process prints one JSON object: requests, errors, requests per second, latency
percentiles in milliseconds. Only loopback addresses are accepted: it is a benchmark tool, not a load tester for
other people's servers.
"""

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def run(base: str, key: str, paths: list[str], seconds: float, concurrency: int, max_requests: int) -> dict[str, Any]:
    if urlsplit(base).hostname not in LOOPBACK:
        raise ValueError(f"{base}: the load generator only talks to this machine (127.0.0.1)")
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    sent = [0]

    def worker(offset: int) -> None:
        mine: list[float] = []
        codes: dict[int, int] = {}
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            turn = offset
            while time.perf_counter() < deadline:
                with lock:
                    if sent[0] >= max_requests:
                        break
                    sent[0] += 1
                started = time.perf_counter()
                try:
                    code = client.get(paths[turn % len(paths)]).status_code
                except httpx.HTTPError:
                    code = 0
                mine.append((time.perf_counter() - started) * 1000)
                codes[code] = codes.get(code, 0) + 1
                turn += concurrency
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    errors = sum(count for code, count in statuses.items() if not 200 <= code < 300)
    return {
        "requests": len(latencies),
        "errors": errors,
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "seconds": elapsed,
        "requests_per_s": len(latencies) / elapsed if elapsed else 0.0,
        "concurrency": concurrency,
        "p50_ms": _rank(latencies, 50),
        "p99_ms": _rank(latencies, 99),
    }


def _rank(ordered: list[float], p: float) -> float:
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8600")
    parser.add_argument("--key", required=True, help="API key sent as Bearer")
    parser.add_argument("--paths", type=Path, required=True, help="file with one path (and query) per line")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=100_000)
    args = parser.parse_args(argv)
    paths = [line.strip() for line in args.paths.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = run(args.base, args.key, paths, args.seconds, args.concurrency, args.max_requests)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
