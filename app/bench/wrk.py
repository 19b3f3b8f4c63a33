"""Drives reads with wrk (a load generator written in C) when it is installed: on a 2-core machine the Python load
generator spends a core of its own sending requests, which the server then lacks.

wrk sends the paths in turn on `concurrency` keep-alive connections for the given time, and a Lua script prints
the same JSON object as app/bench/loadgen.py (non-2xx answers count as errors; wrk does not report each code).
"""

import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The paths arrive in a file, one per line; each connection starts at its own offset. done() prints one JSON line.
SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("SYMBIOZA_PATHS")) do paths[#paths + 1] = line end
local counter = 0
setup = function(thread) thread:set("offset", counter); counter = counter + 1 end
init = function() turn = offset end
request = function()
  turn = turn + 1
  return wrk.format("GET", paths[(turn % #paths) + 1], {["Authorization"] = "Bearer " .. os.getenv("SYMBIOZA_KEY")})
end
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    '{"requests": %d, "errors": %d, "error_kinds": "connect %d, read %d, write %d, non-2xx %d, timeout %d", ' ..
    '"seconds": %.3f, "requests_per_s": %.3f, "p50_ms": %.3f, "p99_ms": %.3f}\\n',
    summary.requests, errors, e.connect, e.read, e.write, e.status, e.timeout,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(base: str, key: str, paths: Sequence[str], *, seconds: float, concurrency: int) -> dict[str, Any]:
    program = shutil.which("wrk")
    if program is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as folder:
        script, listed = Path(folder) / "reads.lua", Path(folder) / "paths.txt"
        script.write_text(SCRIPT, encoding="utf-8")
        listed.write_text("\n".join(paths) + "\n", encoding="utf-8")
        duration = f"{max(1, math.ceil(seconds))}s"  # wrk takes whole seconds only
        options = ["-t", "1", "-c", str(concurrency), "-d", duration, "--timeout", "60s", "-s", str(script)]
        done = subprocess.run(
            [program, *options, base],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ | {"SYMBIOZA_PATHS": str(listed), "SYMBIOZA_KEY": key},
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result | {"concurrency": concurrency, "load_generator": "wrk"}
