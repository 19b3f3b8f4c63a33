"""The memory a benchmark's processes held together (machine.SummedMemory), measured in a fresh interpreter: the
test process has processes of its own (pools, servers) that would count among what it started."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

# A child that touches 150 MiB, says so, and holds it until its stdin closes.
HOLDING = "import sys; held = b'x' * (150 * 2**20); print('held', flush=True); sys.stdin.read()"

MEASURING = f"""
import json, subprocess, sys, time
from app.bench.machine import SummedMemory

with SummedMemory(interval=0.05) as started:
    child = subprocess.Popen([sys.executable, "-c", {HOLDING!r}], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child.stdout.readline()
    time.sleep(0.3)  # a sample or more while it holds
    child.communicate(b"")
with SummedMemory(interval=0.05) as none_started:
    pass
with SummedMemory(itself=True, interval=0.05) as itself:
    pass
print(json.dumps([started.peak_mb, none_started.peak_mb, itself.peak_mb]))
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="PSS is read from Linux's /proc")
def test_the_processes_started_are_counted_and_this_one_only_when_asked() -> None:
    measured = subprocess.run([sys.executable, "-c", MEASURING], capture_output=True, text=True, check=True)
    started, none_started, itself = json.loads(measured.stdout)
    assert 150 <= started < 250
    assert none_started == 0.0
    assert itself > 20
