"""Each listing's K best: what a write keeps, what it pushes out, and that writes keep the stored matches equal to
what a full rebuild stores."""

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import config
from app.matches import shortlist, sync
from app.matches.models import Match
from matching.records import Candidate, Impact
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api

X = uuid.UUID(int=100)


def _candidate(other: uuid.UUID, score: float) -> Candidate:
    impact = Impact(None, None, None, None, None, None, "")
    return Candidate(str(X), str(other), score, "same_code", (), None, impact)


def _stored(*scores: float) -> list[shortlist.Entry]:
    """A listing's stored matches, best first, with counterparts ...01, ...02 and so on."""
    return [
        shortlist.Entry(score, uuid.UUID(int=i + 1), uuid.UUID(int=1000 + i), True) for i, score in enumerate(scores)
    ]


def test_a_candidate_is_kept_when_it_is_among_the_listings_best_or_the_counterparts() -> None:
    a, b, c = uuid.UUID(int=201), uuid.UUID(int=202), uuid.UUID(int=203)
    others = {a: _stored(0.9, 0.8), b: _stored(0.9, 0.6), c: _stored(0.9, 0.8)}
    ranked_for_x = [_candidate(a, 0.7), _candidate(b, 0.65), _candidate(c, 0.5)]

    def kths(k: int) -> dict[uuid.UUID, shortlist.Entry]:
        return {other: stored[k - 1] for other, stored in others.items() if len(stored) >= k}

    selection = shortlist.select(X, ranked_for_x, kths(1), k=1)
    # With k=1 only a, X's best, is kept: b and c already hold a better match each.
    assert [cand.need_id for cand in selection.kept] == [str(a)]
    assert selection.displaced == []

    selection = shortlist.select(X, ranked_for_x, kths(2), k=2)
    assert [cand.need_id for cand in selection.kept] == [str(a), str(b)]
    # b held two matches; X's pair stands second, so b's old second (0.6) leaves b's two best.
    assert [(holder, entry.score) for holder, entry in selection.displaced] == [(b, 0.6)]


def test_equal_scores_rank_by_the_counterparts_id() -> None:
    kth = _stored(0.5)[0]  # held with listing id ...01
    assert shortlist.enters(0.5, uuid.UUID(int=0), kth)
    assert not shortlist.enters(0.5, uuid.UUID(int=2), kth)
    assert shortlist.enters(0.1, uuid.UUID(int=2), None)  # fewer than k held: any pair enters


@pytest.fixture
def two_per_listing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SYMBIOZA_MATCHES_PER_LISTING", "2")
    config.get_settings.cache_clear()
    yield
    monkeypatch.delenv("SYMBIOZA_MATCHES_PER_LISTING")
    config.get_settings.cache_clear()


def _rebuild_changes(session: Session) -> tuple[int, int, int]:
    session.expire_all()
    report = sync.rebuild(session)
    session.rollback()
    return report.added, report.changed, report.removed


@pytest.mark.usefixtures("two_per_listing")
def test_writes_keep_the_stored_matches_equal_to_a_rebuild(api: Api, client: TestClient, session: Session) -> None:
    """Random creates, quantity changes, pauses and resumptions, offers turned needs and back, and deletes among
    ash offers and cement needs that all fit each other, with K = 2: after every write, a full rebuild finds
    nothing to add, change or remove."""
    rng = random.Random(5)
    firms = [api.key(api.organization(lat=50.0 + i / 20, lon=19.5 + i / 15)["id"]) for i in range(6)]
    listings: list[tuple[dict[str, Any], dict[str, str]]] = []

    def create() -> None:
        owner = rng.choice(firms)
        body = (ASH if rng.random() < 0.5 else CEMENT_NEED) | {"quantity": rng.choice([5000, 20000, 40000, 90000])}
        listings.append((api.listing(owner, **body), owner))

    for _ in range(10):
        create()
    for step in range(30):
        action = rng.choices(["create", "quantity", "pause", "kind", "delete"], weights=[3, 3, 1, 1, 1])[0]
        if action == "create" or not listings:
            create()
        else:
            listing, owner = rng.choice(listings)
            url = f"/api/v1/listings/{listing['id']}"
            headers = api.current(url, owner)
            if action == "delete":
                assert client.delete(url, headers=headers).status_code == 204
                listings.remove((listing, owner))
            else:
                changes: dict[str, dict[str, Any]] = {
                    "quantity": {"quantity": rng.choice([3000, 30000, 60000])},
                    "pause": {"status": "paused" if listing["status"] == "active" else "active"},
                    "kind": {"kind": "need" if listing["kind"] == "offer" else "offer"},
                }
                change = changes[action]
                assert client.patch(url, json=change, headers=headers).status_code == 200
                listing.update(change)
        assert _rebuild_changes(session) == (0, 0, 0), f"after step {step}: {action}"

    # The cap was at work: more pairs fit than were stored.
    active = [listing["kind"] for listing, _ in listings if listing["status"] == "active"]
    offers, needs = active.count("offer"), active.count("need")
    stored = session.scalar(select(func.count()).select_from(Match))
    assert offers >= 3 and needs >= 3 and stored is not None and stored < offers * needs
