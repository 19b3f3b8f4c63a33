"""EWC codes and catalogue, and text-to-code suggestion."""

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from app.config import SEED_DATA_DIR
from matching.engine import Engine
from matching.taxonomy import CodeSuggester, EwcEntry, ewc_parent, normalise_ewc, read_ewc_csv, read_nace_csv

LABELLED = SEED_DATA_DIR / "suggest" / "labelled.csv"
# The official list, kept beside the project (DESIGN.md: "Data the engine stands on"); not part of the project.
REFERENCE_EWC = SEED_DATA_DIR.parents[1] / "shared" / "data" / "ewc.csv"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("100102", "10 01 02"),
        ("10.01.02", "10 01 02"),
        ("10 01 02", "10 01 02"),
        ("10 01 02*", "10 01 02"),
        ("17 05 03 *", "17 05 03"),
        ("  170504 ", "17 05 04"),
        ("10.01", "10 01"),
        ("1001", "10 01"),
        ("10", "10"),
    ],
)
def test_normalise_ewc_accepts_the_usual_spellings(raw: str, expected: str) -> None:
    assert normalise_ewc(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "1", "10-01-02", "10 01 02 03", "1001023", "10  01  02", "EWC 10 01 02"])
def test_normalise_ewc_rejects_what_is_not_a_code(raw: str) -> None:
    assert normalise_ewc(raw) is None


def test_ewc_parent_climbs_the_hierarchy() -> None:
    assert ewc_parent("10 01 02") == "10 01"
    assert ewc_parent("10 01") == "10"
    assert ewc_parent("10") is None


def test_catalogue_hierarchy_is_complete(catalogue: dict[str, EwcEntry]) -> None:
    levels = Counter(entry.level for entry in catalogue.values())
    assert levels["chapter"] == 20
    assert levels["entry"] > 500
    for entry in catalogue.values():
        assert normalise_ewc(entry.code) == entry.code
        assert entry.label_en and entry.label_pl, entry.code
        if entry.level == "chapter":
            assert entry.parent is None
        else:
            assert entry.parent in catalogue, entry.code
            expected_parent_level = "chapter" if entry.level == "subchapter" else "subchapter"
            assert catalogue[entry.parent].level == expected_parent_level, entry.code


def test_every_non_hazardous_mirror_entry_has_a_hazardous_sibling(catalogue: dict[str, EwcEntry]) -> None:
    mirrors = [e for e in catalogue.values() if e.entry_type == "mirror"]
    hazardous_parents = {e.parent for e in mirrors if e.hazardous}
    safe = [e for e in mirrors if not e.hazardous]
    assert len(safe) > 100
    for entry in safe:
        assert entry.parent in hazardous_parents, f"{entry.code} is a mirror entry without a hazardous side"
    assert catalogue["17 05 03"].hazardous and not catalogue["17 05 04"].hazardous


@pytest.mark.skipif(not REFERENCE_EWC.exists(), reason="the reference copy of the EWC list is not available")
def test_catalogue_agrees_with_the_reference_list_on_codes_and_hazard(catalogue: dict[str, EwcEntry]) -> None:
    with REFERENCE_EWC.open(encoding="utf-8", newline="") as handle:
        reference = {normalise_ewc(row["code"]): row for row in csv.DictReader(handle)}
    assert set(reference) == set(catalogue)
    for code, row in reference.items():
        assert code is not None
        assert catalogue[code].hazardous == (row["hazardous"].strip().lower() == "true"), code
        assert catalogue[code].entry_type == ((row["entry_type"] or "").split("_")[0] or None), code


def test_read_ewc_csv_rejects_a_malformed_code(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("code,level,hazardous,label_en\n10 0X 02,entry,false,Bad\n", encoding="utf-8")
    with pytest.raises(ValueError, match="10 0X 02"):
        list(read_ewc_csv(path))


def test_read_ewc_csv_reads_the_official_layout(tmp_path: Path) -> None:
    path = tmp_path / "official.csv"
    path.write_text("code,level,hazardous,title_en\n10 01 02*,entry,true,Coal fly ash\n", encoding="utf-8")
    (entry,) = read_ewc_csv(path)
    assert (entry.code, entry.parent, entry.hazardous, entry.label_en, entry.label_pl) == (
        "10 01 02",
        "10 01",
        True,
        "Coal fly ash",
        None,
    )


def test_nace_catalogue_has_classes_under_divisions() -> None:
    nace = {entry.code: entry for entry in read_nace_csv(SEED_DATA_DIR / "taxonomy" / "nace.csv")}
    classes = [e for e in nace.values() if e.level == "class"]
    assert classes
    for entry in classes:
        assert entry.parent is not None and entry.code.startswith(entry.parent), entry.code
        assert nace[entry.parent].level == "division", entry.code
    assert "23.51" in nace


def _labelled() -> list[dict[str, str]]:
    with LABELLED.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_suggester_top5_accuracy_on_the_labelled_set(matcher: Engine, catalogue: dict[str, EwcEntry]) -> None:
    rows = _labelled()
    assert len(rows) >= 100
    assert {row["ewc"] for row in rows} <= set(catalogue), "labelled codes must exist in the catalogue"
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for row in rows:
        suggested = [s.code for s in matcher.suggest(row["text"], k=5)]
        totals[row["language"]] += 1
        hits[row["language"]] += row["ewc"] in suggested
    accuracy = sum(hits.values()) / len(rows)
    per_language = {lang: round(hits[lang] / totals[lang], 3) for lang in sorted(totals)}
    print(f"\nCodeSuggester top-5 accuracy: {accuracy:.3f} on {len(rows)} texts; by language {per_language}")
    assert accuracy >= 0.85


def test_suggestions_are_ranked_with_confidences_and_matched_words(matcher: Engine) -> None:
    text = "Popiół lotny z węgla kamiennego, sucho odbierany z elektrofiltrów"
    suggestions = matcher.suggest(text, k=5)
    assert len(suggestions) == 5
    assert suggestions[0].code == "10 01 02"
    confidences = [s.confidence for s in suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0, abs=0.01)
    assert {"popiol", "lotny"} <= set(suggestions[0].matched_words)
    assert "fly ash" in suggestions[0].label.lower()
    assert len(matcher.suggest(text, k=2)) == 2


def _rank(suggester: CodeSuggester, text: str, code: str) -> int:
    scores = suggester.scores([text])[0]
    order = [suggester.vectoriser_.concepts_[i] for i in np.argsort(-scores, kind="stable")]
    return order.index(code)


@pytest.mark.parametrize(
    ("base", "clean", "contaminated"),
    [
        ("Ziemia z wykopów", ", czysta, bez substancji niebezpiecznych", ", zanieczyszczona ropopochodnymi"),
        ("Excavated soil and stones from a building site", " - clean, non hazardous", " - contaminated with oil"),
    ],
)
def test_clean_or_contaminated_wording_moves_a_mirror_pair(
    matcher: Engine, base: str, clean: str, contaminated: str
) -> None:
    suggester = matcher.enricher_.suggester_
    hazardous, safe = "17 05 03", "17 05 04"
    assert _rank(suggester, base + clean, safe) < _rank(suggester, base + clean, hazardous)
    assert _rank(suggester, base + contaminated, hazardous) < _rank(suggester, base + contaminated, safe)
    assert matcher.suggest(base + clean, k=1)[0].code == safe
    assert matcher.suggest(base + contaminated, k=1)[0].code == hazardous

    def lean(text: str) -> float:
        """How far the text leans to the hazardous side of the pair."""
        scores = dict(zip(suggester.vectoriser_.concepts_, suggester.scores([text])[0], strict=True))
        return float(scores[hazardous] / scores[safe])

    assert lean(base + clean) < lean(base + contaminated)


@pytest.mark.parametrize(
    "text", ["Excavated soil and stones, not contaminated", "Ziemia z wykopów, nie zanieczyszczona"]
)
def test_negated_contamination_reads_as_clean(matcher: Engine, text: str) -> None:
    assert matcher.suggest(text, k=1)[0].code == "17 05 04"
