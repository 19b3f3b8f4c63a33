"""The command line, run in-process against a fresh SQLite database built by the real migrations."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from app import db
from app.cli import build_parser, main
from app.main import create_app
from app.models import EwcCode, Listing, Match, Organization
from tests.conftest import SHARED_DATA, bearer


@pytest.fixture
def fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    previous = os.environ.get("SYMBIOZA_DATABASE_URL")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SYMBIOZA_DATABASE_URL", url)
    db.forget_engines()
    yield url
    if previous is not None:
        monkeypatch.setenv("SYMBIOZA_DATABASE_URL", previous)
    db.forget_engines()


def _count(model: type[object]) -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        ["serve"],
        ["migrate"],
        ["seed"],
        ["keys", "create"],
        ["keys", "demo"],
        ["import-taxonomy"],
    ):
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args([*command, "--help"])
        assert stop.value.code == 0
        assert "usage: symbioza" in capsys.readouterr().out


def test_migrate_seed_and_demo_keys(fresh_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert _count(EwcCode) >= 973
    assert main(["seed"]) == 0
    organizations, listings = _count(Organization), _count(Listing)
    assert organizations >= 40
    assert listings >= 150
    assert main(["seed"]) == 0  # a loaded database is left alone
    assert (_count(Organization), _count(Listing)) == (organizations, listings)
    assert "already" in capsys.readouterr().out

    assert main(["keys", "demo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    admin = lines[0].split()[-1]
    member = lines[1].split()[3]
    with TestClient(create_app()) as client:
        assert client.get("/api/v1/me", headers=bearer(admin)).json()["role"] == "admin"
        page = client.get("/api/v1/listings?limit=5", headers=bearer(member)).json()
        assert page["total"] >= 100
        assert len(page["items"]) == 5


def test_keys_create_for_an_organization(fresh_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["migrate"])
    main(["seed"])
    with db.session_scope() as session:
        agency = session.scalars(select(Organization).where(Organization.kind == "agency")).first()
        assert agency is not None
        agency_id, region = str(agency.id), agency.region
    capsys.readouterr()
    assert main(["keys", "create", "--org", agency_id, "--role", "agency"]) == 0
    secret = capsys.readouterr().out.split("\t")[0]
    with TestClient(create_app()) as client:
        me = client.get("/api/v1/me", headers=bearer(secret)).json()
    assert (me["role"], me["regions"]) == ("agency", [region])
    assert main(["keys", "create", "--role", "member"]) == 2


def test_import_taxonomy_loads_the_full_official_list(fresh_database: str) -> None:
    official = SHARED_DATA / "ewc.csv"
    if not official.exists():
        pytest.skip(f"{official} is not present")
    from app.migrate import upgrade

    upgrade()  # schema only: the catalogue comes from the official file alone
    assert main(["import-taxonomy", "ewc", str(official)]) == 0
    assert _count(EwcCode) == 973
    with db.session_scope() as session:
        assert session.get(EwcCode, "10 01 02") is not None
        assert session.scalar(select(func.count()).where(EwcCode.level == "entry")) == 842
    # Loading the project's catalogue afterwards adds Polish labels without losing a code.
    main(["migrate"])
    with db.session_scope() as session:
        ash = session.get(EwcCode, "10 01 02")
        assert ash is not None and ash.label_pl
    assert _count(EwcCode) == 973


def test_evaluate_prints_the_casefile_report_with_a_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from app.config import SEED_DATA_DIR

    assert main(["evaluate", str(SEED_DATA_DIR / "cases" / "documented_exchanges.json"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in (
        "exchanges",
        "directions",
        "recall@1",
        "recall@5",
        "recall@10",
        "mrr",
        "by_direction",
        "by_resource_type",
        "by_language_pair",
        "misses",
        "baseline",
    ):
        assert key in report
    assert report["directions"] == 2 * report["exchanges"]
    assert report["recall@10"] > report["baseline"]["recall@10"]
    assert main(["evaluate", str(SEED_DATA_DIR / "cases" / "missing.json")]) == 2


def test_evaluate_codes_reports_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from app.config import SEED_DATA_DIR

    assert main(["evaluate", "--codes", str(SEED_DATA_DIR / "suggest" / "labelled.csv"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["count"] >= 300
    assert report["overall"]["top5"] >= 0.85


def test_match_rebuild_prints_progress_and_totals(fresh_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["migrate"])
    main(["seed"])
    with db.session_scope() as session:
        stored = session.scalar(select(func.count()).select_from(Match))
    capsys.readouterr()
    assert main(["match", "--rebuild"]) == 0
    captured = capsys.readouterr()
    assert "ranking offers for needs" in captured.err and "matching offers" in captured.err
    assert re.search(r"matching offers +\[#+\] \d+/\d+ in \d+\.\d s\n", captured.err)
    assert f"{stored} matches (0 added, 0 changed, 0 removed)" in captured.out


def test_match_rebuild_as_a_first_load_needs_no_stored_match(
    fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate"])
    main(["seed"])
    stored = _count(Match)
    assert stored > 100
    capsys.readouterr()
    assert main(["match", "--rebuild", "--first-load"]) == 2
    assert "a first load needs an empty matches table" in capsys.readouterr().err
    assert _count(Match) == stored

    with db.session_scope() as session:
        session.execute(delete(Match))
    assert main(["match", "--rebuild", "--first-load"]) == 0
    assert f"{stored} matches ({stored} added, 0 changed, 0 removed)" in capsys.readouterr().out
