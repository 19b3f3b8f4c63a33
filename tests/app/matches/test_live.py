"""Each server process's in-memory index follows the database: other processes' writes, rebuilds, rolled-back
writes and listings changed behind the service's back."""

import gc
import uuid
from collections.abc import Iterable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.listings.models import Listing
from app.matches import repository, sync
from app.matches.live import LiveIndex, live_index
from app.matches.models import Match
from matching.engine import Index
from matching.records import Profile
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api


def _synced(session: Session, live: LiveIndex) -> dict[str, tuple[str, float, tuple[str, ...]]]:
    """What the index holds after catching up: per listing, its kind, quantity and concepts."""
    repository.lock_matches(session)
    live.sync(session)
    session.rollback()
    assert live.index is not None
    return {
        listing_id: (p.listing.kind, p.listing.quantity or 0.0, tuple(sorted(p.concepts)))
        for listing_id, p in live.index.profiles.items()
    }


def _in_database(session: Session) -> dict[str, tuple[str, float, tuple[str, ...]]]:
    """The same, read from the database: the listings taking part and their stored concepts."""
    rows = repository.eligible_listing_rows(session)
    concepts = repository.stored_concepts(session, None)
    session.rollback()
    return {
        str(row.id): (row.kind, row.quantity or 0.0, tuple(sorted(c for c, _, _ in concepts.get(row.id, ()))))
        for row in rows
    }


def test_another_process_index_follows_every_write(api: Api, client: TestClient, session: Session) -> None:
    elsewhere = LiveIndex()  # as another server process would hold it
    assert _synced(session, elsewhere) == _in_database(session)
    seller = api.key(api.organization(lat=50.08, lon=20.05, nace=["35.11"])["id"])
    buyer = api.key(api.organization(lat=50.25, lon=19.60, nace=["23.51"])["id"])
    ash = api.listing(seller, **ASH)
    need = api.listing(buyer, **CEMENT_NEED)
    other = api.listing(buyer, **CEMENT_NEED)
    url = f"/api/v1/listings/{ash['id']}"
    assert client.patch(url, json={"quantity": 300}, headers=api.current(url, seller)).status_code == 200
    url = f"/api/v1/listings/{need['id']}"
    assert client.patch(url, json={"status": "paused"}, headers=api.current(url, buyer)).status_code == 200
    url = f"/api/v1/listings/{other['id']}"
    assert client.delete(url, headers=api.current(url, buyer)).status_code == 204

    held = _synced(session, elsewhere)
    assert held == _in_database(session)
    assert held[ash["id"]][1] == 300 and need["id"] not in held and other["id"] not in held


def test_the_index_loads_with_the_collector_paused_and_leaves_it_on(
    api: Api, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.listing(api.key(api.organization(lat=50.08, lon=20.05, nace=["35.11"])["id"]), **ASH)
    collecting_while_built = []
    add_profiles = Index.add_profiles

    def watched(index: Index, profiles: Iterable[Profile]) -> Index:
        collecting_while_built.append(gc.isenabled())
        return add_profiles(index, profiles)

    monkeypatch.setattr(Index, "add_profiles", watched)
    assert gc.isenabled()
    held = _synced(session, LiveIndex())
    assert collecting_while_built == [False] and len(held) == 1
    assert gc.isenabled()


def test_a_rebuild_makes_every_process_load_again(api: Api, client: TestClient, session: Session) -> None:
    elsewhere = LiveIndex()
    seller = api.key(api.organization(lat=50.08, lon=20.05, nace=["35.11"])["id"])
    ash = api.listing(seller, **ASH)
    _synced(session, elsewhere)
    # Behind the service's back, then a rebuild: the log says "everything changed".
    session.execute(update(Listing).where(Listing.id == uuid.UUID(ash["id"])).values(quantity=7))
    sync.rebuild(session)
    session.commit()
    assert _synced(session, elsewhere)[ash["id"]][1] == 7


def test_a_rolled_back_write_leaves_no_trace_in_the_index(api: Api, client: TestClient, session: Session) -> None:
    seller = api.key(api.organization(lat=50.08, lon=20.05, nace=["35.11"])["id"])
    ash = api.listing(seller, **ASH)
    listing = session.get(Listing, uuid.UUID(ash["id"]))
    assert listing is not None
    listing.kind = "need"
    sync.refresh(session, listing)  # the index of this process now holds it as a need...
    session.rollback()  # ...which the database never saw
    assert _synced(session, live_index(session))[ash["id"]][0] == "offer"


def test_a_listing_deleted_behind_the_services_back_is_not_matched(
    api: Api, client: TestClient, session: Session
) -> None:
    seller = api.key(api.organization(lat=50.08, lon=20.05, nace=["35.11"])["id"])
    buyer = api.key(api.organization(lat=50.25, lon=19.60, nace=["23.51"])["id"])
    gone = api.listing(seller, **ASH)
    kept = api.listing(seller, **ASH)
    session.execute(delete(Listing).where(Listing.id == uuid.UUID(gone["id"])))  # no change logged
    session.commit()
    need = api.listing(buyer, **CEMENT_NEED)
    offers = set(session.scalars(select(Match.offer_id).where(Match.need_id == uuid.UUID(need["id"]))))
    assert offers == {uuid.UUID(kept["id"])}
    assert gone["id"] not in _synced(session, live_index(session))
