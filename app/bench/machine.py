"""What a benchmark ran on: CPU, cores, memory, Python and library versions, and the database server."""

import os
import platform
import resource
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy
import sklearn
import sqlalchemy


def _first(path: str, prefix: str) -> str | None:
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix)), None)


def describe(database: str | None = None) -> dict[str, str]:
    """The machine as a few labelled lines; `database` is the server's own description (SELECT version())."""
    memory = _first("/proc/meminfo", "MemTotal")
    gib = f"{int(memory.split()[0]) / 1024**2:.1f} GiB" if memory else "unknown"
    facts = {
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "memory": gib,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": f"numpy {numpy.__version__}, scikit-learn {sklearn.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}",
    }
    if database:
        facts["database"] = database
    return facts


def peak_rss_mb() -> float:
    """The most resident memory this process has used so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """The most resident memory any finished child of this process used (forked ones count pages they still
    share with this process too)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class SummedMemory:
    """The most memory the processes this one started (and theirs; with `itself`, this one too) held together while
    the block ran: their PSS summed, sampled every `interval` seconds by a thread. PSS divides each page among the
    processes sharing it, so forked processes' shared pages count once, where their RSS counts them in each. `peak_mb`
    is None where /proc has no smaps_rollup (not Linux)."""

    def __init__(self, *, itself: bool = False, interval: float = 0.5) -> None:
        self.itself = itself
        self.interval = interval
        self.peak_mb: float | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        if Path("/proc/self/smaps_rollup").exists():
            self.peak_mb = 0.0
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        here = os.getpid()
        while True:
            processes = _descendants(here) + ([here] if self.itself else [])
            self.peak_mb = max(self.peak_mb or 0.0, sum(_pss_mb(pid) for pid in processes))
            if self._done.wait(self.interval):
                return


def _descendants(pid: int) -> list[int]:
    """The processes `pid` started, those they started, and so on (each thread's children, as /proc lists them)."""
    found: list[int] = []
    parents = [pid]
    while parents:
        parent = parents.pop()
        for task in _listed(f"/proc/{parent}/task"):
            try:
                children = [int(child) for child in Path(f"{task}/children").read_text().split()]
            except OSError:  # the process ended meanwhile
                continue
            found += children
            parents += children
    return found


def _listed(directory: str) -> list[Path]:
    try:
        return list(Path(directory).iterdir())
    except OSError:
        return []


def _pss_mb(pid: int) -> float:
    """The process's PSS in MiB (smaps_rollup reports kilobytes); 0 once it has ended."""
    pss = _first(f"/proc/{pid}/smaps_rollup", "Pss:")
    return int(pss.split()[0]) / 1024 if pss else 0.0
