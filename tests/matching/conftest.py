"""Shared, expensive objects for the engine tests: one fitted engine and the project's case file, built once."""

from collections.abc import Callable

import pytest

from app.config import SEED_DATA_DIR
from matching.engine import Engine, Index
from matching.evaluation import CaseFile, load_case_file
from matching.knowledge import Knowledge
from matching.records import Candidate, Listing
from matching.taxonomy import EwcEntry, read_ewc_catalogue

CASE_FILE = SEED_DATA_DIR / "cases" / "documented_exchanges.json"


@pytest.fixture(scope="session")
def matcher() -> Engine:
    """The engine fitted on the project's seed data (about 1-3 s), shared by every engine test."""
    return Engine.from_seed_data(SEED_DATA_DIR).fit()


@pytest.fixture(scope="session")
def knowledge(matcher: Engine) -> Knowledge:
    return matcher.knowledge


@pytest.fixture(scope="session")
def catalogue() -> dict[str, EwcEntry]:
    return {entry.code: entry for entry in read_ewc_catalogue(SEED_DATA_DIR / "taxonomy" / "ewc")}


@pytest.fixture(scope="session")
def case() -> CaseFile:
    return load_case_file(CASE_FILE)


@pytest.fixture(scope="session")
def case_index(matcher: Engine, case: CaseFile) -> Index:
    return matcher.index(case.listings)


@pytest.fixture(scope="session")
def pair(matcher: Engine) -> Callable[[Listing, Listing], Candidate | None]:
    """The engine's verdict on one offer and one need: a candidate, or None when blocked or excluded."""

    def judge(offer: Listing, need: Listing) -> Candidate | None:
        offer_profile, need_profile = matcher.profiles([offer, need])
        return matcher.pair(offer_profile, need_profile)

    return judge
