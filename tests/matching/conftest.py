"""Shared, expensive objects for the engine tests: one fitted engine and the project's case file, built once."""

import random
from collections.abc import Callable

import pytest

from app.config import SEED_DATA_DIR
from matching.engine import Engine, Index
from matching.evaluation import CaseFile, load_case_file
from matching.knowledge import Knowledge
from matching.records import Candidate, Listing, Profile
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


# Listings written as firms write them. Tests vary them with dataclasses.replace.
@pytest.fixture(scope="session")
def fly_ash_offer() -> Listing:
    return Listing(
        id="offer-fly-ash",
        organization_id="org-elektrocieplownia",
        kind="offer",
        resource_type="material",
        title="Popiół lotny z węgla kamiennego",
        description="Popiół lotny z elektrociepłowni opalanej węglem kamiennym, odbierany na sucho z elektrofiltrów; "
        "strata prażenia poniżej 5 %.",
        language="pl",
        ewc="10 01 02",
        legal_status="by_product",
        quantity=20000,
        unit="t",
        period="year",
        lat=50.06,
        lon=19.94,
    )


@pytest.fixture(scope="session")
def cement_need() -> Listing:
    return Listing(
        id="need-pozzolan",
        organization_id="org-cementownia",
        kind="need",
        resource_type="material",
        title="Pozzolanic addition for blended cement",
        description="We are looking for a siliceous pozzolanic addition to replace part of the clinker in our "
        "blended cements.",
        language="en",
        quantity=15000,
        unit="t",
        period="year",
        lat=50.2,
        lon=19.5,
    )


@pytest.fixture(scope="session")
def battery_offer() -> Listing:
    return Listing(
        id="offer-batteries",
        organization_id="org-fleet",
        kind="offer",
        resource_type="material",
        title="Used lead-acid batteries",
        description="Spent starter batteries from a vehicle fleet, stored on acid-proof pallets.",
        language="en",
        ewc="16 06 01",
        hazardous=True,
        legal_status="waste",
        quantity=40,
        unit="t",
        period="year",
        lat=50.06,
        lon=19.94,
    )


@pytest.fixture(scope="session")
def smelter_need() -> Listing:
    return Listing(
        id="need-lead-scrap",
        organization_id="org-smelter",
        kind="need",
        resource_type="material",
        title="Lead-acid batteries and lead scrap wanted",
        description="Secondary lead smelter buys battery scrap for smelting.",
        language="en",
        quantity=5000,
        unit="t",
        period="year",
        lat=50.3,
        lon=18.9,
        nace=("24.43",),
    )


@pytest.fixture(scope="session")
def heat_offer() -> Listing:
    return Listing(
        id="offer-heat",
        organization_id="org-compressors",
        kind="offer",
        resource_type="energy",
        title="Surplus heat from compressor cooling",
        description="Hot water from the cooling circuit of the compressor station, available all year.",
        language="en",
        quantity=8000,
        unit="MWh",
        period="year",
        properties={"temperature_c": 90},
        lat=50.060,
        lon=19.940,
    )


@pytest.fixture(scope="session")
def district_heating_need() -> Listing:
    return Listing(
        id="need-district-heat",
        organization_id="org-heating-company",
        kind="need",
        resource_type="energy",
        title="Ciepło odpadowe do sieci ciepłowniczej",
        description="Miejskie przedsiębiorstwo ciepłownicze przyjmie ciepło odpadowe do sieci.",
        language="pl",
        quantity=20000,
        unit="MWh",
        period="year",
        properties={"min_temperature_c": 70},
        lat=50.061,
        lon=19.942,
    )


@pytest.fixture(scope="session")
def country_index(matcher: Engine) -> Index:
    """Synthetic listings over Poland: stated and unstated distance limits, availability windows, hazardous
    offers, waste with and without permits, quality limits, every resource type."""
    from app.bench.generate import eligible, generate, records

    data = generate(1500, seed=11, seed_dir=SEED_DATA_DIR)
    return matcher.index(r for r, raw in zip(records(data), data.listings, strict=True) if eligible(raw))


@pytest.fixture(scope="session")
def country_pairs(country_index: Index) -> list[tuple[Profile, Profile]]:
    """Every offer's 30 best pairs in the country, and as many pairs drawn at random (most of them blocked)."""
    profiles = list(country_index.profiles.values())
    pairs = [
        (country_index.profiles[c.offer_id], country_index.profiles[c.need_id])
        for offer in profiles
        if offer.listing.kind == "offer"
        for c in country_index.candidates(offer.listing.id, k=30)
    ]
    rng = random.Random(5)
    return pairs + [(rng.choice(profiles), rng.choice(profiles)) for _ in range(len(pairs))]
