"""Enrichment: which similarities a listing's profile reads, and that a batch gives each listing its own profile."""

from dataclasses import replace

from matching.engine import Engine, Index
from matching.records import Listing


def test_a_profile_does_not_depend_on_the_batch_it_is_made_in(matcher: Engine, country_index: Index) -> None:
    """Each text is compared only with the concepts its listing reads (codes for uncoded materials, streams unless
    coded): a mixed batch must still give each listing the profile it gets alone."""
    listings = [profile.listing for profile in list(country_index.profiles.values())[:150]]
    assert {listing.resource_type for listing in listings} >= {"material", "energy", "water"}
    assert any(listing.ewc for listing in listings) and any(not listing.ewc for listing in listings)
    assert matcher.profiles(listings) == [matcher.profiles([listing])[0] for listing in listings]


def test_a_gas_named_by_an_uncoded_material_is_a_stream_and_a_coded_one_is_a_waste(matcher: Engine) -> None:
    uncoded = Listing(
        id="offer-co2",
        organization_id="org-brewery",
        kind="offer",
        resource_type="material",
        title="Carbon dioxide (CO2) from fermentation",
        description="Food-grade CO2 gas recovered from our fermentation tanks.",
        language="en",
        lat=50.06,
        lon=19.94,
    )
    coded = replace(uncoded, id="offer-co2-coded", ewc="02 07 04")
    found, given = matcher.profiles([uncoded, coded])
    assert "stream:co2" in found.concepts and found.suggested_ewc is not None
    assert found.suggested_confidence is not None
    assert not [concept for concept in given.concepts if concept.startswith("stream:")]
    assert given.suggested_ewc is None and given.suggested_confidence is None
    assert "ewc:02 07 04" in given.concepts
