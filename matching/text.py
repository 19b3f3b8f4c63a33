"""Text normalisation and the term index that maps free text in any language onto catalogue concepts.

Concepts (EWC entries, valorisation routes, energy and water streams) carry labels and synonyms in several
languages, so two listings written in different languages meet on the concepts their words point to.
Character n-grams make the look-up tolerant of Polish and Czech inflection, missing diacritics and typos.
"""

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Self

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

# Letters that Unicode decomposition leaves alone but firms often type without.
_FOLD = {"ł": "l", "Ł": "l", "ß": "ss", "ø": "o", "æ": "ae", "đ": "d"}
_NON_WORD = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"[0-9a-z]{3,}")
# Every combining character (unicodedata.combining), dropped by one str.translate: a test per character in Python
# was ~7 % of enriching a listing. The translation reads the text a character at a time (~20 us a text beyond ASCII),
# so the marks European letters decompose into go first by a substitution (~5 us): the block of combining diacritical
# marks, but for the grapheme joiner (U+034F), which unicodedata.combining does not count.
_NO_COMBINING = dict.fromkeys(c for c in range(0x110000) if unicodedata.combining(chr(c)))
_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]+")


# Enrichment reads every text with three vectorisers (codes, routes, streams), each with characters and stems:
# remembering the last few thousand analyses does that work once per text instead of six times.
ANALYSIS_CACHE = 4096
# Words whose known terms a SharedAnalysis remembers (see _MergedVocabulary), emptied when full.
WORD_CACHE = 1 << 16
# Batches of at least this many texts are compared with the concepts through a dense matrix (see similarity_of):
# ~124 MB for the engine's three vectorisers, made by a process only once it enriches in bulk.
DENSE_FROM = 64


@lru_cache(maxsize=ANALYSIS_CACHE)
def normalise(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces: 'Popiół LOTNY' -> 'popiol lotny'."""
    if text.isascii():  # nothing to fold, decompose or drop
        return _NON_WORD.sub(" ", text.lower()).strip()
    for letter, plain in _FOLD.items():
        text = text.replace(letter, plain)
    folded = _MARKS.sub("", unicodedata.normalize("NFKD", text.lower()))
    if not folded.isascii():  # other scripts, signs, or marks beyond the block
        folded = folded.translate(_NO_COMBINING)
    return _NON_WORD.sub(" ", folded).strip()


def words(text: str) -> set[str]:
    return set(_WORD.findall(normalise(text)))


def strip_language(term: str) -> str:
    """Catalogue terms are written 'pl:popiół lotny'; the language tag is not part of the words."""
    head, sep, rest = term.partition(":")
    return rest if sep and len(head) == 2 else term


def stems(text: str) -> list[str]:
    """Words cut to five letters: enough to join 'popiołu' and 'popioły', 'gipsowy' and 'gipsowe'."""
    return list(stem_grams(text))


@lru_cache(maxsize=ANALYSIS_CACHE)
def stem_grams(text: str) -> tuple[str, ...]:
    return tuple(itertools.chain.from_iterable(map(word_stem, normalise(text).split())))


@lru_cache(maxsize=ANALYSIS_CACHE)
def char_grams(text: str) -> tuple[str, ...]:
    """Character 3- to 5-grams inside the normalised words, each word padded with a space: scikit-learn's
    'char_wb' analyser with ngram_range=(3, 5), in the same order."""
    return tuple(itertools.chain.from_iterable(map(word_char_grams, normalise(text).split())))


def word_char_grams(word: str) -> tuple[str, ...]:
    """char_grams of one normalised word, in slices rather than one append a gram. A word no longer than n gives
    itself once, and no longer grams."""
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in (3, 4, 5):
        if size <= n:
            grams.append(padded)
            break
        grams.extend([padded[start : start + n] for start in range(size - n + 1)])
    return tuple(grams)


def word_stem(word: str) -> tuple[str, ...]:
    """stem_grams of one normalised word."""
    return (word[:5],) if len(word) > 2 else ()


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
        corpus = [*documents, *contexts]
        self.chars_ = TfidfVectorizer(analyzer=char_grams, sublinear_tf=True, dtype=np.float32).fit(corpus)
        self.words_ = TfidfVectorizer(analyzer=stem_grams, sublinear_tf=True, dtype=np.float32).fit(corpus)
        self.matrix_ = self._combine(documents) + self.context_weight * self._combine(contexts)
        self.matrix_t_ = self.matrix_.T.tocsr()
        self.__dict__.pop("_dense_t", None)  # made again from this fit's matrix when asked
        self.stems_ = [set(stems(d)) for d in documents]
        return self

    def _combine(self, texts: Sequence[str]) -> sparse.csr_matrix:
        blocks = [self.chars_.transform(texts), self.word_weight * self.words_.transform(texts)]
        return sparse.hstack(blocks, format="csr")

    def similarity(self, texts: Sequence[str]) -> np.ndarray:
        """texts x concepts; both feature blocks are unit length, so values lie in [0, 1 + word_weight]."""
        return self.similarity_of(self.chars_.transform(texts), self.words_.transform(texts))

    def similarity_of(self, chars: sparse.csr_matrix, words: sparse.csr_matrix) -> np.ndarray:
        """The same, from the texts' TF-IDF vectors (see SharedAnalysis). A batch of DENSE_FROM texts or more is
        multiplied by a dense copy of the concept matrix, made on first use: its product is dense anyway, and a
        sparse one spent a third of its time on the index of each value (~20 vs ~33 ms for 500 texts at the
        catalogue's 842 codes). Both sum each value's terms in the text's order, so they give the same floats."""
        query = sparse.hstack([chars, words], format="csr")
        if query.shape[0] < DENSE_FROM:
            return np.asarray((query @ self.matrix_t_).todense())
        return np.asarray(query @ self._dense_t)

    @cached_property
    def _dense_t(self) -> np.ndarray:
        return np.asarray(self.matrix_t_.toarray())

    def top(self, text: str, k: int, min_similarity: float = 0.0) -> list[tuple[str, float]]:
        scores = self.similarity([text])[0]
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self.concepts_[i], float(scores[i])) for i in best if scores[i] >= min_similarity]

    def matched_words(self, text: str, concept: str) -> tuple[str, ...]:
        """The words of the text that the concept's terms share, for explanations."""
        vocabulary = self.stems_[self.concepts_.index(concept)]
        return tuple(sorted({w for w in normalise(text).split() if len(w) > 2 and w[:5] in vocabulary}))


class SharedAnalysis:
    """Similarities of a batch of texts to the concepts of several vectorisers, counting each text's terms once.

    Counting n-grams is the slow part of a TF-IDF transform. The vectorisers' vocabularies are merged, the texts
    are counted once, and each vectoriser takes its own columns and applies its own weights, exactly as its
    TfidfVectorizer.transform would (sorted indices, sublinear tf, idf, l2 norm): the numbers are the same.
    """

    def __init__(self, vectorisers: Sequence[ConceptVectoriser]) -> None:
        self.vectorisers = list(vectorisers)
        self.chars_ = _MergedVocabulary([v.chars_ for v in self.vectorisers], word_char_grams)
        self.words_ = _MergedVocabulary([v.words_ for v in self.vectorisers], word_stem)

    def similarities(self, texts: Sequence[str], rows: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Each vectoriser's similarities of the texts. `rows`: for each vectoriser, the places of the texts it
        compares (its array has a row for each, in that order); by default every text. A row's floats do not depend
        on the others compared with it."""
        chars, words = self.chars_.tfidf(texts), self.words_.tfidf(texts)
        if rows is None:
            return [v.similarity_of(c, w) for v, c, w in zip(self.vectorisers, chars, words, strict=True)]
        return [v.similarity_of(c[at], w[at]) for v, c, w, at in zip(self.vectorisers, chars, words, rows, strict=True)]


class _MergedVocabulary:
    """The vocabularies of several fitted vectorisers as one, counting texts with an analyser that works word by
    word (`word_terms`: the terms of one normalised word; the text's terms are its words' terms in order)."""

    def __init__(self, fitted: Sequence[TfidfVectorizer], word_terms: Callable[[str], tuple[str, ...]]) -> None:
        merged: dict[str, int] = {}
        for vectorizer in fitted:
            for term in vectorizer.vocabulary_:
                merged.setdefault(term, len(merged))
        self.fitted = list(fitted)
        self.vocabulary = merged
        self.word_terms = word_terms
        # Each word's known terms as merged columns. Words recur across texts far more than texts do (a catalogue's
        # and an industry's words, in any language), so a term is looked up once per word rather than per use.
        self.word_columns: dict[str, tuple[int, ...]] = {}
        # For each vectoriser, its own column of each merged column (-1: not in its vocabulary). Selecting the
        # columns of a few counted terms through this costs their number; slicing the matrix by a vocabulary-long
        # column list cost that length, for every text (a third of enriching one listing).
        self.own_columns = []
        for vectorizer in fitted:
            own = np.full(len(merged), -1, dtype=np.int64)
            own[[merged[term] for term in vectorizer.vocabulary_]] = list(vectorizer.vocabulary_.values())
            self.own_columns.append(own)

    def counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """CountVectorizer(analyzer=..., vocabulary=...).transform(texts) as float32: every text's known terms as
        columns, from its words' (word_columns), each (text, column) counted once in order."""
        keys, counted = self._counted(texts)
        rows, columns = np.divmod(keys, len(self.vocabulary))
        return _csr(counted, rows, columns, (len(texts), len(self.vocabulary)))

    def _counted(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's terms as sorted keys (text * vocabulary size + merged column), and how often each occurs
        (float32). One np.unique: building a matrix from coordinates and summing its duplicates through scipy took
        a quarter of enriching a listing."""
        words = [normalise(text).split() for text in texts]
        if len(self.word_columns) > WORD_CACHE:
            self.word_columns.clear()
        # This call's own words kept apart: a request thread emptying the shared cache must not take them away.
        columns_of = {word: self._columns_of(word) for word in {word for text in words for word in text}}
        per_text = [list(itertools.chain.from_iterable(map(columns_of.__getitem__, text))) for text in words]
        lengths = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
        columns = np.fromiter(itertools.chain.from_iterable(per_text), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        keys, counts = np.unique(rows * len(self.vocabulary) + columns, return_counts=True)
        return keys, counts.astype(np.float32)

    def _columns_of(self, word: str) -> tuple[int, ...]:
        found = self.word_columns.get(word)
        if found is None:
            found = tuple(c for term in self.word_terms(word) if (c := self.vocabulary.get(term)) is not None)
            self.word_columns[word] = found
        return found

    def tfidf(self, texts: Sequence[str]) -> list[sparse.csr_matrix]:
        keys, counted = self._counted(texts)
        rows, merged = np.divmod(keys, len(self.vocabulary))
        found = []
        for vectorizer, own_columns in zip(self.fitted, self.own_columns, strict=True):
            columns = own_columns[merged]
            kept = columns >= 0
            own_rows, own_columns_kept, size = rows[kept], columns[kept], len(vectorizer.vocabulary_)
            # Each text's own columns in order, as TfidfVectorizer sorts them (merged and own orders differ).
            order = np.argsort(own_rows * size + own_columns_kept)
            x = _csr(counted[kept][order], own_rows[order], own_columns_kept[order], (len(texts), size))
            if vectorizer.sublinear_tf:
                np.log(x.data, x.data)
                x.data += 1.0
            x.data *= vectorizer.idf_[x.indices]
            found.append(_unit_rows(x) if vectorizer.norm == "l2" else normalize(x, norm=vectorizer.norm, copy=False))
        return found


def _csr(values: np.ndarray, rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """A CSR matrix of values given row by row, each row's columns sorted and distinct (as the caller makes them)."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    matrix = sparse.csr_matrix((values, columns.astype(np.int32), indptr), shape=shape)
    matrix.has_sorted_indices = True
    return matrix


def _unit_rows(x: sparse.csr_matrix) -> sparse.csr_matrix:
    """normalize(x, "l2") in place, without the parameter checks that cost more than the work for a few texts.
    TF-IDF values are positive, so a row with any value has a length above 0."""
    row_of_value = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    lengths = np.sqrt(np.bincount(row_of_value, weights=np.square(x.data, dtype=np.float64), minlength=x.shape[0]))
    x.data /= lengths[row_of_value].astype(x.data.dtype)
    return x


def _document(terms: Iterable[str]) -> str:
    return " | ".join(strip_language(term) for term in terms)
