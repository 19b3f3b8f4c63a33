"""The synthetic data generator: deterministic, valid for the API, shaped like a country's industry."""

import json
import math
import statistics
from collections import Counter
from pathlib import Path

import pytest

from app.bench.cities import CITIES
from app.bench.generate import Dataset, eligible, generate, iter_sizes, records
from app.config import SEED_DATA_DIR
from app.listings.schemas import ListingCreate
from app.organizations.schemas import OrganizationCreate
from matching.taxonomy import read_ewc_catalogue


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(1500, seed=7, seed_dir=SEED_DATA_DIR)


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(dataset: Dataset) -> None:
    again = generate(1500, seed=7, seed_dir=SEED_DATA_DIR)
    assert json.dumps(again.to_json()) == json.dumps(dataset.to_json())
    other = generate(1500, seed=8, seed_dir=SEED_DATA_DIR)
    assert [x["id"] for x in other.listings] != [x["id"] for x in dataset.listings]
    assert len(dataset.listings) == 1500


def test_every_organization_and_listing_is_valid_for_the_api(dataset: Dataset) -> None:
    entries = {e.code: e for e in read_ewc_catalogue(SEED_DATA_DIR / "taxonomy" / "ewc") if e.level == "entry"}
    owners = {o["id"] for o in dataset.organizations}
    for organization in dataset.organizations:
        OrganizationCreate.model_validate({k: v for k, v in organization.items() if k != "id"})
    for listing in dataset.listings:
        fields = {k: v for k, v in listing.items() if k not in {"id", "organization"}}
        ListingCreate.model_validate(fields | {"organization_id": listing["organization"]})
        assert listing["organization"] in owners
        if listing["ewc"] is not None:  # the API also checks codes against the catalogue, hazard flag included
            assert listing["ewc"] in entries
            assert listing["hazardous"] == entries[listing["ewc"]].hazardous


def test_firms_sit_in_polish_cities_weighted_by_size(dataset: Dataset) -> None:
    cities = Counter(o["city"] for o in dataset.organizations)
    assert cities["Warszawa"] > cities["Połaniec"]
    assert len(cities) > 30
    for organization in dataset.organizations:
        assert 49.0 < organization["lat"] < 55.0 and 14.0 < organization["lon"] < 24.2  # Poland
    assert {o["region"] for o in dataset.organizations} <= {c.region for c in CITIES}


def test_listings_mix_kinds_resources_and_languages(dataset: Dataset) -> None:
    listings = dataset.listings
    assert {x["kind"] for x in listings} == {"offer", "need"}
    assert {x["resource_type"] for x in listings} == {"material", "energy", "water", "capacity"}
    languages = Counter(x["language"] for x in listings)
    assert languages.most_common(1)[0][0] == "pl"
    assert {"en", "de", "cs"} <= set(languages)
    assert any(x["ewc"] is None and x["resource_type"] == "material" for x in listings)  # codes left to suggest
    assert 0.05 < sum(not eligible(x) for x in listings) / len(listings) < 0.25  # paused, closed, private ones


def test_quantities_are_log_normal_a_few_large_many_small(dataset: Dataset) -> None:
    tonnes = [x["quantity"] for x in dataset.listings if x["unit"] == "t" and x["period"] == "year"]
    logs = [math.log10(q) for q in tonnes if q > 0]
    assert statistics.mean(tonnes) > 2 * statistics.median(tonnes)  # skewed to the right
    assert max(logs) - statistics.median(logs) > 1.0 and statistics.median(logs) - min(logs) > 1.0


def test_engine_records_take_the_owners_place_when_the_listing_has_none(dataset: Dataset) -> None:
    owners = {o["id"]: o for o in dataset.organizations}
    for raw, record in zip(dataset.listings, records(dataset), strict=True):
        owner = owners[raw["organization"]]
        assert (record.lat, record.lon) == ((raw["lat"], raw["lon"]) if raw["lat"] else (owner["lat"], owner["lon"]))
        assert record.nace == tuple(owner["nace"]) and record.region == owner["region"]


def test_written_files_read_back(dataset: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    dataset.write(path)
    assert Dataset.read(path) == dataset


def test_sizes_read_like_people_write_them() -> None:
    assert list(iter_sizes("10k, 30k,1M,500")) == [10_000, 30_000, 1_000_000, 500]
