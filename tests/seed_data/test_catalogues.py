"""The project's EWC and NACE catalogues, checked against the official reference lists in ../shared/data."""

import csv
from pathlib import Path

import pytest

from app.config import SEED_DATA_DIR
from matching.taxonomy import read_ewc_catalogue, read_nace_csv
from tests.conftest import SHARED_DATA

EWC_DIR = SEED_DATA_DIR / "taxonomy" / "ewc"
NACE_FILE = SEED_DATA_DIR / "taxonomy" / "nace.csv"


def _reference(name: str) -> list[dict[str, str]]:
    path: Path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"reference list {path} is not present; the catalogue cannot be checked against it here")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_ewc_catalogue_size_and_labels() -> None:
    entries = read_ewc_catalogue(EWC_DIR)
    levels = [e.level for e in entries]
    assert levels.count("chapter") == 20
    assert levels.count("subchapter") == 111
    assert levels.count("entry") >= 400
    for entry in entries:
        assert entry.label_en and entry.label_pl, entry.code
        languages = {term.split(":", 1)[0] for term in entry.synonyms}
        assert {"en", "pl"} <= languages, entry.code
    assert len({e.code for e in entries}) == len(entries)


def test_ewc_codes_and_hazard_flags_match_the_official_list() -> None:
    official = {row["code"]: row for row in _reference("ewc.csv")}
    for entry in read_ewc_catalogue(EWC_DIR):
        row = official.get(entry.code)
        assert row is not None, f"{entry.code} is not in the official list"
        assert row["level"] == entry.level, entry.code
        assert (row["hazardous"] == "true") == entry.hazardous, entry.code


def test_ewc_covers_the_chapters_industry_produces() -> None:
    ours = {e.code for e in read_ewc_catalogue(EWC_DIR)}
    wanted = {
        row["code"] for row in _reference("ewc.csv") if row["level"] == "entry" and row["code"][:2] not in {"13", "14"}
    }
    assert wanted - ours == set()


def test_nace_catalogue_matches_the_official_structure() -> None:
    official = {row["code"]: row for row in _reference("nace.csv")}
    entries = read_nace_csv(NACE_FILE)
    counts = {level: sum(e.level == level for e in entries) for level in ("section", "division", "class")}
    assert counts["section"] == 21
    assert counts["division"] == 88
    assert counts["class"] >= 150
    for entry in entries:
        assert entry.code in official, entry.code
        assert official[entry.code]["level"] == entry.level, entry.code
        assert entry.label_en and entry.label_pl, entry.code
        if entry.level == "division":
            assert official[entry.code]["parent"] == entry.parent, entry.code
        if entry.level == "class":
            assert entry.parent == entry.code[:2], entry.code
