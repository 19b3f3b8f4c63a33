"""Pages of GET /listings/{id}/matches are kept per process and forgotten when anything they show changes."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.matches import repository, sync
from app.matches.models import Match
from app.matches.page_cache import PageCache
from app.organizations.models import Organization
from tests.app.matches import scenario
from tests.conftest import Api


def _page(client: TestClient, listing: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/api/v1/listings/{listing['id']}/matches", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_page_is_kept_until_its_counterpart_changes(api: Api, client: TestClient, session: Session) -> None:
    s = scenario.build(api, client)
    first = _page(client, s.need, s.buyer)
    # Behind the service's back: the kept page does not see it (which shows the page is kept)...
    session.execute(update(Match).where(Match.id == uuid.UUID(s.match_id)).values(rule="same_stream"))
    session.commit()
    assert _page(client, s.need, s.buyer) == first
    # ...until a write through the service touches a listing the page depends on.
    url = f"/api/v1/listings/{s.offer['id']}"
    renamed = client.patch(url, json={"title": "Fly ash, silo 2"}, headers=api.current(url, s.seller))
    assert renamed.status_code == 200, renamed.text
    [item] = _page(client, s.need, s.buyer)["items"]
    assert item["listing"]["title"] == "Fly ash, silo 2"


def test_a_workflow_step_shows_on_both_sides_pages(api: Api, client: TestClient) -> None:
    s = scenario.build(api, client)
    _page(client, s.need, s.buyer), _page(client, s.offer, s.seller)
    url = f"/api/v1/matches/{s.match_id}"
    moved = client.patch(url, json={"state": "interested"}, headers=api.current(url, s.buyer))
    assert moved.status_code == 200, moved.text
    for listing, headers in ((s.need, s.buyer), (s.offer, s.seller)):
        [item] = _page(client, listing, headers)["items"]
        assert item["need_state"] == "interested"


def test_an_owner_renamed_shows_on_the_pages_of_its_counterparts(api: Api, client: TestClient) -> None:
    s = scenario.build(api, client)
    [before] = _page(client, s.need, api.admin)["items"]
    assert before["listing"]["organization"]["name"] == "Ukryta Elektrociepłownia"
    url = f"/api/v1/organizations/{s.power['id']}"
    assert client.patch(url, json={"name": "EC Nowa"}, headers=api.admin).status_code == 200
    [after] = _page(client, s.need, api.admin)["items"]
    assert after["listing"]["organization"]["name"] == "EC Nowa"


def test_a_counterpart_moving_into_an_agencys_region_enters_its_page(api: Api, client: TestClient) -> None:
    s = scenario.build(api, client)
    # An agency for the cement works' subregion alone: the power plant (PL213) lies outside it.
    agency = api.key(api.organization(kind="agency", region="PL214")["id"], role="agency")
    assert _page(client, s.need, agency)["total"] == 0
    url = f"/api/v1/organizations/{s.power['id']}"
    assert client.patch(url, json={"region": "PL214"}, headers=api.admin).status_code == 200
    assert _page(client, s.need, agency)["total"] == 1  # the plant was on no page: it is matched with the need


def _region(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/matches?region=PL21", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_region_total_is_kept_until_anything_changes(api: Api, client: TestClient, session: Session) -> None:
    s = scenario.build(api, client)
    assert _region(client, s.agency)["total"] == 1
    # Behind the service's back both firms leave the region: the page is built again and finds nothing, but the
    # total is kept...
    firms = [uuid.UUID(s.power["id"]), uuid.UUID(s.cement["id"])]
    session.execute(update(Organization).where(Organization.id.in_(firms)).values(region="PL911"))
    session.commit()
    kept = _region(client, s.agency)
    assert (kept["total"], kept["items"]) == (1, [])
    # ...until a write through the service, even one far from the region: any change may move a total.
    far = api.organization(region="PL911")
    api.listing(api.key(far["id"]), title="Sawdust", ewc="03 01 05")
    assert _region(client, s.agency)["total"] == 0


def test_each_scope_and_filter_has_its_own_total(api: Api, client: TestClient) -> None:
    s = scenario.build(api, client)
    assert _region(client, s.agency)["total"] == 1
    assert _region(client, s.other_agency)["total"] == 0  # the other agency sees no side of it in PL21
    response = client.get("/api/v1/matches?region=PL21&min_score=0.99", headers=s.agency)
    assert response.json()["total"] == 0


class _Page:
    """A page's body and the listings it depends on; counts how often it is built."""

    def __init__(self, body: bytes, *listings: uuid.UUID) -> None:
        self.body, self.listings, self.builds = body, listings, 0

    def read(self, cache: PageCache, session: Session, key: str) -> bytes:
        return cache.page(session, key, self.build, lambda: self.listings)

    def build(self) -> bytes:
        self.builds += 1
        return self.body


def _log(session: Session, *listings: uuid.UUID) -> None:
    repository.log_match_changes(session, listings)
    session.commit()


def test_only_pages_of_a_changed_listing_are_forgotten(session: Session) -> None:
    cache = PageCache(max_bytes=1 << 20)
    a, b = uuid.uuid4(), uuid.uuid4()
    page_a, page_b = _Page(b"page a", a), _Page(b"page b", b)
    for _ in range(2):
        assert page_a.read(cache, session, "a") == b"page a"
        assert page_b.read(cache, session, "b") == b"page b"
    assert (page_a.builds, page_b.builds) == (1, 1)
    _log(session, b)
    page_a.read(cache, session, "a"), page_b.read(cache, session, "b")
    assert (page_a.builds, page_b.builds) == (1, 2)


def test_a_page_built_while_another_request_caught_up_is_not_kept(session: Session) -> None:
    cache = PageCache(max_bytes=1 << 20)
    listing = uuid.uuid4()
    builds: list[int] = []

    def slow_build() -> bytes:
        # While this page is being built from what the database held, the listing changes and another request
        # catches up: the page may be out of date already.
        builds.append(1)
        _log(session, listing)
        _Page(b"other").read(cache, session, "other")
        return b"stale"

    for _ in range(2):
        cache.page(session, "page", slow_build, lambda: {listing})
    assert len(builds) == 2


def test_a_rebuild_forgets_every_page(session: Session) -> None:
    cache = PageCache(max_bytes=1 << 20)
    page = _Page(b"page", uuid.uuid4())
    page.read(cache, session, "page")
    sync.rebuild(session)
    session.commit()
    page.read(cache, session, "page")
    assert page.builds == 2


def test_the_least_recently_read_pages_go_first_when_full(session: Session) -> None:
    cache = PageCache(max_bytes=10)
    pages = {key: _Page(b"6bytes") for key in "xy"}
    for key in "xyyx":  # y pushes x out (12 bytes), x comes back and pushes y out
        pages[key].read(cache, session, key)
    assert ([pages[key].builds for key in "xy"], len(cache)) == ([2, 1], 1)


def test_without_a_cache_nothing_is_kept_nor_its_listings_read(session: Session) -> None:
    cache = PageCache(max_bytes=0)
    asked: list[int] = []

    def depends_on() -> list[uuid.UUID]:
        asked.append(1)
        return []

    page = _Page(b"page")
    for _ in range(2):
        assert cache.page(session, "page", page.build, depends_on) == b"page"
    assert (page.builds, len(cache), asked) == (2, 0, [])


class _Count:
    """A total that counts how often it is counted."""

    def __init__(self, total: int) -> None:
        self.value, self.counts = total, 0

    def read(self, cache: PageCache, session: Session, key: str) -> int:
        return cache.total(session, key, self.count)

    def count(self) -> int:
        self.counts += 1
        return self.value


def test_totals_are_forgotten_on_any_change(session: Session) -> None:
    cache = PageCache(max_bytes=1 << 20)
    total = _Count(7)
    for _ in range(2):
        assert total.read(cache, session, "region") == 7
    assert total.counts == 1
    _log(session, uuid.uuid4())  # a listing no total names
    assert total.read(cache, session, "region") == 7
    assert total.counts == 2


def test_a_total_counted_while_another_request_caught_up_is_not_kept(session: Session) -> None:
    cache = PageCache(max_bytes=1 << 20)
    counts: list[int] = []

    def slow_count() -> int:
        counts.append(1)
        _log(session, uuid.uuid4())
        _Count(0).read(cache, session, "other")
        return 1

    for _ in range(2):
        cache.total(session, "region", slow_count)
    assert len(counts) == 2


def test_requests_asking_for_one_total_at_once_count_it_once(session: Session) -> None:
    cache = PageCache(max_bytes=1 << 20)
    counts: list[int] = []

    def slow_count() -> int:
        counts.append(1)
        time.sleep(0.3)  # the other request asks meanwhile
        return 5

    def ask() -> int:
        with Session(session.get_bind()) as own:
            return cache.total(own, "region", slow_count)

    with ThreadPoolExecutor(2) as pool:
        totals = list(pool.map(lambda _: ask(), range(2)))
    assert (totals, len(counts)) == ([5, 5], 1)


def test_the_least_recently_read_totals_go_first(session: Session) -> None:
    cache = PageCache(max_bytes=1 << 20, max_totals=1)
    totals = {key: _Count(1) for key in "xy"}
    for key in "xyyx":
        totals[key].read(cache, session, key)
    assert [totals[key].counts for key in "xy"] == [2, 1]


def test_without_a_cache_every_total_is_counted(session: Session) -> None:
    cache = PageCache(max_bytes=0)
    total = _Count(3)
    for _ in range(2):
        assert total.read(cache, session, "region") == 3
    assert total.counts == 2
