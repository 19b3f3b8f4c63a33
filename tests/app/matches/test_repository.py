import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.db import json_dumps
from app.listings.models import Listing
from app.matches import repository
from app.matches.models import Match
from app.matches.repository import MatchFilter
from tests.app.matches import scenario
from tests.app.matches.test_router import CEMENT_NEED
from tests.conftest import Api


def _heap_fetches_reading_the_last_change(engine: Engine) -> int:
    """How many heap rows PostgreSQL visits to read the last change from the primary key index."""
    with engine.connect() as connection:
        # A table of a few rows is planned as a sequential scan once VACUUM gives it statistics; the scan a large
        # table gets is the one looked at.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        statement = "EXPLAIN (ANALYZE, FORMAT JSON) SELECT seq FROM listing_changes ORDER BY seq DESC LIMIT 1"
        plan = connection.scalar(text(statement))
    node = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    while node["Node Type"] != "Index Only Scan":
        node = node["Plans"][0]
    return int(node["Heap Fetches"])


def test_vacuum_lets_index_only_scans_skip_the_heap(engine: Engine, session: Session) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: VACUUM's visibility map is what its index-only scans need")
    with session.begin():
        repository.log_change(session, uuid.uuid4())
    assert _heap_fetches_reading_the_last_change(engine) > 0  # rows no VACUUM has seen: visibility unknown

    repository.vacuum(engine)

    assert _heap_fetches_reading_the_last_change(engine) == 0


def test_ranked_matches_read_back_as_given(api: Api, session: Session) -> None:
    """A rebuild's new rows, written on PostgreSQL in COPY's binary format built from the tuples: text with tabs,
    newlines, backslashes and letters beyond ASCII, missing and present numbers, the digest's sign and the time to
    the microsecond come back as given, under the ids returned."""
    offer = api.listing(api.key(api.organization()["id"]))
    need = api.listing(api.key(api.organization()["id"]), kind="need", title="Fly ash for cement")
    other_need = api.listing(api.key(api.organization()["id"]), kind="need", title="Popiół lotny do cementu")
    session.execute(delete(Match))
    components = [["code", 1.0, 0.4, 0.4, "exact", 'EWC "10 01 02"\tand\\or\nnot']]
    impact = {"route": None, "tonnes_per_year": None, "co2e_avoided_t": None}
    bare = (
        offer["id"],
        need["id"],
        -42,
        0.8125,
        "code\tmatch\\",
        json_dumps(components),
        None,
        json_dumps(impact),
        None,
        "v\n1",
    )
    full_components = [["text", 0.3333, 0.15, 0.05, "żużel, popiół"]]
    full_impact = {"route": "fly-ash-cement", "quantity": 1e-7, "co2e_avoided_t": 1234.5678}
    full = (
        offer["id"],
        other_need["id"],
        2**63 - 1,
        1.0,
        "same_code",
        json_dumps(full_components),
        397.66,
        json_dumps(full_impact),
        -0.001,
        "1.0+2c122e05",
    )
    now = datetime(2026, 11, 25, 8, 31, 2, 123457, tzinfo=UTC)

    ids = repository.insert_ranked_matches(session, [bare, full], now)
    session.commit()

    stored = {str(match.id): match for match in session.execute(select(Match)).scalars()}
    assert set(stored) == set(ids) and {uuid.UUID(i).version for i in ids} == {7}
    for match_id, row, values in (
        (ids[0], bare, [0.8125, "code\tmatch\\", components, None, impact, None, "v\n1"]),
        (ids[1], full, [1.0, "same_code", full_components, 397.66, full_impact, -0.001, "1.0+2c122e05"]),
    ):
        match = stored[match_id]
        assert (str(match.offer_id), str(match.need_id), match.engine_digest) == row[:3]
        assert [getattr(match, f) for f in repository.ENGINE_FIELDS] == values
        assert (match.status, match.offer_state, match.need_state, match.version) == (
            "proposed",
            "proposed",
            "proposed",
            1,
        )
        assert match.created_at == match.updated_at == now


def test_stored_digests_name_each_match_by_text_and_say_whether_a_party_acted_on_it(api: Api, session: Session) -> None:
    """What a rebuild reads of the stored matches (PostgreSQL through the driver, SQLite through SQLAlchemy): the
    ids as text, a match a party acted on not untouched, and only the offers asked about."""
    offer = api.listing(api.key(api.organization()["id"]))
    other_offer = api.listing(api.key(api.organization()["id"]), title="Fly ash from a second plant")
    needs = [api.listing(api.key(api.organization()["id"]), kind="need", title=f"Fly ash for cement {i}") for i in "ab"]
    session.execute(delete(Match))
    rows = [
        (o["id"], n["id"], -7 - i, 0.5, "same_code", "[]", None, "{}", None, "v1")
        for i, (o, n) in enumerate([(offer, needs[0]), (offer, needs[1]), (other_offer, needs[0])])
    ]
    ids = repository.insert_ranked_matches(session, rows, datetime(2026, 11, 25, tzinfo=UTC))
    session.execute(update(Match).where(Match.id == uuid.UUID(ids[1])).values(need_state="interested"))

    found = repository.stored_digests_of_offers(session, [uuid.UUID(offer["id"])])

    assert set(found) == {
        (ids[0], offer["id"], needs[0]["id"], True, -7),
        (ids[1], offer["id"], needs[1]["id"], False, -8),
    }


def test_new_ids_are_distinct_version_7_uuids_led_by_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    ids = repository._new_ids(2000)
    after = time.time_ns() // 1_000_000

    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == 2000 and [str(p) for p in parsed] == ids
    assert {(p.version, p.variant) for p in parsed} == {(7, uuid.RFC_4122)}
    assert all(before <= p.int >> 80 <= after for p in parsed)
    assert len({p.int & (1 << 62) - 1 for p in parsed}) == 2000  # the random bits differ, not only the time


def test_concepts_replaced_read_back_as_given(api: Api, session: Session) -> None:
    """Written on PostgreSQL in COPY's binary format: ids that recur and alternate, texts with tabs, backslashes and
    letters beyond ASCII, weights of every kind a row may hold come back as given."""
    first = uuid.UUID(api.listing(api.key(api.organization()["id"]))["id"])
    second = uuid.UUID(api.listing(api.key(api.organization()["id"]), kind="need", title="Popiół")["id"])
    rows = [
        (first, "ewc:10 01 02", "offer", 1.0, "code"),
        (first, "term:ash\tslag\\x", "offer", 0.35, "text"),
        (second, "ewc:10 01 02", "need", 0.1 + 0.2, "code"),
        (first, "route:fly-ash-cement", "offer", 1, "activity"),
        (second, "term:popiół żużel", "need", 1e-7, "text"),
    ]

    repository.replace_concepts_of(session, [first, second], rows)
    session.commit()

    stored = repository.stored_concepts(session, [first, second])
    for listing in (first, second):
        wanted = [row[1:2] + row[3:] for row in rows if row[0] == listing]
        assert sorted(stored[listing]) == sorted(wanted)
        fresh = [row[1:] for row in rows if row[0] == listing]
        assert repository.stored_concept_digests(session)[str(listing)] == repository.concepts_digest(reversed(fresh))


def test_a_concepts_digest_is_the_same_in_any_order_and_changes_with_any_field() -> None:
    concepts = [("ewc:10 01 02", "offer", 1.0, "code"), ("term:ash", "offer", 0.35, "text")]
    digest = repository.concepts_digest(concepts)

    assert repository.concepts_digest(reversed(concepts)) == digest
    assert repository.concepts_digest([*concepts, ("route:fly-ash-cement", "offer", 1.0, "activity")]) != digest
    assert repository.concepts_digest(concepts[:1]) != digest
    for field in range(4):
        changed = list(concepts[1])
        changed[field] = 0.36 if field == 2 else f"{changed[field]}x"
        assert repository.concepts_digest([concepts[0], tuple(changed)]) != digest


def test_a_count_of_the_matches_alone_agrees_with_the_joined_query(
    api: Api, client: TestClient, session: Session
) -> None:
    """match_count leaves the listings and owners out when no filter but the scope and the region needs them."""
    s = scenario.build(api, client)
    silesia = api.organization(region="PL227", lat=50.26, lon=19.02)
    api.listing(api.key(silesia["id"]), **CEMENT_NEED)  # a second need for the same ash, outside Małopolska
    firm = uuid.UUID(s.power["id"])
    principals = [
        Principal(uuid.uuid4(), "admin", None),
        Principal(uuid.uuid4(), "agency", uuid.uuid4(), ("PL21",)),
        Principal(uuid.uuid4(), "agency", uuid.uuid4(), ("PL22",)),
        Principal(uuid.uuid4(), "agency", uuid.uuid4(), ("PL214", "PL22")),
        Principal(uuid.uuid4(), "member", firm),
        Principal(uuid.uuid4(), "member", uuid.UUID(silesia["id"])),
        Principal(uuid.uuid4(), "member", uuid.uuid4()),
    ]
    filters = [
        MatchFilter(),
        MatchFilter(region="PL21"),
        MatchFilter(region="PL214"),
        MatchFilter(region="PL22"),
        MatchFilter(min_score=0.99),
        MatchFilter(status="proposed"),
        MatchFilter(resource_type="material"),  # counted through the joins
    ]
    counted = {}
    for principal in principals:
        for f in filters:
            joined = repository.count_matches(session, repository.match_query(principal, f))
            assert repository.match_count(session, principal, f) == joined, (principal, f)
            counted[principal.role, principal.regions, f.region] = joined
    assert counted["admin", (), None] == 2
    assert (counted["agency", ("PL21",), None], counted["agency", ("PL22",), "PL22"]) == (2, 1)
    assert counted["agency", ("PL214", "PL22"), "PL214"] == 1


def test_suggested_codes_are_written_as_given_and_only_to_the_listings_named(api: Api, session: Session) -> None:
    headers = api.key(api.organization()["id"])
    ids = [uuid.UUID(api.listing(headers, ewc=None, title=f"Popiół lotny {i}")["id"]) for i in range(3)]
    session.commit()
    before = {row.id: row for row in session.execute(select(Listing).where(Listing.id.in_(ids))).scalars()}
    session.expunge_all()
    rows: list[dict[str, Any]] = [
        {"listing_id": ids[0], "suggested_ewc": "10 01 02", "suggested_ewc_confidence": 0.8125},
        {"listing_id": ids[1], "suggested_ewc": None, "suggested_ewc_confidence": None},
    ]

    repository.update_suggestions(session, rows)
    session.commit()

    after = {row.id: row for row in session.execute(select(Listing).where(Listing.id.in_(ids))).scalars()}
    assert (after[ids[0]].suggested_ewc, after[ids[0]].suggested_ewc_confidence) == ("10 01 02", 0.8125)
    assert (after[ids[1]].suggested_ewc, after[ids[1]].suggested_ewc_confidence) == (None, None)
    untouched = (before[ids[2]].suggested_ewc, before[ids[2]].suggested_ewc_confidence, before[ids[2]].updated_at)
    assert (after[ids[2]].suggested_ewc, after[ids[2]].suggested_ewc_confidence, after[ids[2]].updated_at) == untouched
    assert all(after[i].version == before[i].version for i in ids)
    assert all(after[i].updated_at > before[i].updated_at for i in ids[:2])
