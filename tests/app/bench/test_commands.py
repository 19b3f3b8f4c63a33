"""`symbioza bench`: the quick run's plumbing at a tiny size, and the generate command."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import db
from app.bench import wrk
from app.bench.commands import quick
from app.cli import main
from app.listings.models import Listing
from app.organizations.models import Organization


def test_quick_measures_every_stage_at_a_tiny_size(
    scratch_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.jsonl"
    quick(
        listings=300,
        naive_listings=150,
        url=scratch_database,
        workers=1,
        requests=3,
        seconds=0.5,
        concurrency=2,
        arrivals=3,
        seed=3,
        json_path=results,
        directory=tmp_path,
        isolate=False,
    )
    figures = {r["benchmark"].split(",")[0].split(" (")[0]: r["figures"] for r in map(json.loads, results.open())}
    assert set(figures) == {
        "engine rebuild",
        "new listings in an index of 300",
        "naive scan vs blocking",
        "bulk load",
        "rebuild through the database",
        "rebuild again",
        "create over HTTP until matches are stored",
        "GET /listings/{id}/matches",
        "GET /matches?region=...",
    }
    assert figures["naive scan vs blocking"]["recall"] == 1.0
    assert figures["naive scan vs blocking"]["missed"] == 0
    built = figures["rebuild through the database"]
    assert built["listings"] == 300 and built["matches"] == built["added"] > 0
    if Path("/proc/self/smaps_rollup").exists():  # Linux: this process and any it forked, summed
        assert built["processes_peak_pss_mb"] > 20
    # The engine alone and the rebuild through the database find the same matches; a second rebuild changes nothing.
    assert figures["engine rebuild"]["matches"] == built["matches"]
    assert (figures["rebuild again"]["added"], figures["rebuild again"]["changed"]) == (0, 0)
    assert figures["create over HTTP until matches are stored"]["requests"] == 3
    for read in ("GET /listings/{id}/matches", "GET /matches?region=..."):
        assert figures[read]["requests"] > 0 and figures[read]["errors"] == 0
    # wrk drives the listing reads where it is installed (a C load generator leaves the cores to the server).
    expected = "wrk" if wrk.available() else "loadgen.py (httpx threads)"
    assert figures["GET /listings/{id}/matches"]["load_generator"] == expected
    assert figures["new listings in an index of 300"]["samples"] == 3
    printed = capsys.readouterr().out
    assert "machine" in printed and "cores" in printed and "SQLite" in printed


def test_generate_writes_a_file_or_loads_the_database(scratch_database: str, tmp_path: Path) -> None:
    out = tmp_path / "data.json"
    assert main(["bench", "generate", "--listings", "120", "--seed", "4", "--out", str(out)]) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert len(written["listings"]) == 120
    arguments = ["bench", "generate", "--listings", "120", "--seed", "4", "--database", "--url", scratch_database]
    assert main([*arguments, "--reset"]) == 0
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Listing)) == 120
        assert session.scalar(select(func.count()).select_from(Organization)) == len(written["organizations"])


def test_database_with_a_first_load_stores_what_the_rebuild_after_it_keeps(
    scratch_database: str, tmp_path: Path
) -> None:
    results = tmp_path / "results.jsonl"
    arguments = ["bench", "database", "--sizes", "250", "--first-load", "--url", scratch_database]
    assert main([*arguments, "--json", str(results)]) == 0
    figures = {r["benchmark"].split(",")[0]: r["figures"] for r in map(json.loads, results.open())}
    assert set(figures) == {"bulk load", "first load through the database", "rebuild again"}
    first, again = figures["first load through the database"], figures["rebuild again"]
    assert first["listings"] == 250 and first["matches"] == first["added"] > 0
    assert (again["matches"], again["added"], again["changed"], again["removed"]) == (first["matches"], 0, 0, 0)
