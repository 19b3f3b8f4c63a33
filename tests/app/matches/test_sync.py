"""Keeping stored matches current in bulk: a rebuild writes only what changed and looks subscriptions up once."""

import contextlib
import gc
import json
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.config import SEED_DATA_DIR
from app.db import json_dumps
from app.listings.models import Listing
from app.matches import adapter, repository, sync
from app.matches.engine import get_engine
from app.matches.models import ListingConcept, Match
from app.organizations.models import Organization
from app.seed import load_demo
from app.webhooks.models import WebhookDelivery
from matching.engine import Index
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api


def _stored(session: Session) -> dict[tuple[str, str], Match]:
    session.expire_all()
    return {(str(m.offer_id), str(m.need_id)): m for m in session.scalars(select(Match))}


def test_a_rebuild_writes_only_what_changed_and_keeps_ids(api: Api, client: TestClient, session: Session) -> None:
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(lat=50.25, lon=19.60, nace=["23.51"])
    lime = api.organization(lat=50.30, lon=19.70, nace=["23.51"])
    seller = api.key(power["id"])
    ash = api.listing(seller, **ASH)
    need = api.listing(api.key(cement["id"]), **CEMENT_NEED)
    other = api.listing(api.key(lime["id"]), **CEMENT_NEED)
    before = _stored(session)
    assert set(before) == {(ash["id"], need["id"]), (ash["id"], other["id"])}
    kept = before[(ash["id"], need["id"])]
    kept_id, kept_version, kept_score = kept.id, kept.version, kept.score

    # Behind the engine's back: one need asks for less, the other is paused. A rebuild catches up with both.
    session.execute(update(Listing).where(Listing.id == kept.need_id).values(quantity=500))
    session.execute(
        update(Listing).where(Listing.id == before[(ash["id"], other["id"])].need_id).values(status="paused")
    )
    session.commit()
    report = sync.rebuild(session)
    session.commit()
    assert (report.added, report.changed, report.removed) == (0, 1, 1)
    after = _stored(session)
    assert set(after) == {(ash["id"], need["id"])}
    changed = after[(ash["id"], need["id"])]
    assert changed.id == kept_id and changed.version == kept_version + 1 and changed.score < kept_score

    with _statements(session) as statements:
        again = sync.rebuild(session)
    session.commit()
    assert (again.matches, again.added, again.changed, again.removed) == (1, 0, 0, 0)
    # Settled by the stored digest: the engine fields were not read back.
    assert not any("matches.components" in s for s in statements)


def _ash_and_two_needs_one_acted_on(api: Api, session: Session) -> tuple[dict[str, Any], ...]:
    """A fly ash offer and two cement needs matched with it; the second's buyer is interested in its match."""
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(lat=50.25, lon=19.60, nace=["23.51"])
    lime = api.organization(lat=50.30, lon=19.70, nace=["23.51"])
    ash = api.listing(api.key(power["id"]), **ASH)
    need = api.listing(api.key(cement["id"]), **CEMENT_NEED)
    other = api.listing(api.key(lime["id"]), **CEMENT_NEED)
    acted_on = _stored(session)[(ash["id"], other["id"])].id
    session.execute(update(Match).where(Match.id == acted_on).values(need_state="interested"))
    session.commit()
    return ash, need, other


def test_a_rebuild_removes_the_untouched_matches_of_an_offer_taken_out(
    api: Api, client: TestClient, session: Session
) -> None:
    """An offer paused behind the engine's back loses the matches no party acted on; the one acted on stays."""
    ash, need, other = _ash_and_two_needs_one_acted_on(api, session)
    session.execute(update(Listing).where(Listing.id == uuid.UUID(ash["id"])).values(status="paused"))
    session.commit()

    report = sync.rebuild(session)
    session.commit()
    assert (report.matches, report.added, report.changed, report.removed) == (0, 0, 0, 1)
    assert set(_stored(session)) == {(ash["id"], other["id"])}
    assert (ash["id"], need["id"]) not in _stored(session)


def test_a_rebuild_writes_a_match_acted_on_with_its_sentences_and_the_others_without(
    api: Api, client: TestClient, session: Session
) -> None:
    """Both needs ask for more behind the engine's back: a rebuild changes both matches, the one a party acted on
    as the engine writes it with sentences, the other as it writes it without."""
    ash, need, other = _ash_and_two_needs_one_acted_on(api, session)
    session.execute(update(Listing).where(Listing.kind == "need").values(quantity=Listing.quantity * 4))
    session.commit()

    report = sync.rebuild(session)
    session.commit()
    assert (report.matches, report.added, report.changed, report.removed) == (2, 0, 2, 0)
    engine = get_engine()
    rows = {str(x.id): x for x in session.scalars(select(Listing))}
    profiles = {i: engine.profiles([adapter.record(rows[i])])[0] for i in (ash["id"], need["id"], other["id"])}
    stored = _engine_fields(session)
    for need_id, sentences in ((other["id"], True), (need["id"], False)):
        candidate = engine.pair(profiles[ash["id"]], profiles[need_id], sentences=sentences)
        assert candidate is not None
        values = adapter.match_values(candidate, engine.version_)
        assert stored[ash["id"], need_id] == tuple(values[f] for f in repository.ENGINE_FIELDS)
        assert all(len(c) == 6 for c in values["components"]) is sentences


def test_every_write_stores_the_digest_of_what_it_wrote(api: Api, client: TestClient, session: Session) -> None:
    """Digests as written by a listing's write (new rows and rows it changes), by a rebuild's updates and inserts:
    each equals the digest of the engine fields stored beside it."""
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(lat=50.25, lon=19.60, nace=["23.51"])
    seller = api.key(power["id"])
    ash = api.listing(seller, **ASH)
    buyer = api.key(cement["id"])
    need = api.listing(buyer, **CEMENT_NEED)
    assert _digests(session) == _fields_digests(session) and len(_digests(session)) == 1
    before = _digests(session)
    assert (
        client.patch(
            f"/api/v1/listings/{need['id']}", json={"quantity": 900}, headers=buyer | {"If-Match": '"1"'}
        ).status_code
        == 200
    )
    assert _digests(session) == _fields_digests(session) != before
    # A write that leaves the match as it was fills in a digest the row lacks (as rows from before 0008 do).
    session.execute(text("UPDATE matches SET engine_digest = NULL"))
    session.commit()
    again = client.patch(f"/api/v1/listings/{need['id']}", json={"quantity": 900}, headers=buyer | {"If-Match": '"2"'})
    assert again.status_code == 200
    assert _digests(session) == _fields_digests(session)

    session.execute(update(Listing).where(Listing.id == uuid.UUID(ash["id"])).values(quantity=5))
    session.commit()
    assert sync.rebuild(session).changed == 1
    session.commit()
    assert _digests(session) == _fields_digests(session) != before
    session.execute(delete(Match))
    session.commit()
    assert sync.rebuild(session).added == 1
    session.commit()
    assert _digests(session) == _fields_digests(session)


def test_a_match_changed_by_hand_is_repaired_by_the_next_rebuild(
    api: Api, client: TestClient, session: Session
) -> None:
    """An UPDATE of an engine field that leaves the digest as it was clears it (a trigger), so that a rebuild does
    not trust the digest of a row edited by hand; other columns keep it."""
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(lat=50.25, lon=19.60, nace=["23.51"])
    api.listing(api.key(power["id"]), **ASH)
    api.listing(api.key(cement["id"]), **CEMENT_NEED)
    computed = _engine_fields(session)
    session.execute(text("UPDATE matches SET realised_unit = 't'"))
    session.commit()
    assert None not in _digests(session).values()

    session.execute(text("UPDATE matches SET score = 0.0123"))
    session.commit()
    assert set(_digests(session).values()) == {None}
    report = sync.rebuild(session)
    session.commit()
    assert (report.added, report.changed, report.removed) == (0, 1, 0)
    assert _engine_fields(session) == computed
    assert _digests(session) == _fields_digests(session)


def _digests(session: Session) -> dict[object, int | None]:
    return dict(session.execute(text("SELECT id, engine_digest FROM matches")).all())


def _fields_digests(session: Session) -> dict[object, int]:
    fields = [f"CAST({f} AS TEXT)" if f in repository.JSON_FIELDS else f for f in repository.ENGINE_FIELDS]
    rows = session.execute(text(f"SELECT id, {', '.join(fields)} FROM matches")).all()
    return {row[0]: repository.digest_of(row[1:]) for row in rows}


@contextlib.contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements run meanwhile."""
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(bind, "before_cursor_execute", seen)


def test_a_rebuild_looks_webhook_subscriptions_up_once(api: Api, client: TestClient, session: Session) -> None:
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    seller = api.key(power["id"])
    api.listing(seller, **ASH)
    for i in range(4):
        firm = api.organization(lat=50.2 + i / 50, lon=19.6, nace=["23.51"])
        api.listing(api.key(firm["id"]), **CEMENT_NEED)
    session.execute(delete(Match))
    session.commit()
    with _statements(session) as statements:
        report = sync.rebuild(session)
    session.commit()
    assert report.added == 4
    assert sum("webhook_subscriptions" in s for s in statements) == 1


def test_a_rebuild_announces_each_new_match_by_its_stored_id(api: Api, client: TestClient, session: Session) -> None:
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    seller = api.key(power["id"])
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["match.created"]}
    assert client.post(f"/api/v1/organizations/{power['id']}/webhooks", json=hook, headers=seller).status_code == 201
    ash = api.listing(seller, **ASH)
    unheard = api.organization(lat=50.1, lon=20.1, nace=["35.11"])  # no subscription: its matches go by COPY text
    api.listing(api.key(unheard["id"]), **ASH)
    for i in range(3):
        firm = api.organization(lat=50.2 + i / 50, lon=19.6, nace=["23.51"])
        api.listing(api.key(firm["id"]), **CEMENT_NEED)
    session.execute(delete(Match))
    session.execute(delete(WebhookDelivery))
    session.commit()

    assert sync.rebuild(session).added == 6
    session.commit()

    assert len(_stored(session)) == 6
    stored = {str(m.id): m for m in _stored(session).values() if str(m.offer_id) == ash["id"]}
    payloads = [d.payload for d in session.scalars(select(WebhookDelivery))]
    assert sorted(p["match_id"] for p in payloads) == sorted(stored) and len(stored) == 3
    for payload in payloads:
        match = stored[payload["match_id"]]
        assert (payload["listing_id"], payload["counterpart_listing_id"]) == (ash["id"], str(match.need_id))
        assert (payload["score"], payload["rule"]) == (match.score, match.rule)


def _engine_fields(session: Session) -> dict[tuple[str, str], tuple[object, ...]]:
    return {key: tuple(getattr(m, f) for f in repository.ENGINE_FIELDS) for key, m in _stored(session).items()}


def test_a_rebuild_in_forked_processes_stores_what_one_process_stores(session: Session) -> None:
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    session.commit()
    sync.rebuild(session, processes=1)
    session.commit()
    alone = _engine_fields(session)
    assert len(alone) > 100
    # What is stored is what the engine says of each pair.
    engine = get_engine()
    profiles = {p.listing.id: p for p in engine.profiles([adapter.record(x) for x in session.scalars(select(Listing))])}
    for (offer_id, need_id), fields in alone.items():
        candidate = engine.pair(profiles[offer_id], profiles[need_id], sentences=False)  # no party acted on them
        assert candidate is not None
        values = adapter.match_values(candidate, engine.version_)
        assert fields == tuple(values[f] for f in repository.ENGINE_FIELDS)

    # Updates: one matched offer changes behind the engine's back and back again, each time rebuilt.
    offer = session.get(Listing, _stored(session)[next(iter(alone))].offer_id)
    assert offer is not None and offer.quantity is not None
    quantity = offer.quantity
    session.execute(update(Listing).where(Listing.id == offer.id).values(quantity=quantity * 3))
    session.commit()
    assert sync.rebuild(session, processes=1).changed > 0
    session.execute(update(Listing).where(Listing.id == offer.id).values(quantity=quantity))
    session.commit()
    report = sync.rebuild(session, processes=2)
    session.commit()
    assert report.changed > 0 and (report.added, report.removed) == (0, 0)
    assert _engine_fields(session) == alone

    # Inserts: from an empty table.
    session.execute(delete(Match))
    session.commit()
    report = sync.rebuild(session, processes=2)
    session.commit()
    assert (report.added, report.matches) == (len(alone), len(alone))
    assert _engine_fields(session) == alone


def _keys(session: Session) -> set[str]:
    """The indexes and constraints of the tables a first load fills, as the database defines them."""
    if session.get_bind().dialect.name == "postgresql":
        indexes = session.scalars(
            text("SELECT indexdef FROM pg_indexes WHERE tablename IN ('matches', 'listing_concepts')")
        )
        constraints = session.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint"
                " WHERE conrelid IN ('matches'::regclass, 'listing_concepts'::regclass)"
            )
        )
        return {*indexes, *(f"{name} {definition} validated={valid}" for name, definition, valid in constraints)}
    query = "SELECT sql FROM sqlite_master WHERE tbl_name IN ('matches', 'listing_concepts') AND sql IS NOT NULL"
    return set(session.scalars(text(query)))


def _visible_pages(session: Session) -> tuple[int, int]:
    """The pages of `matches` that the visibility map holds all-visible, and all its pages (as ANALYZE counts)."""
    session.execute(text("ANALYZE matches"))
    visible, pages = session.execute(
        text("SELECT relallvisible, relpages FROM pg_class WHERE relname = 'matches'")
    ).one()
    return int(visible), int(pages)


def test_a_first_load_stores_what_a_rebuild_stores_with_the_same_keys(session: Session) -> None:
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    session.commit()
    keys = _keys(session)
    sync.rebuild(session, processes=1)
    session.commit()
    stored = _engine_fields(session)
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    if on_postgresql:  # a rebuild's rows are written as any rows are: no VACUUM has seen them yet
        visible, pages = _visible_pages(session)
        assert pages > 0 and visible == 0
    session.execute(delete(Match))
    session.commit()

    report = sync.rebuild(session, processes=2, first_load=True)
    session.commit()
    assert (report.added, report.matches) == (len(stored), len(stored))
    assert _engine_fields(session) == stored
    assert _keys(session) == keys
    if on_postgresql:  # copied with FREEZE: all-visible, so the VACUUM after a first load skips them
        visible, pages = _visible_pages(session)
        assert pages > 0 and visible == pages
    # The foreign keys made again still cascade: a deleted offer takes its matches and concepts with it.
    offer_id = uuid.UUID(next(iter(stored))[0])
    session.execute(delete(Listing).where(Listing.id == offer_id))
    session.commit()
    assert not session.scalars(select(Match).where(Match.offer_id == offer_id)).all()
    assert not session.scalars(select(ListingConcept).where(ListingConcept.listing_id == offer_id)).all()


def test_a_first_load_is_refused_while_matches_are_stored(session: Session) -> None:
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    session.commit()
    sync.rebuild(session, processes=1)
    session.commit()
    stored, keys = _engine_fields(session), _keys(session)
    with pytest.raises(sync.FirstLoadRefused, match="needs an empty matches table"):
        sync.rebuild(session, first_load=True)
    session.rollback()
    assert _engine_fields(session) == stored
    assert _keys(session) == keys


def test_a_first_load_that_fails_leaves_the_tables_keys_as_they_were(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    session.execute(delete(Match))
    session.commit()
    keys = _keys(session)
    during: list[set[str]] = []

    def fail(session: Session, data: bytes, *, frozen: bool) -> None:
        during.append(_keys(session))
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(repository, "copy_ranked", fail)  # after the keys are set aside, before they are made
    with pytest.raises(RuntimeError, match="the disk is full"):
        sync.rebuild(session, processes=1, first_load=True)
    session.rollback()
    if session.get_bind().dialect.name == "postgresql":  # while the rows were written: primary and unique keys only
        constraints = {key.split()[0] for key in during[0] if not key.startswith("CREATE")}
        assert constraints == {"pk_matches", "uq_matches_offer_id", "pk_listing_concepts"}
        assert not any("ix_matches" in key for key in during[0])
    else:
        assert during == [keys]
    assert _keys(session) == keys
    assert not _engine_fields(session)


def test_profiles_stored_in_steps_between_the_needs_results_are_all_stored(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _demo_rebuilt(session)
    assert len(whole[0]) > 500 and whole[1]

    session.execute(delete(ListingConcept))
    session.execute(update(Listing).values(suggested_ewc=None, suggested_ewc_confidence=None))
    session.commit()
    monkeypatch.setattr(sync, "PROFILES_STEP", 7)
    monkeypatch.setattr(sync, "BATCH", 5)  # several results of the needs' ranking to store between
    sync.rebuild(session, processes=2)
    session.commit()
    assert _concepts_and_suggestions(session) == whole


def test_a_rebuild_rewrites_the_concepts_of_only_the_listings_whose_stored_ones_differ(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _demo_rebuilt(session)
    # Behind the engine's back: one listing's concept weighs half as much, another's is gone.
    first, second = sorted({row[0] for row in whole[0]})[:2]
    reweighed = next(row for row in whole[0] if row[0] == first)
    gone = next(row for row in whole[0] if row[0] == second)
    session.execute(
        update(ListingConcept)
        .where(ListingConcept.listing_id == first, ListingConcept.concept == reweighed[1])
        .values(weight=reweighed[3] / 2)
    )
    session.execute(
        delete(ListingConcept).where(ListingConcept.listing_id == second, ListingConcept.concept == gone[1])
    )
    session.commit()
    replace = repository.replace_concepts_of
    rewritten: list[uuid.UUID] = []

    def spied(session: Session, listing_ids: Any, rows: Any) -> None:
        rewritten.extend(listing_ids)
        replace(session, listing_ids, rows)

    monkeypatch.setattr(repository, "replace_concepts_of", spied)
    sync.rebuild(session, processes=1)
    session.commit()
    assert sorted(rewritten) == [first, second]
    assert _concepts_and_suggestions(session) == whole


def _demo_rebuilt(session: Session) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The demo region loaded and rebuilt in one process: its stored concepts and suggested codes."""
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    session.commit()
    sync.rebuild(session, processes=1)
    session.commit()
    return _concepts_and_suggestions(session)


def _concepts_and_suggestions(session: Session) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    session.expire_all()
    concepts = session.execute(
        select(
            ListingConcept.listing_id,
            ListingConcept.concept,
            ListingConcept.kind,
            ListingConcept.weight,
            ListingConcept.source,
        )
    )
    suggested = session.execute(
        select(Listing.id, Listing.suggested_ewc, Listing.suggested_ewc_confidence).where(
            Listing.suggested_ewc.is_not(None)
        )
    )
    return {tuple(row) for row in concepts}, {tuple(row) for row in suggested}


def test_a_rebuild_reencodes_json_stored_in_another_encoding_without_a_change(session: Session) -> None:
    """Rows written before the JSON columns were encoded by orjson hold json.dumps text (spaces, escapes): the same
    values, which a rebuild must not count as changed, and rewrites in the current encoding."""
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    session.commit()
    sync.rebuild(session, processes=1)
    session.commit()
    raw = session.execute(
        text("SELECT id, CAST(components AS TEXT) AS components, CAST(impact AS TEXT) AS impact, version FROM matches")
    ).all()
    assert raw and all(row.components == json_dumps(json.loads(row.components)) for row in raw)
    for row in raw:
        older = {f: json.dumps(json.loads(getattr(row, f))) for f in ("components", "impact")}
        session.execute(
            text("UPDATE matches SET components = :components, impact = :impact WHERE id = :id"),
            older | {"id": row.id},
        )
    session.commit()
    older_text: dict[object, str] = dict(
        session.execute(text("SELECT id, CAST(components AS TEXT) FROM matches")).tuples().all()
    )
    assert all(older_text[row.id] != row.components for row in raw)

    report = sync.rebuild(session, processes=1)
    session.commit()
    assert (report.added, report.changed, report.removed) == (0, 0, 0)
    assert _digests(session) == _fields_digests(session)  # written for the rows that had none
    versions: dict[object, int] = dict(session.execute(text("SELECT id, version FROM matches")).all())
    assert versions == {row.id: row.version for row in raw}
    # The text is rewritten once, in the current encoding, so that later rebuilds compare text again.
    rewritten: dict[object, str] = dict(
        session.execute(text("SELECT id, CAST(components AS TEXT) FROM matches")).tuples().all()
    )
    assert rewritten == {row.id: row.components for row in raw}


def test_a_rebuild_whose_profiles_cannot_be_written_fails_and_keeps_what_was_stored(
    api: Api, engine: Engine, session: Session
) -> None:
    """A rebuild that cannot write the profiles raises; the matches stored before stay as they were."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: a lock timeout is how the profiles' writing is made to fail")
    api.listing(api.key(api.organization(lat=50.08, lon=20.05, nace=["35.11"])["id"]), **ASH)
    api.listing(api.key(api.organization(lat=50.25, lon=19.60, nace=["23.51"])["id"]), **CEMENT_NEED)
    before = _engine_fields(session)
    session.commit()
    with engine.connect() as blocker:
        blocker.execute(text("LOCK TABLE listing_concepts IN ACCESS EXCLUSIVE MODE"))
        session.execute(text("SET lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            sync.rebuild(session)
        session.rollback()
        blocker.rollback()
    assert before and _engine_fields(session) == before


def test_the_index_built_while_enriching_is_the_one_built_after(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild adds each enriched batch to the index as it comes, with the rows in the index's order: the same
    index, in the same order, as Index.add_profiles of every profile at once, and every posting sorted by latitude
    (the prefix a reach takes a band of)."""
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    # Places of their own for some listings (the others are at their owner's), and none for one owner's.
    for n, listing_id in enumerate(session.scalars(select(Listing.id).order_by(Listing.id)).all()[::2]):
        session.execute(update(Listing).where(Listing.id == listing_id).values(lat=49.5 + n % 7 / 3, lon=20.0))
    session.execute(
        update(Organization)
        .where(
            Organization.id == select(Listing.organization_id).where(Listing.lat.is_(None)).limit(1).scalar_subquery()
        )
        .values(lat=None, lon=None)
    )
    session.commit()
    engine = get_engine()
    rows = sorted(repository.all_listing_rows(session), key=adapter.index_order)
    places = {"own" if row.lat is not None else "owner's" if row.owner_lat is not None else "none" for row in rows}
    assert places == {"own", "owner's", "none"}

    monkeypatch.setattr(sync, "ENRICH_BATCH", 7)  # many batches, in two processes
    index = Index(engine)
    kept, profiles = sync._profiles_of(session, engine, 2, None, index)
    assert [row.id for row in kept] == [row.id for row in rows]
    expected = Index(engine).add_profiles(p for row, p in zip(rows, profiles, strict=True) if sync.is_eligible(row))

    assert len(index.profiles) > 50
    assert list(index.profiles) == list(expected.profiles)
    assert [index.row_of(i) for i in index.profiles] == [expected.row_of(i) for i in expected.profiles]
    postings = index._concepts._postings
    assert all(p.sorted_size == p.size for p in postings.values())
    assert {key: p.rows[: p.size].tolist() for key, p in postings.items()} == {
        key: p.rows[: p.size].tolist() for key, p in expected._concepts._postings.items()
    }


class _Tracked:
    """A listing row that a weak reference can follow."""

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def test_this_process_lets_go_of_the_rows_while_the_processes_enrich_them(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forked processes inherit the rows; this one frees them, keeping only what it stores and announces."""
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    read = repository.all_listing_rows
    rows: list[weakref.ref[_Tracked]] = []

    def tracked_rows(session: Session) -> list[_Tracked]:
        found = [_Tracked(row) for row in read(session)]
        rows.extend(weakref.ref(row) for row in found)
        return found

    alive: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        alive.append(sum(row() is not None for row in rows))

    monkeypatch.setattr(repository, "all_listing_rows", tracked_rows)
    monkeypatch.setattr(sync, "ENRICH_BATCH", 7)
    kept, profiles = sync._profiles_of(session, get_engine(), 2, progress)

    assert len(alive) > 3 and alive[0] == len(rows) > 50  # before forking; then none
    assert alive[1:] == [0] * (len(alive) - 1)
    assert [str(row.id) for row in kept] == [p.listing.id for p in profiles] and len(kept) == len(rows)


def test_a_rebuild_runs_with_the_collector_paused_here_and_leaves_it_on(session: Session) -> None:
    """Each stage reports with the collector off in this process, and a rebuild that fails turns it back on too."""
    load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
    collecting: dict[str, bool] = {}

    def progress(stage: str, done: int, total: int) -> None:
        collecting[stage] = collecting.get(stage, False) or gc.isenabled()

    sync.rebuild(session, progress, processes=2)
    assert set(collecting) == {"enriching listings", "ranking offers for needs", "matching offers"}
    assert not any(collecting.values()) and gc.isenabled()

    def failing(stage: str, done: int, total: int) -> None:
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        sync.rebuild(session, failing)
    assert gc.isenabled()
