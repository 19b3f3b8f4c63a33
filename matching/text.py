"""Text normalisation and the term index that maps free text in any language onto catalogue concepts.

Concepts (EWC entries, valorisation routes, energy and water streams) carry labels and synonyms in several
languages, so two listings written in different languages meet on the concepts their words point to.
Character n-grams make the look-up tolerant of Polish and Czech inflection, missing diacritics and typos.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Self

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

# Letters that Unicode decomposition leaves alone but firms often type without.
_FOLD = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss", "ø": "o", "æ": "ae", "đ": "d"})
_NON_WORD = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"[0-9a-z]{3,}")


def normalise(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces: 'Popiół LOTNY' -> 'popiol lotny'."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD).lower())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", plain).strip()


def words(text: str) -> set[str]:
    return set(_WORD.findall(normalise(text)))


def strip_language(term: str) -> str:
    """Catalogue terms are written 'pl:popiół lotny'; the language tag is not part of the words."""
    head, sep, rest = term.partition(":")
    return rest if sep and len(head) == 2 else term


def stems(text: str) -> list[str]:
    """Words cut to five letters: enough to join 'popiołu' and 'popioły', 'gipsowy' and 'gipsowe'."""
    return [word[:5] for word in normalise(text).split() if len(word) > 2]


class ConceptVectoriser:
    """Compares free text with concepts described by terms in several languages.

    Each concept is a document of its labels and synonyms, with an optional context document (for an EWC entry,
    its subchapter and chapter: the process it comes from). Similarity is the cosine of character n-gram
    TF-IDF vectors, tolerant of inflection, missing diacritics and typos, plus a word-stem TF-IDF cosine.
    """

    def __init__(self, context_weight: float = 0.45, word_weight: float = 0.5) -> None:
        self.context_weight = context_weight
        self.word_weight = word_weight

    def fit(self, terms: Mapping[str, Sequence[str]], context: Mapping[str, Sequence[str]] | None = None) -> Self:
        self.concepts_ = list(terms)
        documents = [_document(terms[c]) for c in self.concepts_]
        contexts = [_document((context or {}).get(c, ())) for c in self.concepts_]
        self.chars_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            preprocessor=normalise,
            sublinear_tf=True,
            dtype=np.float32,
        ).fit([*documents, *contexts])
        self.words_ = TfidfVectorizer(analyzer=stems, sublinear_tf=True, dtype=np.float32).fit([*documents, *contexts])
        self.matrix_ = self._combine(documents) + self.context_weight * self._combine(contexts)
        self.stems_ = [set(stems(d)) for d in documents]
        return self

    def _combine(self, texts: Sequence[str]) -> sparse.csr_matrix:
        blocks = [self.chars_.transform(texts), self.word_weight * self.words_.transform(texts)]
        return sparse.hstack(blocks, format="csr")

    def similarity(self, texts: Sequence[str]) -> np.ndarray:
        """texts x concepts; both feature blocks are unit length, so values lie in [0, 1 + word_weight]."""
        query = sparse.hstack([self.chars_.transform(texts), self.words_.transform(texts)], format="csr")
        return np.asarray((query @ self.matrix_.T).todense())

    def top(self, text: str, k: int, min_similarity: float = 0.0) -> list[tuple[str, float]]:
        scores = self.similarity([text])[0]
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self.concepts_[i], float(scores[i])) for i in best if scores[i] >= min_similarity]

    def matched_words(self, text: str, concept: str) -> tuple[str, ...]:
        """The words of the text that the concept's terms share, for explanations."""
        vocabulary = self.stems_[self.concepts_.index(concept)]
        return tuple(sorted({w for w in normalise(text).split() if len(w) > 2 and w[:5] in vocabulary}))


def _document(terms: Iterable[str]) -> str:
    return " | ".join(strip_language(term) for term in terms)
