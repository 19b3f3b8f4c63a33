"""Keeps the database's code catalogues in step with the project's files and imported official lists."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from app.taxonomy import repository
from app.taxonomy.models import EwcCode, NaceCode
from matching.taxonomy import EwcEntry, read_ewc_catalogue, read_ewc_csv, read_nace_csv


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int


def load_project_catalogues(session: Session, seed_dir: Path) -> tuple[ImportReport, ImportReport]:
    """Upserts the project's own EWC and NACE catalogues; safe to run on every start."""
    ewc = _merge_ewc(session, read_ewc_catalogue(seed_dir / "taxonomy" / "ewc"), source="symbioza")
    nace = _merge_nace(session, seed_dir / "taxonomy" / "nace.csv")
    return ewc, nace


def import_ewc_file(session: Session, path: Path) -> ImportReport:
    """Adds codes from an official list; the project's own labels and synonyms are kept where they exist."""
    return _merge_ewc(session, list(read_ewc_csv(path)), source="import")


def _merge_ewc(session: Session, entries: list[EwcEntry], *, source: str) -> ImportReport:
    existing = repository.all_ewc(session)
    added = updated = 0
    for entry in entries:
        row = existing.get(entry.code)
        if row is None:
            session.add(_new_ewc_row(entry, source))
            added += 1
            continue
        facts: dict[str, object] = {
            "level": entry.level,
            "parent": entry.parent,
            "hazardous": entry.hazardous,
            "entry_type": entry.entry_type,
        }
        if source == "symbioza" or row.source == "import":
            facts |= {
                "label_en": entry.label_en,
                "label_pl": entry.label_pl or row.label_pl,
                "synonyms": list(entry.synonyms) or row.synonyms,
                "source": source,
            }
        if any(getattr(row, k) != v for k, v in facts.items()):
            for key, value in facts.items():
                setattr(row, key, value)
            updated += 1
    session.flush()
    return ImportReport(added=added, updated=updated, unchanged=len(entries) - added - updated)


def _new_ewc_row(entry: EwcEntry, source: str) -> EwcCode:
    return EwcCode(
        code=entry.code,
        level=entry.level,
        parent=entry.parent,
        hazardous=entry.hazardous,
        entry_type=entry.entry_type,
        label_en=entry.label_en,
        label_pl=entry.label_pl,
        synonyms=list(entry.synonyms),
        source=source,
    )


def _merge_nace(session: Session, path: Path) -> ImportReport:
    existing = repository.all_nace(session)
    entries = read_nace_csv(path)
    added = updated = 0
    for entry in entries:
        values = {
            "level": entry.level,
            "parent": entry.parent,
            "label_en": entry.label_en,
            "label_pl": entry.label_pl,
            "keywords": list(entry.keywords),
        }
        row = existing.get(entry.code)
        if row is None:
            session.add(NaceCode(code=entry.code, **values))
            added += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            updated += 1
    session.flush()
    return ImportReport(added=added, updated=updated, unchanged=len(entries) - added - updated)
