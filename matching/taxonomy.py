"""The project's code catalogues (EWC, NACE) as plain records, read from seed_data files."""

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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


@dataclass(frozen=True)
class Suggestion:
    code: str
    label: str
    confidence: float
    matched_words: tuple[str, ...]


# Firms say whether a waste is contaminated; mirror entries split on exactly that (e.g. 17 05 03* / 17 05 04).
_CLEAN = re.compile(
    r"\b(not contaminated|non ?contaminated|nie zanieczyszczon|nicht kontaminiert|nie skazon"
    r"|bez substancji niebezpiecz|non ?hazardous|not hazardous|no hazardous|free of hazardous|without hazardous"
    r"|nieimpregnowan|niezanieczyszczon|uncontaminated|clean|czyst|untreated|nie zawiera|inne niz niebezpiecz"
    r"|bez zanieczyszczen|bez azbestu|ungefahrlich|nicht gefahrlich)"
)
_DIRTY = re.compile(
    r"\b(zawierajac\w* substancje niebezpieczn|containing hazardous|contains hazardous|contaminated|zanieczyszczon"
    r"|skazon|hazardous|niebezpieczn|impregnowan|oily|zaolejon|azbest|asbestos|pcb|gefahrlich|nebezpecn|veszelyes)"
)


class CodeSuggester:
    """Suggests EWC entries for a short free text from the catalogue's multilingual labels and synonyms."""

    def __init__(self, hazard_weight: float = 0.4) -> None:
        self.hazard_weight = hazard_weight

    def fit(self, catalogue: Iterable[EwcEntry]) -> "CodeSuggester":
        from matching.text import ConceptVectoriser

        entries = list(catalogue)
        by_code = {e.code: e for e in entries}
        self.entries_ = {e.code: e for e in entries if e.level == "entry"}
        terms = {code: _terms_of(e) for code, e in self.entries_.items()}
        context = {
            code: [*_terms_of(by_code[code[:5]]), *_terms_of(by_code[code[:2]])]
            for code in self.entries_
            if code[:5] in by_code and code[:2] in by_code
        }
        self.vectoriser_ = ConceptVectoriser().fit(terms, context)
        self.hazardous_ = np.array([self.entries_[c].hazardous for c in self.vectoriser_.concepts_])
        return self

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """texts x entries (in self.vectoriser_.concepts_ order), adjusted for what the text says of hazard."""
        return self.adjust_for_hazard(self.vectoriser_.similarity(texts), texts)

    def adjust_for_hazard(self, scores: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Scales each row of similarities (in place) by what its text says of hazard."""
        from matching.text import normalise

        for row, text in zip(scores, texts, strict=True):
            row *= self._hazard_factor(normalise(text))
        return scores

    def _hazard_factor(self, text: str) -> np.ndarray:
        if _CLEAN.search(text):
            return np.where(self.hazardous_, 1 - self.hazard_weight, 1.0)
        if _DIRTY.search(text):
            return np.where(self.hazardous_, 1 + self.hazard_weight, 1.0)
        # Unsaid: a firm that does not mention hazard most likely has the non-hazardous kind.
        return np.where(self.hazardous_, 1 - self.hazard_weight / 2, 1.0)

    def suggest(self, text: str, k: int = 5) -> list[Suggestion]:
        scores = self.scores([text])[0]
        best = [i for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
        total = float(sum(scores[i] for i in best)) or 1.0
        codes = self.vectoriser_.concepts_
        return [
            Suggestion(
                code=codes[i],
                label=self.entries_[codes[i]].label_en,
                confidence=round(float(scores[i]) / total, 3),
                matched_words=self.vectoriser_.matched_words(text, codes[i]),
            )
            for i in best
        ]


def _terms_of(entry: EwcEntry) -> list[str]:
    return [entry.label_en, *([entry.label_pl] if entry.label_pl else []), *entry.synonyms]
