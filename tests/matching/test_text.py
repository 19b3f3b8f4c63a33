"""Text normalisation and the multilingual concept vectoriser."""

import re
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from matching import text as text_module
from matching.engine import Engine, Index
from matching.text import (
    ConceptVectoriser,
    SharedAnalysis,
    char_grams,
    normalise,
    stem_grams,
    stems,
    strip_language,
    words,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Popiół LOTNY", "popiol lotny"),
        ("Łódź", "lodz"),
        ("ŁUPEK przywęglowy", "lupek przyweglowy"),
        ("ąćęłńóśźż", "acelnoszz"),
        ("ĄĆĘŁŃÓŚŹŻ", "acelnoszz"),
        ("Żużel wielkopiecowy, granulowany!", "zuzel wielkopiecowy granulowany"),
        ("  odpady -- z  płuczki  ", "odpady z pluczki"),
        ("Straßenaufbruch", "strassenaufbruch"),
        ("výkopová zemina", "vykopova zemina"),
    ],
)
def test_normalise_folds_case_diacritics_and_punctuation(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_leaves_only_ascii_words_single_spaced() -> None:
    text = "Gips z IOS (odsiarczanie), wilgotność ≤10 %; Ł/ł, ß — «ok»"
    result = normalise(text)
    assert re.fullmatch(r"[0-9a-z]+( [0-9a-z]+)*", result), result
    assert "l l" in result  # Ł and ł both become l, not dropped


def test_normalise_is_idempotent() -> None:
    once = normalise("Popiół lotny z węgla kamiennego; strata prażenia < 5 %")
    assert normalise(once) == once


def test_words_and_stems_join_inflected_polish_forms() -> None:
    assert words("Popiół lotny, z") == {"popiol", "lotny"}
    assert stems("popiołu lotnego") == stems("popioły lotne") == ["popio", "lotne"]
    assert stems("Popiół") == stems("popiol")


@pytest.mark.parametrize(
    ("term", "expected"),
    [("pl:popiół lotny", "popiół lotny"), ("en:fly ash", "fly ash"), ("CO2: captured", "CO2: captured")],
)
def test_strip_language_removes_only_two_letter_tags(term: str, expected: str) -> None:
    assert strip_language(term) == expected


@pytest.fixture(scope="module")
def small_vectoriser() -> ConceptVectoriser:
    terms = {
        "fly_ash": ["en:coal fly ash", "en:pulverised fuel ash", "pl:popiół lotny", "de:Flugasche"],
        "gypsum": ["en:FGD gypsum", "en:desulphurisation gypsum", "pl:gips z odsiarczania spalin", "de:REA-Gips"],
        "sawdust": ["en:sawdust", "en:wood shavings", "pl:trociny", "pl:wióry drzewne", "de:Sägespäne"],
        "steel_scrap": ["en:steel scrap", "en:ferrous scrap", "pl:złom stalowy", "de:Stahlschrott"],
    }
    return ConceptVectoriser().fit(terms)


@pytest.mark.parametrize(
    ("polish", "english", "concept"),
    [
        ("Popiół lotny z elektrowni", "Fly ash from the power plant", "fly_ash"),
        ("gips z odsiarczania spalin", "FGD gypsum", "gypsum"),
        ("trociny i wióry z tartaku", "sawdust and shavings from a sawmill", "sawdust"),
        ("złom stalowy z produkcji", "steel scrap from production", "steel_scrap"),
    ],
)
def test_polish_text_and_its_english_equivalent_meet_on_one_concept(
    small_vectoriser: ConceptVectoriser, polish: str, english: str, concept: str
) -> None:
    assert small_vectoriser.top(polish, 1)[0][0] == concept
    assert small_vectoriser.top(english, 1)[0][0] == concept


def test_vectoriser_tolerates_missing_diacritics_and_inflection(small_vectoriser: ConceptVectoriser) -> None:
    assert small_vectoriser.top("popiol lotny", 1)[0][0] == "fly_ash"
    assert small_vectoriser.top("popiołów lotnych", 1)[0][0] == "fly_ash"
    assert small_vectoriser.top("zlomu stalowego", 1)[0][0] == "steel_scrap"


def test_similarity_has_one_row_per_text_and_one_column_per_concept(small_vectoriser: ConceptVectoriser) -> None:
    scores = small_vectoriser.similarity(["popiół lotny", "sawdust", "nothing related"])
    assert scores.shape == (3, len(small_vectoriser.concepts_))
    assert np.all(scores >= 0)
    top = small_vectoriser.top("popiół lotny", 4)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    assert small_vectoriser.top("popiół lotny", 4, min_similarity=10.0) == []


def test_matched_words_are_the_text_words_a_concept_shares(small_vectoriser: ConceptVectoriser) -> None:
    assert small_vectoriser.matched_words("Popiołu lotny sprzedamy dużo", "fly_ash") == ("lotny", "popiolu")
    assert small_vectoriser.matched_words("Coal fly ash for sale", "fly_ash") == ("ash", "coal", "fly")
    assert small_vectoriser.matched_words("Popiołu lotnego sprzedamy", "sawdust") == ()


def test_stems_join_the_forms_the_docstring_names() -> None:
    assert stems("popiołu") == stems("popioły")
    assert stems("gipsowy") == stems("gipsowe")


@pytest.mark.parametrize(
    ("polish", "english"),
    [
        ("Popiół lotny z węgla kamiennego", "Coal fly ash"),
        ("Zużyte akumulatory ołowiowe", "Spent lead-acid batteries"),
        ("Złom stalowy", "steel scrap"),
        ("Gips z odsiarczania spalin", "FGD gypsum"),
    ],
)
def test_catalogue_vectoriser_puts_polish_and_english_on_the_same_ewc_entry(
    matcher: Engine, polish: str, english: str
) -> None:
    vectoriser = matcher.enricher_.suggester_.vectoriser_
    assert vectoriser.top(polish, 1)[0][0] == vectoriser.top(english, 1)[0][0]


@pytest.mark.parametrize(
    ("polish", "english"),
    [
        ("dodatek pucolanowy do cementu", "pozzolanic addition for cement"),
        ("żużel wielkopiecowy do betonu", "blast furnace slag for concrete"),
        ("stłuczka szklana do huty szkła", "glass cullet for a glassworks"),
    ],
)
def test_route_vectoriser_puts_receiver_wording_in_both_languages_on_one_route(
    matcher: Engine, polish: str, english: str
) -> None:
    vectoriser = matcher.enricher_.routes_
    assert vectoriser.top(polish, 1)[0][0] == vectoriser.top(english, 1)[0][0]


def test_shared_analysis_gives_each_vectoriser_its_own_similarities(small_vectoriser: ConceptVectoriser) -> None:
    heat = ConceptVectoriser().fit(
        {"waste_heat": ["en:waste heat", "pl:ciepło odpadowe"], "steam": ["en:process steam", "pl:para wodna"]},
        {"steam": ["en:boiler house"]},
    )
    texts = ["Popiół lotny i ciepło odpadowe", "steel scrap, sawdust", "", "para wodna z kotłowni", "nic"]
    shared = SharedAnalysis([small_vectoriser, heat]).similarities(texts)
    for vectoriser, found in zip([small_vectoriser, heat], shared, strict=True):
        assert found.shape == (len(texts), len(vectoriser.concepts_))
        np.testing.assert_allclose(found, vectoriser.similarity(texts), rtol=1e-5, atol=1e-6)
    assert shared[1][0].max() > 0 and shared[0][1].max() > 0  # the texts do meet concepts of both


@pytest.fixture(scope="module")
def country_texts(country_index: Index) -> list[str]:
    """The generated listings' texts (six languages) and a few short or empty ones."""
    edge_cases = ["", "a b", "ab", "abc", "abcd", "Popiół  LOTNY, żużel", "x" * 40]
    return [profile.listing.text for profile in country_index.profiles.values()] + edge_cases


def test_normalise_drops_every_combining_character_as_a_test_per_character_does(country_texts: list[str]) -> None:
    """normalise drops combining marks with a pattern and a table; a test per character (unicodedata.combining) is
    the definition. Every mark of the combining blocks, after letters of several scripts, and the generated texts."""
    marks = "".join(chr(c) for c in range(0x0300, 0x0370)) + "\u0483\u05b0\u093c\u20d0\ufe20\U0001d165"
    texts = [
        *country_texts,
        *(f"a{mark}b" for mark in marks),
        "Ǆ ǅ ﬁ Ⅻ ①",
        "ĳsselmeer Ωmega Ѐ",
        "e\u0301 n\u0303 a\u0308",
    ]

    def by_character(text: str) -> str:
        folded = unicodedata.normalize(
            "NFKD", text.translate({ord(k): v for k, v in text_module._FOLD.items()}).lower()
        )
        plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
        return re.sub(r"[^0-9a-z]+", " ", plain).strip()

    assert [normalise(t) for t in texts] == [by_character(t) for t in texts]
    assert normalise("ne\u0301e\u0327") == "nee"


def test_char_grams_are_scikit_learns_char_wb_grams(country_texts: list[str]) -> None:
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), preprocessor=normalise).build_analyzer()
    assert len(country_texts) > 1000
    for text in country_texts:
        assert list(char_grams(text)) == reference(text)


def test_shared_counts_are_what_count_vectorizer_counts(matcher: Engine, country_texts: list[str]) -> None:
    analysis = matcher.enricher_.analysis_
    for merged, analyzer in ((analysis.chars_, char_grams), (analysis.words_, stem_grams)):
        found = merged.counts(country_texts)
        expected = CountVectorizer(analyzer=analyzer, vocabulary=merged.vocabulary, dtype=np.float32)
        wanted = expected.transform(country_texts)
        assert found.shape == wanted.shape and found.dtype == wanted.dtype
        assert found.nnz > 5 * len(country_texts)
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(found, part), getattr(wanted, part)), part


def test_counts_stay_the_same_when_the_word_cache_fills(
    matcher: Engine, country_texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    merged = matcher.enricher_.analysis_.chars_
    wanted = CountVectorizer(analyzer=char_grams, vocabulary=merged.vocabulary, dtype=np.float32)
    monkeypatch.setattr(text_module, "WORD_CACHE", 50)  # emptied in nearly every batch below
    for start in range(0, len(country_texts), 7):
        batch = country_texts[start : start + 7]
        assert (merged.counts(batch) != wanted.transform(batch)).nnz == 0
    assert 0 < len(merged.word_columns) <= 50 + len({w for t in country_texts[-7:] for w in normalise(t).split()})


def test_counts_from_several_threads_while_the_word_cache_empties(
    matcher: Engine, country_texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server enriches in request threads: one thread emptying the shared cache must not take words away from
    another between its looking them up and its counting."""
    merged = matcher.enricher_.analysis_.chars_
    wanted = CountVectorizer(analyzer=char_grams, vocabulary=merged.vocabulary, dtype=np.float32)
    batches = [country_texts[start : start + 3] for start in range(0, len(country_texts), 3)]
    expected = [wanted.transform(batch) for batch in batches]
    monkeypatch.setattr(text_module, "WORD_CACHE", 2)  # emptied by nearly every call
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can

    def count_all(_: int) -> int:
        return sum((merged.counts(b) != e).nnz for b, e in zip(batches, expected, strict=True))

    try:
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(count_all, range(4))) == [0] * 4
    finally:
        sys.setswitchinterval(interval)


def test_shared_tfidf_is_what_each_vectorizer_transforms(matcher: Engine, country_texts: list[str]) -> None:
    """The same terms in the same order, and the same values up to the last bits of the norm's sum."""
    analysis = matcher.enricher_.analysis_
    for merged in (analysis.chars_, analysis.words_):
        for vectorizer, found in zip(merged.fitted, merged.tfidf(country_texts), strict=True):
            wanted = vectorizer.transform(country_texts)
            assert found.shape == wanted.shape and found.dtype == wanted.dtype and found.has_sorted_indices
            assert np.array_equal(found.indptr, wanted.indptr) and np.array_equal(found.indices, wanted.indices)
            np.testing.assert_allclose(found.data, wanted.data, rtol=1e-6)


def test_a_batch_compared_through_the_dense_matrix_gets_the_floats_each_text_gets_alone(
    matcher: Engine, country_texts: list[str]
) -> None:
    analysis = matcher.enricher_.analysis_
    batch = country_texts[: 3 * text_module.DENSE_FROM] + country_texts[-7:]
    together = analysis.similarities(batch)
    alone = [analysis.similarities([text]) for text in batch]
    for i, found in enumerate(together):
        assert found.shape[1] == len(analysis.vectorisers[i].concepts_)
        assert np.array_equal(found, np.vstack([one[i] for one in alone]))


def test_each_vectoriser_compares_only_the_texts_it_is_given(matcher: Engine, country_texts: list[str]) -> None:
    """Rows asked for, in the order asked, are the rows of every text compared: the same floats."""
    analysis = matcher.enricher_.analysis_
    batch = country_texts[: 2 * text_module.DENSE_FROM]
    every = analysis.similarities(batch)
    rows = [np.array([5, 1, 70, 3]), np.arange(len(batch))[::-3], np.empty(0, dtype=np.int64)]
    some = analysis.similarities(batch, rows)
    for found, wanted, at in zip(some, every, rows, strict=True):
        assert np.array_equal(found, wanted[at])
