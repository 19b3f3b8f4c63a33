"""The project's code catalogues (EWC, NACE) as plain records, read from seed_data files."""

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_EWC_DIGITS = re.compile(r"^(\d{2})[\s.]?(\d{2})?[\s.]?(\d{2})?$")


@dataclass(frozen=True)
class EwcEntry:
    code: str
    level: str
    parent: str | None
    hazardous: bool
    entry_type: str | None
    label_en: str
    label_pl: str | None
    synonyms: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class NaceEntry:
    code: str
    level: str
    parent: str | None
    label_en: str
    label_pl: str | None
    keywords: tuple[str, ...] = field(default=())


def normalise_ewc(raw: str) -> str | None:
    """'100102', '10.01.02', '10 01 02*' -> '10 01 02'; None when it is not shaped like an EWC code."""
    match = _EWC_DIGITS.match(raw.strip().rstrip("*").strip())
    if not match:
        return None
    return " ".join(part for part in match.groups() if part)


def ewc_parent(code: str) -> str | None:
    return code[: len(code) - 3] if len(code) > 2 else None


def _terms(cell: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in cell.split(";") if t.strip())


def _bool(cell: str) -> bool:
    return cell.strip().lower() in {"true", "1", "yes"}


def read_ewc_csv(path: Path) -> Iterator[EwcEntry]:
    """Reads the project's layout (label_en/label_pl/synonyms) or the official reference layout (title_en)."""
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = normalise_ewc(row["code"])
            if code is None:
                raise ValueError(f"{path.name}: {row['code']!r} is not an EWC code")
            entry_type = (row.get("entry_type") or "").split("_")[0] or None
            yield EwcEntry(
                code=code,
                level=row["level"],
                parent=ewc_parent(code),
                hazardous=_bool(row["hazardous"]),
                entry_type=entry_type,
                label_en=(row.get("label_en") or row.get("title_en") or "").strip(),
                label_pl=(row.get("label_pl") or row.get("title_pl") or "").strip() or None,
                synonyms=_terms(row.get("synonyms") or ""),
            )


def read_ewc_catalogue(directory: Path) -> list[EwcEntry]:
    entries: Iterable[EwcEntry] = (e for f in sorted(directory.glob("*.csv")) for e in read_ewc_csv(f))
    return sorted(entries, key=lambda e: e.code)


def read_nace_csv(path: Path) -> list[NaceEntry]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            NaceEntry(
                code=row["code"].strip(),
                level=row["level"],
                parent=(row.get("parent") or "").strip() or None,
                label_en=(row.get("label_en") or row.get("title_en") or "").strip(),
                label_pl=(row.get("label_pl") or row.get("title_pl") or "").strip() or None,
                keywords=_terms(row.get("keywords") or ""),
            )
            for row in csv.DictReader(handle)
        ]
