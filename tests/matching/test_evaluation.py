"""Case files and match-quality metrics (CASEFILE.md)."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.config import SEED_DATA_DIR
from matching.engine import Engine, Index
from matching.evaluation import CaseFile, CaseFileError, Ranker, baseline_ranker, evaluate, load_case_file

FIGURES = ("recall@1", "recall@5", "recall@10", "mrr")
CASE_FILE = SEED_DATA_DIR / "cases" / "documented_exchanges.json"


def _engine_ranker(index: Index) -> Ranker:
    def rank(listing_id: str) -> list[str]:
        return [c.need_id if c.offer_id == listing_id else c.offer_id for c in index.candidates(listing_id)]

    return rank


def _tiny_case() -> dict[str, Any]:
    def listing(listing_id: str, organization: str, kind: str, language: str, resource_type: str) -> dict[str, Any]:
        return {
            "id": listing_id,
            "organization": organization,
            "kind": kind,
            "resource_type": resource_type,
            "title": f"{kind} {listing_id}",
            "description": "text",
            "language": language,
        }

    return {
        "name": "tiny",
        "organizations": [
            {"id": org, "name": f"Firm {org}", "lat": 50.0 + i / 10, "lon": 19.0, "nace": ["23.51"], "region": "PL21"}
            for i, org in enumerate("abcd")
        ],
        "listings": [
            listing("o1", "a", "offer", "en", "material"),
            listing("o2", "b", "offer", "pl", "material"),
            listing("o3", "c", "offer", "en", "energy"),
            listing("n1", "b", "need", "en", "material"),
            listing("n2", "d", "need", "en", "material"),
            listing("n3", "a", "need", "pl", "energy"),
        ],
        "exchanges": [{"offer": "o1", "need": "n1"}, {"offer": "o2", "need": "n2"}, {"offer": "o3", "need": "n3"}],
    }


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_metrics_on_a_tiny_case_match_a_hand_count(tmp_path: Path) -> None:
    case = load_case_file(_write(tmp_path, _tiny_case()))
    filler = [f"z{i}" for i in range(10)]
    answers = {
        "o1": ["n2", "n1"],  # rank 2
        "n1": ["o1"],  # rank 1
        "o2": ["n1", "n3"],  # not found
        "n2": ["o3", "o1", "o2"],  # rank 3
        "o3": [*filler[:6], "n3"],  # rank 7
        "n3": [*filler, "o3"],  # rank 11: found, but outside the top 10
    }
    report = evaluate(case, lambda listing_id: answers[listing_id])

    def expect(ranks: list[int | None]) -> dict[str, float]:
        n = len(ranks)
        return {
            "recall@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
            "recall@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
            "recall@10": sum(1 for r in ranks if r is not None and r <= 10) / n,
            "mrr": sum(1 / r for r in ranks if r is not None) / n,
        }

    def same(got: dict[str, Any], ranks: list[int | None]) -> None:
        assert got["count"] == len(ranks)
        for figure, value in expect(ranks).items():
            assert got[figure] == pytest.approx(value, abs=5e-5), figure

    assert (report["exchanges"], report["directions"]) == (3, 6)
    same(report, [2, 1, None, 3, 7, 11])
    assert report["recall@1"] == pytest.approx(1 / 6, abs=5e-5)
    assert report["mrr"] == pytest.approx((1 / 2 + 1 + 1 / 3 + 1 / 7 + 1 / 11) / 6, abs=5e-5)
    same(report["by_direction"]["offer_to_need"], [2, None, 7])
    same(report["by_direction"]["need_to_offer"], [1, 3, 11])
    same(report["by_resource_type"]["material"], [2, 1, None, 3])
    same(report["by_resource_type"]["energy"], [7, 11])
    assert set(report["by_language_pair"]) == {"en-en", "pl-en", "en-pl"}
    same(report["by_language_pair"]["en-en"], [2, 1])
    same(report["by_language_pair"]["pl-en"], [None, 3])
    same(report["by_language_pair"]["en-pl"], [7, 11])
    assert report["misses"] == [
        {"offer": "o2", "need": "n2", "direction": "offer_to_need", "rank": None},
        {"offer": "o3", "need": "n3", "direction": "need_to_offer", "rank": 11},
    ]


def test_the_engine_ranks_a_tiny_real_exchange_first(tmp_path: Path, matcher: Engine) -> None:
    data = _tiny_case()
    data["listings"] = [
        {
            "id": "ash",
            "organization": "a",
            "kind": "offer",
            "resource_type": "material",
            "title": "Popiół lotny z węgla kamiennego",
            "description": "Popiół lotny z kotłów pyłowych elektrociepłowni, odbierany na sucho.",
            "language": "pl",
            "ewc": "10 01 02",
            "quantity": 20000,
            "unit": "t",
            "period": "year",
        },
        {
            "id": "cement",
            "organization": "b",
            "kind": "need",
            "resource_type": "material",
            "title": "Pozzolanic addition for blended cement",
            "description": "Siliceous pozzolan to replace part of the clinker.",
            "language": "en",
        },
        {
            "id": "chips",
            "organization": "c",
            "kind": "need",
            "resource_type": "material",
            "title": "Wood chips for a biomass boiler",
            "description": "Clean wood chips as fuel.",
            "language": "en",
        },
    ]
    data["exchanges"] = [{"offer": "ash", "need": "cement"}]
    case = load_case_file(_write(tmp_path, data))
    report = evaluate(case, _engine_ranker(matcher.index(case.listings)))
    assert report["recall@1"] == 1.0 and report["mrr"] == 1.0
    assert report["by_language_pair"]["pl-en"]["count"] == 2
    assert report["misses"] == []


def test_the_loader_takes_location_and_activity_from_the_organization(tmp_path: Path) -> None:
    data = _tiny_case()
    data["listings"][0] |= {"colour": "grey", "quantity": "12", "properties": {"moisture_pct": 9}}
    data["organizations"][0]["motto"] = "ignored"
    case = load_case_file(_write(tmp_path, data))
    assert case.name == "tiny"
    assert case.exchanges == [("o1", "n1"), ("o2", "n2"), ("o3", "n3")]
    first = case.listings[0]
    assert (first.organization_id, first.lat, first.lon, first.nace, first.region) == (
        "a",
        50.0,
        19.0,
        ("23.51",),
        "PL21",
    )
    assert first.quantity == 12.0
    assert dict(first.properties) == {"moisture_pct": 9}


Mutation = Callable[[dict[str, Any]], None]


def _set(section: str, index: int, **fields: Any) -> Mutation:
    return lambda data: data[section][index].update(fields)


def _drop(section: str, index: int, field: str) -> Mutation:
    return lambda data: data[section][index].pop(field)


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        pytest.param(_drop("listings", 3, "title"), ["listings[3]", "n1", "title"], id="missing-title"),
        pytest.param(_set("listings", 1, description=""), ["listings[1]", "o2", "description"], id="empty-description"),
        pytest.param(_drop("organizations", 1, "lat"), ["organizations[1]", "b", "lat"], id="missing-lat"),
        pytest.param(_set("listings", 4, kind="gift"), ["n2", "kind"], id="bad-kind"),
        pytest.param(_set("listings", 0, resource_type="money"), ["o1", "resource_type"], id="bad-resource-type"),
        pytest.param(_set("listings", 2, organization="nobody"), ["o3", "organization", "nobody"], id="no-owner"),
        pytest.param(_set("exchanges", 0, offer="n1"), ["exchanges[0]", "offer", "n1"], id="need-as-offer"),
        pytest.param(_set("exchanges", 2, need="n9"), ["exchanges[2]", "need", "n9"], id="unknown-partner"),
        pytest.param(lambda d: d.pop("listings"), ["listings"], id="no-listings"),
        pytest.param(lambda d: d["exchanges"].__setitem__(1, ["o2", "n2"]), ["exchanges[1]"], id="exchange-list"),
        pytest.param(
            _set("listings", 0, quantity="lots"),
            ["o1", "quantity"],
            id="quantity-not-a-number",
        ),
        pytest.param(
            _set("organizations", 0, lat="north"),
            ["organizations", "a", "lat"],
            id="lat-not-a-number",
        ),
        pytest.param(
            _set("listings", 0, hazardous="no"),
            ["o1", "hazardous"],
            id="hazardous-not-a-boolean",
        ),
        pytest.param(
            _set("listings", 0, unit="barrels"),
            ["o1", "unit"],
            id="unknown-unit",
        ),
        pytest.param(
            _set("listings", 0, properties=["hot"]),
            ["o1", "properties"],
            id="properties-not-an-object",
        ),
        pytest.param(
            lambda d: d["listings"].append(dict(d["listings"][0])),
            ["listings", "o1"],
            id="duplicate-listing-id",
        ),
        pytest.param(
            _set("exchanges", 0, offer=["o1"]),
            ["exchanges[0]", "offer"],
            id="exchange-id-not-a-string",
        ),
    ],
)
def test_a_malformed_case_file_names_the_record_and_field(tmp_path: Path, mutate: Mutation, named: list[str]) -> None:
    data = _tiny_case()
    mutate(data)
    with pytest.raises(CaseFileError) as raised:
        load_case_file(_write(tmp_path, data))
    message = str(raised.value)
    for fragment in named:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_a_file_that_is_not_json_is_a_case_file_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x", "organizations": [', encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"broken\.json"):
        load_case_file(path)


def test_a_top_level_array_is_a_case_file_error(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError):
        load_case_file(_write(tmp_path, [_tiny_case()]))


# The project's case file ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(case: CaseFile, case_index: Index) -> tuple[dict[str, Any], dict[str, Any]]:
    engine_report = evaluate(case, _engine_ranker(case_index))
    baseline_report = evaluate(case, baseline_ranker(case.listings))
    lines = [f"\n{case.name}: {engine_report['exchanges']} exchanges"]
    for label, report in (("engine", engine_report), ("baseline", baseline_report)):
        lines.append(f"  {label:8} " + "  ".join(f"{f}={report[f]:.3f}" for f in FIGURES))
    for pair_name, figures in engine_report["by_language_pair"].items():
        lines.append(f"  engine {pair_name:6} recall@10={figures['recall@10']:.3f} (n={figures['count']})")
    print("\n".join(lines))
    return engine_report, baseline_report


def test_the_case_file_is_well_formed(case: CaseFile) -> None:
    by_id = {listing.id: listing for listing in case.listings}
    assert len(by_id) == len(case.listings)
    assert len(case.exchanges) >= 50
    for offer_id, need_id in case.exchanges:
        offer, need = by_id[offer_id], by_id[need_id]
        assert offer.organization_id != need.organization_id, (offer_id, need_id)
        assert offer.resource_type == need.resource_type, (offer_id, need_id)


def test_exchanges_never_reach_the_engine(tmp_path: Path, case: CaseFile) -> None:
    data = json.loads(CASE_FILE.read_text(encoding="utf-8"))
    data["exchanges"] = []
    assert load_case_file(_write(tmp_path, data)).listings == case.listings


def test_engine_quality_overall_and_in_both_directions(
    case: CaseFile, reports: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    engine_report, _ = reports
    assert engine_report["exchanges"] == len(case.exchanges)
    assert engine_report["directions"] == 2 * len(case.exchanges)
    for figures in (engine_report, *engine_report["by_direction"].values()):
        assert figures["recall@10"] >= 0.90
        assert figures["mrr"] >= 0.70
    assert set(engine_report["by_direction"]) == {"offer_to_need", "need_to_offer"}


@pytest.mark.parametrize("language_pair", ["pl-en", "en-pl"])
def test_engine_matches_across_languages(reports: tuple[dict[str, Any], dict[str, Any]], language_pair: str) -> None:
    figures = reports[0]["by_language_pair"][language_pair]
    assert figures["count"] >= 4
    assert figures["recall@10"] >= 0.85


@pytest.mark.parametrize("figure", FIGURES)
def test_engine_beats_the_tfidf_baseline(reports: tuple[dict[str, Any], dict[str, Any]], figure: str) -> None:
    engine_report, baseline_report = reports
    assert engine_report[figure] > baseline_report[figure]


def test_the_baseline_never_proposes_the_same_firm_or_kind(case: CaseFile) -> None:
    rank = baseline_ranker(case.listings)
    by_id = {listing.id: listing for listing in case.listings}
    for listing in case.listings[:40]:
        for other in rank(listing.id):
            assert by_id[other].kind != listing.kind
            assert by_id[other].organization_id != listing.organization_id
