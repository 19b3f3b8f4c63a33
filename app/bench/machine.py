"""What a benchmark ran on: CPU, cores, memory, Python and library versions, and the database server."""

import os
import platform
import resource
from pathlib import Path

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
