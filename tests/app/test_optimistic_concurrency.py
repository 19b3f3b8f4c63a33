"""Listings and matches carry an ETag (their version); changing one needs If-Match: missing 428, stale 412, so
that two clients cannot silently overwrite each other."""

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.app.matches.scenario import build
from tests.conftest import Api

PROBLEM = "application/problem+json"


def test_listing_writes_need_if_match(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    listing = api.listing(member)
    url = f"/api/v1/listings/{listing['id']}"
    for response in (
        client.patch(url, json={"title": "No precondition"}, headers=member),
        client.delete(url, headers=member),
    ):
        assert response.status_code == 428, response.text
        assert response.headers["content-type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == ["If-Match"]
    malformed = client.patch(url, json={"title": "Bad tag"}, headers=member | {"If-Match": "version one"})
    assert malformed.status_code == 422
    assert [e["field"] for e in malformed.json()["errors"]] == ["If-Match"]
    stale = client.delete(url, headers=member | {"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    read = client.get(url, headers=member)
    assert (read.headers["etag"], read.json()["title"], read.json()["version"]) == ('"1"', listing["title"], 1)
    assert client.delete(url, headers=member | {"If-Match": read.headers["etag"]}).status_code == 204


def test_two_clients_cannot_overwrite_each_other(api: Api, client: TestClient) -> None:
    org = api.organization()
    alice, bob = api.key(org["id"]), api.key(org["id"])  # two integrations of one firm
    listing = api.listing(alice, quantity=1000)
    url = f"/api/v1/listings/{listing['id']}"
    alice_read, bob_read = client.get(url, headers=alice), client.get(url, headers=bob)
    assert alice_read.headers["etag"] == bob_read.headers["etag"] == '"1"'

    by_alice = client.patch(url, json={"quantity": 2000}, headers=alice | {"If-Match": alice_read.headers["etag"]})
    assert (by_alice.status_code, by_alice.headers["etag"]) == (200, '"2"')
    by_bob = client.patch(url, json={"title": "Bob's title"}, headers=bob | {"If-Match": bob_read.headers["etag"]})
    assert by_bob.status_code == 412  # Bob's copy is stale: he would have written over Alice's quantity
    assert "version 2" in by_bob.json()["detail"]

    again = client.get(url, headers=bob)
    assert again.json()["quantity"] == 2000
    retried = client.patch(url, json={"title": "Bob's title"}, headers=bob | {"If-Match": again.headers["etag"]})
    assert (retried.status_code, retried.headers["etag"]) == (200, '"3"')
    assert (retried.json()["quantity"], retried.json()["title"]) == (2000, "Bob's title")


def test_concurrent_writers_with_the_same_etag_one_wins(api: Api, client: TestClient) -> None:
    member = api.key(api.organization()["id"])
    listing = api.listing(member)
    url = f"/api/v1/listings/{listing['id']}"

    def write(n: int) -> int:
        body = {"title": f"Writer {n}", "quantity": 100 + n}
        response = client.patch(url, json=body, headers=member | {"If-Match": '"1"'})
        return int(response.status_code)

    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(write, range(5)))
    assert sorted(statuses) == [200, 412, 412, 412, 412], statuses
    final = client.get(url, headers=member).json()
    winner = statuses.index(200)
    assert (final["version"], final["title"], final["quantity"]) == (2, f"Writer {winner}", 100 + winner)


def test_match_steps_need_if_match_and_raise_the_version(api: Api, client: TestClient) -> None:
    s = build(api, client)
    url = f"/api/v1/matches/{s.match_id}"
    read = client.get(url, headers=s.buyer)
    assert (read.headers["etag"], read.json()["version"]) == ('"1"', 1)

    missing = client.patch(url, json={"state": "interested"}, headers=s.buyer)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == PROBLEM
    assert [e["field"] for e in missing.json()["errors"]] == ["If-Match"]

    step = client.patch(url, json={"state": "interested"}, headers=s.buyer | {"If-Match": '"1"'})
    assert (step.status_code, step.headers["etag"], step.json()["version"]) == (200, '"2"', 2)
    # The seller read the match before the buyer's step: its ETag is stale now.
    stale = client.patch(url, json={"state": "interested"}, headers=s.seller | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.get(url, headers=s.seller).json()["offer_state"] == "proposed"
    assert client.patch(url, json={"state": "interested"}, headers=s.seller | {"If-Match": '"2"'}).status_code == 200


def test_the_engine_rewriting_a_match_changes_its_etag(api: Api, client: TestClient) -> None:
    s = build(api, client)
    url = f"/api/v1/matches/{s.match_id}"
    before = client.get(url, headers=s.buyer)
    need_url = f"/api/v1/listings/{s.need['id']}"
    changed = client.patch(need_url, json={"quantity": 5000}, headers=api.current(need_url, s.buyer))
    assert changed.status_code == 200
    after = client.get(url, headers=s.buyer)
    assert after.json()["impact"] != before.json()["impact"]
    assert after.headers["etag"] == '"2"'
    stale = client.patch(url, json={"state": "interested"}, headers=s.buyer | {"If-Match": before.headers["etag"]})
    assert stale.status_code == 412
    title_only = client.patch(
        need_url, json={"description": changed.json()["description"]}, headers=api.current(need_url, s.buyer)
    )
    assert title_only.status_code == 200
    assert client.get(url, headers=s.buyer).headers["etag"] == '"2"'  # nothing the match shows changed


def test_strangers_learn_nothing_from_preconditions(api: Api, client: TestClient) -> None:
    s = build(api, client)
    stranger = api.key(api.organization()["id"])
    match_url, offer_url = f"/api/v1/matches/{s.match_id}", f"/api/v1/listings/{s.offer['id']}"
    # Who may not write is told so first, with or without an ETag: a 428 or 412 would say the object exists.
    assert client.patch(match_url, json={"state": "interested"}, headers=stranger).status_code == 404
    assert client.patch(offer_url, json={"title": "Mine now"}, headers=stranger).status_code == 403
    assert client.delete(offer_url, headers=stranger | {"If-Match": '"9"'}).status_code == 403
