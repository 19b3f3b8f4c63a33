"""A PNG of how cost grows with size, from the JSON Lines files that `symbioza bench ... --json FILE` writes.

matplotlib is not a dependency of the service: it is imported only here, when a plot is asked for.
"""

import importlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

# benchmark name (before the comma) -> (panel, label, figure plotted)
SERIES = {
    "engine rebuild": ("time", "engine alone: full rebuild (s)", "total_s"),
    "rebuild through the database": ("time", "through the database: full rebuild (s)", "seconds"),
    "first load through the database": ("time", "through the database: first load (s)", "seconds"),
    "rebuild again": ("time", "through the database: rebuild, nothing changed (s)", "seconds"),
}


def read(paths: list[Path]) -> list[dict[str, Any]]:
    records = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def plot(paths: list[Path], out: Path) -> None:
    try:
        pyplot: Any = importlib.import_module("matplotlib.pyplot")
        importlib.import_module("matplotlib").use("Agg")
    except ImportError:
        raise SystemExit("the plot needs matplotlib: .venv/bin/pip install matplotlib") from None
    time_series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    matches: dict[str, list[tuple[int, float]]] = defaultdict(list)
    memory: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for record in read(paths):
        name, figures = record["benchmark"].split(",")[0], record["figures"]
        if name not in SERIES or "listings" not in figures:
            continue
        _, label, key = SERIES[name]
        size = int(figures["listings"])
        time_series[label].append((size, float(figures[key])))
        if "peak_rss_mb" in figures and name != "rebuild again":
            memory[label.split(":")[0] + ": peak memory (MB)"].append((size, float(figures["peak_rss_mb"])))
        if name == "engine rebuild":
            matches["matches stored"].append((size, float(figures["matches"])))
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(12, 4.8))
    for label, points in sorted(time_series.items()):
        xs, ys = zip(*sorted(points), strict=True)
        left.plot(xs, ys, marker="o", label=label)
    left.set(xscale="log", yscale="log", xlabel="listings", ylabel="seconds", title="Full rebuild: wall time")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    for label, points in sorted({**matches, **memory}.items()):
        xs, ys = zip(*sorted(points), strict=True)
        right.plot(xs, ys, marker="s", label=label)
    right.set(xscale="log", yscale="log", xlabel="listings", title="Matches stored and peak memory")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
