"""The exchange workflow over HTTP: both interested -> identities revealed -> in contact -> realised."""

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.matches.models import Match
from app.matches.sync import rebuild
from tests.app.matches.scenario import build
from tests.conftest import Api


def _step(client: TestClient, headers: dict[str, str], match_id: str, **body: object) -> dict[str, object]:
    url = f"/api/v1/matches/{match_id}"
    etag = client.get(url, headers=headers).headers["etag"]
    response = client.patch(url, json=body, headers=headers | {"If-Match": etag})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _leaks(text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s in text]


def test_full_workflow_reveals_identities_only_after_both_say_interested(api: Api, client: TestClient) -> None:
    s = build(api, client)
    secrets = ("Ukryta", s.power["id"], "jan@ec.example.pl")

    def buyer_views() -> list[str]:
        return [
            client.get(f"/api/v1/listings/{s.need['id']}/matches", headers=s.buyer).text,
            client.get(f"/api/v1/matches/{s.match_id}", headers=s.buyer).text,
            client.get("/api/v1/matches", headers=s.buyer).text,
            client.get("/api/v1/matches?format=csv", headers=s.buyer).text,
            client.get("/api/v1/matches?format=geojson", headers=s.buyer).text,
            client.get(f"/api/v1/listings/{s.offer['id']}", headers=s.buyer).text,
            client.get("/api/v1/listings", headers=s.buyer).text,
        ]

    assert all(not _leaks(view, *secrets) for view in buyer_views())
    _step(client, s.buyer, s.match_id, state="interested")
    assert all(not _leaks(view, *secrets) for view in buyer_views())  # one side is not enough
    both = _step(client, s.seller, s.match_id, state="interested")
    assert both["status"] == "interested"
    assert both["contacts"]["offer"]["email"] == "jan@ec.example.pl"  # type: ignore[index]
    revealed = client.get(f"/api/v1/matches/{s.match_id}", headers=s.buyer).json()
    assert revealed["offer"]["organization"]["name"] == "Ukryta Elektrociepłownia"
    assert revealed["contacts"]["need"]["email"] == "ewa@cem.example.pl"
    # The listing itself stays anonymous to everyone else.
    stranger = api.key(api.organization()["id"])
    assert not _leaks(client.get(f"/api/v1/listings/{s.offer['id']}", headers=stranger).text, *secrets)

    _step(client, s.buyer, s.match_id, state="in_contact")
    done = _step(client, s.seller, s.match_id, state="in_contact")
    assert done["status"] == "in_contact"
    realised = _step(client, s.buyer, s.match_id, state="realised", quantity=18000, start_date="2026-12-01")
    assert (realised["status"], realised["realised_quantity"], realised["realised_unit"]) == ("realised", 18000, "t")

    events = client.get(f"/api/v1/matches/{s.match_id}/events", headers=s.seller).json()
    steps = [(e["side"], e["from_state"], e["to_state"]) for e in events["items"]]
    assert steps == [
        ("need", "proposed", "interested"),
        ("offer", "proposed", "interested"),
        ("need", "interested", "in_contact"),
        ("offer", "interested", "in_contact"),
        ("need", "in_contact", "realised"),
    ]
    summary = client.get("/api/v1/regions/PL21/summary", headers=s.agency).json()
    assert summary["realised"]["exchanges"] == 1
    assert summary["realised"]["quantity"] == {"t": 18000}
    assert summary["matches_by_status"] == {"realised": 1}


def test_impossible_transitions_are_409(api: Api, client: TestClient) -> None:
    s = build(api, client)
    url = f"/api/v1/matches/{s.match_id}"
    early = client.patch(url, json={"state": "in_contact"}, headers=api.current(url, s.buyer))
    assert early.status_code == 409
    assert early.headers["content-type"] == "application/problem+json"
    assert "interested" in early.json()["detail"]
    _step(client, s.buyer, s.match_id, state="interested")
    buyer = api.current(url, s.buyer)
    assert client.patch(url, json={"state": "in_contact"}, headers=buyer).status_code == 409  # seller silent
    skipped = client.patch(url, json={"state": "realised", "quantity": 1, "start_date": "2026-01-01"}, headers=buyer)
    assert skipped.status_code == 409
    assert client.get(f"{url}/events", headers=s.buyer).json()["total"] == 1


def test_declining_needs_a_reason_from_the_list(api: Api, client: TestClient) -> None:
    s = build(api, client)
    url = f"/api/v1/matches/{s.match_id}"
    missing = client.patch(url, json={"state": "declined"}, headers=api.current(url, s.buyer))
    assert missing.status_code == 422
    wrong = client.patch(url, json={"state": "declined", "reason": "mood"}, headers=api.current(url, s.buyer))
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "reason"
    declined = _step(client, s.buyer, s.match_id, state="declined", reason="distance", note="Za daleko koleją")
    assert declined["status"] == "declined"
    event = client.get(f"{url}/events", headers=s.seller).json()["items"][0]
    assert (event["reason"], event["note"]) == ("distance", "Za daleko koleją")
    incomplete = client.patch(url, json={"state": "realised"}, headers=api.current(url, s.seller))
    assert incomplete.status_code == 422
    body = {"state": "realised", "quantity": True, "start_date": "2026-12-01"}  # JSON true is not the number 1
    boolean = client.patch(url, json=body, headers=api.current(url, s.seller))
    assert boolean.status_code == 422 and boolean.json()["errors"][0]["field"] == "quantity"


def test_only_parties_move_their_side(api: Api, client: TestClient) -> None:
    s = build(api, client)
    url = f"/api/v1/matches/{s.match_id}"
    assert client.patch(url, json={"state": "interested"}, headers=s.agency).status_code == 403
    stranger = api.key(api.organization()["id"])
    assert client.patch(url, json={"state": "interested"}, headers=stranger).status_code == 404
    assert client.get(url, headers=stranger).status_code == 404
    admin = api.current(url, api.admin)
    assert client.patch(url, json={"state": "interested"}, headers=admin).status_code == 422  # which side?
    by_admin = client.patch(url, json={"state": "interested", "side": "need"}, headers=admin)
    assert by_admin.json()["need_state"] == "interested"


def test_a_match_with_history_survives_when_the_engine_drops_it(api: Api, client: TestClient) -> None:
    s = build(api, client)
    _step(client, s.buyer, s.match_id, state="interested")
    need_url = f"/api/v1/listings/{s.need['id']}"
    assert (
        client.patch(need_url, json={"max_distance_km": 1}, headers=api.current(need_url, s.buyer)).status_code == 200
    )
    kept = client.get(f"/api/v1/matches/{s.match_id}", headers=s.buyer)
    assert kept.status_code == 200
    assert kept.json()["need_state"] == "interested"


def test_a_match_acted_on_keeps_its_sentences(api: Api, client: TestClient, session: Session) -> None:
    """A match no party acted on is stored without its reasons, which are written when read. Acting on it stores
    them: the engine writes them again when it rewrites the match, and they stay when it stops proposing it."""
    s = build(api, client)
    url, match_id = f"/api/v1/matches/{s.match_id}", uuid.UUID(s.match_id)
    proposed = client.get(url, headers=s.buyer).json()
    assert [len(c) for c in _stored(session, match_id).components] == [5] * 7
    _step(client, s.buyer, s.match_id, state="interested")
    assert _stored(session, match_id).components == [list(c.values()) for c in proposed["components"]]

    offer_url = f"/api/v1/listings/{s.offer['id']}"
    changed = client.patch(offer_url, json={"quantity": 9000}, headers=api.current(offer_url, s.seller))
    assert changed.status_code == 200
    rewritten = client.get(url, headers=s.buyer).json()
    quantity = next(c for c in rewritten["components"] if c["name"] == "quantity")
    assert quantity["reason"].startswith("9,000 t/year offered")
    assert _stored(session, match_id).components == [list(c.values()) for c in rewritten["components"]]
    report = rebuild(session)
    session.commit()
    assert (report.changed, len(_stored(session, match_id).components[0])) == (0, 6)

    need_url = f"/api/v1/listings/{s.need['id']}"
    far = client.patch(need_url, json={"max_distance_km": 5}, headers=api.current(need_url, s.buyer))
    assert far.status_code == 200  # the engine no longer proposes the pair; the match stays as it was
    kept = client.get(url, headers=s.buyer).json()
    assert (kept["components"], kept["explanation"]) == (rewritten["components"], rewritten["explanation"])


def _stored(session: Session, match_id: uuid.UUID) -> Match:
    session.expire_all()
    match = session.get(Match, match_id)
    assert match is not None
    return match
