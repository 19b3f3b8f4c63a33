"""Stored match rows read back as the engine wrote them, the sentences written when read."""

import uuid
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.config import SEED_DATA_DIR
from app.db import json_dumps
from app.matches import adapter, repository
from app.matches.engine import get_engine
from app.matches.models import Match
from matching.evaluation import load_case_file
from matching.records import Profile
from tests.app.matches.scenario import build
from tests.conftest import Api


def test_a_comparison_the_listings_no_longer_give_is_said_by_its_level(
    api: Api, client: TestClient, session: Session
) -> None:
    """The engine changed and no rebuild ran: where a stored value is not what the listings give now, the reason
    is not made up from them."""
    s = build(api, client)
    shown = client.get(f"/api/v1/matches/{s.match_id}", headers=s.buyer).json()["components"]
    match = session.get(Match, uuid.UUID(s.match_id))
    assert match is not None
    assert adapter.sentences_of(session, [match])[match.id] == tuple(c["reason"] for c in shown)
    distance = [c["name"] for c in shown].index("distance")
    match.components = [[*c[:1], 0.5, *c[2:]] if i == distance else c for i, c in enumerate(match.components)]
    said = adapter.sentences_of(session, [match])[match.id]
    assert said[distance] == f"Distance: {shown[distance]['level']}."
    assert said[:distance] + said[distance + 1 :] == tuple(c["reason"] for i, c in enumerate(shown) if i != distance)


def test_a_match_without_its_sentences_is_not_read_without_them(api: Api, client: TestClient, session: Session) -> None:
    s = build(api, client)
    match = session.get(Match, uuid.UUID(s.match_id))
    assert match is not None and not adapter.has_sentences(match)
    with pytest.raises(ValueError, match="sentences_of"):
        adapter.explanation(match)


def test_profiles_built_for_one_call_serve_the_next(api: Api, client: TestClient, session: Session) -> None:
    """An export writes sentences chunk by chunk: listings met in an earlier chunk are not read again."""
    s = build(api, client)
    match = session.get(Match, uuid.UUID(s.match_id))
    assert match is not None
    alone = adapter.sentences_of(session, [match])
    profiles: dict[uuid.UUID, Profile] = {}
    assert adapter.sentences_of(session, [match], profiles=profiles) == alone
    assert profiles.keys() == {match.offer_id, match.need_id}
    statements: list[str] = []
    listen = ("before_cursor_execute", lambda *args: statements.append(args[2]))
    event.listen(session.get_bind(), *listen)
    try:
        assert adapter.sentences_of(session, [match], profiles=profiles) == alone
    finally:
        event.remove(session.get_bind(), *listen)
    assert statements == []


def test_encoded_values_are_the_match_values_encoded() -> None:
    """What a rebuild digests and writes (encoded_values) is match_values in ENGINE_FIELDS order, JSON encoded as the
    column stores it: for candidates with and without sentences, with and without an impact route or a distance."""
    engine = get_engine()
    case = load_case_file(SEED_DATA_DIR / "cases" / "documented_exchanges.json")
    profiles = engine.profiles(case.listings)
    offers = [p for p in profiles if p.listing.kind == "offer"]
    needs = [p for p in profiles if p.listing.kind == "need"]
    candidates = [
        candidate
        for sentences in (False, True)
        for offer in offers
        for need in needs
        if (candidate := engine.pair(offer, need, sentences=sentences)) is not None
    ]
    assert any(c.impact.route is None for c in candidates) and any(c.impact.route for c in candidates)
    assert any(c.components[0].reason for c in candidates) and any(not c.components[0].reason for c in candidates)
    for candidate in candidates:
        values = adapter.match_values(candidate, "v1")
        expected = tuple(
            json_dumps(values[f]) if f in repository.JSON_FIELDS else values[f] for f in repository.ENGINE_FIELDS
        )
        assert adapter.encoded_values(candidate, "v1") == expected


def test_encoded_written_is_each_candidates_encoded_values() -> None:
    """A rebuild encodes its plain candidates from the engine's columns (matching.columns.Written): the same values
    as encoded_values of each candidate, in the same order, with and without an impact route or a distance."""
    engine = get_engine()
    case = load_case_file(SEED_DATA_DIR / "cases" / "documented_exchanges.json")
    unplaced = [replace(x, id=f"{x.id}-unplaced", lat=None, lon=None) for x in case.listings if x.kind == "offer"]
    profiles = engine.profiles([*case.listings, *unplaced])
    pairs = [(o, n) for o in profiles if o.listing.kind == "offer" for n in profiles if n.listing.kind == "need"]
    candidates = [candidate for candidate in engine.pairs(pairs) if candidate is not None]
    written = engine.written(pairs)

    assert len(candidates) > 20
    assert any(c.impact.route is None for c in candidates) and any(c.impact.route for c in candidates)
    assert any(c.distance_km is None for c in candidates) and any(c.distance_km for c in candidates)
    assert adapter.encoded_written(written, "v1") == [adapter.encoded_values(c, "v1") for c in candidates]
    assert list(zip(written.offer_ids, written.need_ids, strict=True)) == [(c.offer_id, c.need_id) for c in candidates]
