"""Pages of GET /listings/{id}/matches as sent, and the totals of GET /matches, kept by each server process until
a change touches them.

A page shows one listing's matches, its counterparts and their owners. Every write that changes any of these
appends to `listing_changes` under the match lock, naming the listings concerned: a listing written, both sides
of a match stored, moved or deleted, every listing of an organization that changed. Before answering, a process
reads the changes it has not seen and forgets each page that depends on a listing named there: the page's own
listing and every listing it is matched with (shown or not: a counterpart that becomes visible to the caller
changes the page). A change without a listing (a rebuild) forgets every page.

A total of GET /matches (how many matches a filter finds: at 100k listings, counting an agency's region takes
~0.5 s and most of a request) is forgotten on any change, since a match anywhere may enter or leave it; while
nothing changes, an agency paging through its region counts it once per process.

A page or total built while another request caught up further is not kept: the changes in between may concern it.
Changes made to the database by hand, not through the service, are not seen (as for the matching index).
"""

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_engine
from app.matches import repository


class PageCache:
    def __init__(self, max_bytes: int, max_totals: int = 4096) -> None:
        self.max_bytes = max_bytes
        self.max_totals = max_totals
        self._totals: OrderedDict[Hashable, int] = OrderedDict()  # least recent first
        self._counting: dict[Hashable, threading.Lock] = {}  # held while a request counts the total under the key
        self._pages: OrderedDict[Hashable, tuple[bytes, frozenset[uuid.UUID]]] = OrderedDict()  # least recent first
        self._by_listing: dict[uuid.UUID, set[Hashable]] = {}
        self._bytes = 0
        self._seen: int | None = None  # the last change applied; None: nothing read yet
        self._lock = threading.Lock()  # the dictionaries
        self._catching_up = threading.Lock()  # changes are applied one reader at a time, in order

    def page(
        self,
        session: Session,
        key: Hashable,
        build: Callable[[], bytes],
        depends_on: Callable[[], Iterable[uuid.UUID]],
    ) -> bytes:
        """The page under `key`, kept or built now; `depends_on` names the listings a page built now depends on
        (asked only when it is kept)."""
        if self.max_bytes <= 0:
            return build()
        seen = self._catch_up(session)
        kept = self._get(key)
        if kept is not None:
            return kept
        body = build()
        if len(body) > self.max_bytes:
            return body
        listings = frozenset(depends_on())
        with self._lock:
            if self._seen == seen:
                self._put(key, body, listings)
        return body

    def kept(self, session: Session, key: Hashable) -> bytes | None:
        """The page under `key` if it is kept and nothing it shows has changed; never builds one (a caller on the
        event loop asks this first and builds elsewhere)."""
        if self.max_bytes <= 0:
            return None
        self._catch_up(session)
        return self._get(key)

    def total(self, session: Session, key: Hashable, count: Callable[[], int]) -> int:
        """The total under `key`, kept or counted now; kept until any change is logged. Requests asking for the same
        total wait for one of them to count it: after a change every request misses at once, and a region's count
        takes ~2 s of PostgreSQL's CPU at 100k listings."""
        if self.max_bytes <= 0:
            return count()
        seen = self._catch_up(session)
        kept = self._kept_total(key)
        if kept is not None:
            return kept
        with self._lock:
            counting = self._counting.setdefault(key, threading.Lock())
        with counting:
            try:
                kept = self._kept_total(key)
                if kept is not None:
                    return kept
                counted = count()
                self._keep_total(key, counted, seen)
                return counted
            finally:
                with self._lock:
                    if self._counting.get(key) is counting:
                        del self._counting[key]

    def _kept_total(self, key: Hashable) -> int | None:
        with self._lock:
            kept = self._totals.get(key)
            if kept is not None:
                self._totals.move_to_end(key)
            return kept

    def _keep_total(self, key: Hashable, total: int, seen: int) -> None:
        with self._lock:
            if self._seen == seen:  # else a change came in while it was counted
                self._totals[key] = total
                if len(self._totals) > self.max_totals:
                    self._totals.popitem(last=False)

    def __len__(self) -> int:
        return len(self._pages)

    def _catch_up(self, session: Session) -> int:
        last = repository.last_change(session)
        if last == self._seen:  # nothing new: the usual case needs no lock
            return last
        with self._catching_up:
            last = repository.last_change(session)  # again: in order with other requests catching up
            if self._seen is None or last < self._seen:  # first use, or a database that started over
                with self._lock:
                    self._forget_all()
                    self._seen = last
                return last
            if last > self._seen:
                changes = repository.changes_since(session, self._seen)
                with self._lock:
                    self._totals.clear()
                    if any(listing is None for _, listing, _ in changes):
                        self._forget_all()
                    for listing in {listing for _, listing, _ in changes if listing is not None}:
                        self._forget(listing)
                    self._seen = max([last, *(seq for seq, _, _ in changes)])
            return self._seen

    def _get(self, key: Hashable) -> bytes | None:
        with self._lock:
            kept = self._pages.get(key)
            if kept is None:
                return None
            self._pages.move_to_end(key)
            return kept[0]

    def _put(self, key: Hashable, body: bytes, listings: frozenset[uuid.UUID]) -> None:
        self._drop(key)
        self._pages[key] = (body, listings)
        self._bytes += len(body)
        for listing in listings:
            self._by_listing.setdefault(listing, set()).add(key)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._pages)))

    def _forget(self, listing: uuid.UUID) -> None:
        for key in list(self._by_listing.get(listing, ())):
            self._drop(key)

    def _forget_all(self) -> None:
        self._totals.clear()
        self._pages.clear()
        self._by_listing.clear()
        self._bytes = 0

    def _drop(self, key: Hashable) -> None:
        kept = self._pages.pop(key, None)
        if kept is None:
            return
        body, listings = kept
        self._bytes -= len(body)
        for listing in listings:
            keys = self._by_listing[listing]
            keys.discard(key)
            if not keys:
                del self._by_listing[listing]


_caches: dict[Engine, PageCache] = {}
_registry_lock = threading.Lock()


def page_cache() -> PageCache:
    """This process's cache for the configured database."""
    engine = get_engine()
    with _registry_lock:
        if engine not in _caches:
            _caches[engine] = PageCache(get_settings().page_cache_mb * 1024 * 1024)
        return _caches[engine]
