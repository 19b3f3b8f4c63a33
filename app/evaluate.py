"""`symbioza evaluate`: the engine and the plain TF-IDF baseline, scored on one case file in the same run."""

import json
import sys
from pathlib import Path
from typing import Any

from app.matches.engine import get_engine
from matching.evaluation import (
    CaseFileError,
    baseline_ranker,
    evaluate,
    evaluate_suggestions,
    load_case_file,
    load_labelled_codes,
)

FIGURES = ("recall@1", "recall@5", "recall@10", "mrr", "count")


def run(path: Path, *, as_json: bool) -> int:
    try:
        case = load_case_file(path)
    except (CaseFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    index = get_engine().index(case.listings)

    def engine_ranker(listing_id: str) -> list[str]:
        return [c.need_id if c.offer_id == listing_id else c.offer_id for c in index.candidates(listing_id)]

    report = evaluate(case, engine_ranker)
    report["engine_version"] = get_engine().version_
    baseline = evaluate(case, baseline_ranker(case.listings))
    report["baseline"] = {k: v for k, v in baseline.items() if k != "misses"}
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(_tables(case.name, report))
    return 0


def _tables(name: str, report: dict[str, Any]) -> str:
    lines = [f"{name}: {report['exchanges']} exchanges, {report['directions']} directions", ""]
    header = f"{'':28}" + "".join(f"{f:>11}" for f in FIGURES)
    baseline = report["baseline"]
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = [("overall", report, baseline)]
    for group in ("by_direction", "by_resource_type", "by_language_pair"):
        for key, figures in report[group].items():
            rows.append((f"{group[3:]}: {key}", figures, baseline[group].get(key, {})))
    lines.append(header)
    for label, engine, plain in rows:
        lines.append(f"{label:28}" + "".join(_cell(engine.get(f)) for f in FIGURES))
        lines.append(f"{'  baseline':28}" + "".join(_cell(plain.get(f)) for f in FIGURES))
    lines += ["", f"not in the top 10: {len(report['misses'])} of {report['directions']} directions"]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:>11.3f}"
    return f"{value!s:>11}"


def run_codes(path: Path, *, as_json: bool) -> int:
    """Top-1 / top-5 accuracy of EWC code suggestion on a labelled CSV (text,language,ewc)."""
    try:
        rows = load_labelled_codes(path)
    except (OSError, KeyError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    engine = get_engine()
    report = evaluate_suggestions(rows, lambda text: [s.code for s in engine.suggest(text, 5)])
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'':12}{'top1':>8}{'top5':>8}{'count':>8}")
    for group, figures in report.items():
        print(f"{group:12}{figures['top1']:>8.3f}{figures['top5']:>8.3f}{figures['count']:>8}")
    return 0
