"""The listings taking part in matching, held in memory by each server process (a matching.Index).

A write finds its candidates here instead of loading every listing that shares a concept with it from the
database (thousands of rows at 100k listings). Every listing write appends to `listing_changes` under the match
lock; before using the index, a process holding the lock replays the changes it has not seen, so the index is what
the committed database says. A rebuild writes a change without a listing: the index is loaded again.

A process also changes its own index during a write (a counterpart matched again in the same transaction must see
the new listing). Those listings are read again from the database at the next sync, so a transaction that rolls
back leaves no trace here.

The index also remembers each listing's floor, the score of its k-th best stored match: a new pair that cannot
beat it does not matter to that listing, and need not be compared (a write within reach of thousands of listings
would otherwise rank thousands of match lists). Floors only narrow the search; what a write stores is decided on
the k-th matches it reads from the database. A write logs every listing whose stored matches it changed; their
floors are forgotten and read again when needed. Within a write, listings whose matches it changed are always read
from the database, never remembered: the transaction may still roll back.
"""

import math
import threading
import uuid
from collections.abc import Collection, Iterable

import numpy as np
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import transaction_info
from app.matches import adapter, repository
from app.matches.engine import get_engine
from app.matches.forked import collector_paused
from matching.engine import Index, Scope
from matching.records import Profile


class LiveIndex:
    def __init__(self) -> None:
        self.index: Index | None = None
        self.seen = 0  # the last change replayed
        self.touched: set[uuid.UUID] = set()  # changed here since the last sync: read again from the database
        self._k = 0  # the k the floors were read for
        self._lock = threading.Lock()

    def sync(self, session: Session) -> None:
        """Catches up with the committed database. Under the match lock (repository.lock_matches) the index is then
        exactly what the database holds; without it (warming up) a change committed meanwhile is replayed later."""
        with self._lock:
            last = repository.last_change(session)
            # First use, a database that started over, or another k (tests change it).
            if self.index is None or last < self.seen or self._k != get_settings().matches_per_listing:
                self._load(session)
                self.seen, self.touched = last, set()
                return
            changes = repository.changes_since(session, self.seen)  # read before the rows they point at
            if any(listing is None for _, listing, _ in changes):  # a rebuild
                self._load(session)
            else:
                for listing in {listing for _, listing, _ in changes if listing is not None}:
                    self.index.set_floor(str(listing), math.nan)
                written = {listing for _, listing, matches_only in changes if listing and not matches_only}
                self._reload(session, written | self.touched)
            self.seen, self.touched = max((seq for seq, _, _ in changes), default=self.seen), set()

    def floors(
        self, session: Session, scope: Scope, kind: str, fresh: Collection[uuid.UUID], leaving_out: uuid.UUID
    ) -> np.ndarray:
        """The floor of every listing in the scope (of one kind): from memory where known, else read (and then
        remembered). Listings in `fresh` are read without their match with `leaving_out`, and not remembered: the
        caller passes those whose matches its transaction changed and those matched with `leaving_out`."""
        with self._lock:
            assert self.index is not None, "sync() first"
            floors = scope.floors.copy()
            from_here = self.index.positions(scope, (str(i) for i in fresh))
        floors[from_here] = math.nan
        unknown = np.flatnonzero(np.isnan(floors))
        ids = [uuid.UUID(i) for i in scope.ids(unknown.tolist())]
        read = repository.kth_entries(session, ids, kind, self._k, leaving_out) if ids else {}
        floors[unknown] = [read[i][0] if i in read else 0.0 for i in ids]
        with self._lock:
            for i, floor in zip(ids, floors[unknown].tolist(), strict=True):
                if i not in fresh:
                    self.index.set_floor(str(i), floor)
        return floors

    def matches_changed(self, session: Session, listing_ids: Iterable[uuid.UUID]) -> None:
        """These listings' stored matches changed in the session's transaction: their floors are forgotten here,
        read fresh for the rest of it, and logged for every process (log_match_changes)."""
        ids = set(listing_ids)
        _pending(session).update(ids)
        with self._lock:
            assert self.index is not None, "sync() first"
            for listing_id in ids:
                self.index.set_floor(str(listing_id), math.nan)

    def put(self, profile: Profile) -> None:
        with self._lock:
            assert self.index is not None, "sync() first"
            self.index.add_profiles([profile])
            self.touched.add(uuid.UUID(profile.listing.id))

    def remove(self, listing_id: uuid.UUID) -> None:
        with self._lock:
            assert self.index is not None, "sync() first"
            self.index.remove(str(listing_id))
            self.touched.add(listing_id)

    def scope(self, profile: Profile) -> Scope:
        with self._lock:
            assert self.index is not None, "sync() first"
            return self.index.scope(profile)

    def profile(self, listing_id: uuid.UUID) -> Profile | None:
        assert self.index is not None, "sync() first"
        return self.index.profiles.get(str(listing_id))

    def _load(self, session: Session) -> None:
        # What is read here is kept: collections while it grows free nothing (at 100k listings a load ran eleven full
        # ones and took ~2.5 s longer).
        with collector_paused():
            rows = repository.eligible_listing_rows(session)
            concepts = repository.stored_concepts(session, None)
            self.index = Index(get_engine()).add_profiles(
                adapter.stored_profile(row, concepts.get(row.id, ())) for row in rows
            )
        self._k = get_settings().matches_per_listing
        for kind in ("offer", "need"):
            found = repository.kth_entries(session, None, kind, self._k)
            for row in rows:
                if row.kind == kind:
                    self.index.set_floor(str(row.id), found[row.id][0] if row.id in found else 0.0)

    def _reload(self, session: Session, listing_ids: set[uuid.UUID]) -> None:
        if not listing_ids or self.index is None:
            return
        ids = sorted(listing_ids)
        rows = repository.eligible_listing_rows(session, ids)
        concepts = repository.stored_concepts(session, [row.id for row in rows])
        for listing_id in ids:
            self.index.remove(str(listing_id))
        self.index.add_profiles(adapter.stored_profile(row, concepts[row.id]) for row in rows)


def _pending(session: Session) -> set[uuid.UUID]:
    """Listings whose stored matches the session's transaction changed and has not yet logged."""
    pending: set[uuid.UUID] = transaction_info(session).setdefault("matches_changed", set())
    return pending


def _logged(session: Session) -> set[uuid.UUID]:
    logged: set[uuid.UUID] = transaction_info(session).setdefault("matches_logged", set())
    return logged


def changed_in_transaction(session: Session) -> set[uuid.UUID]:
    """Every listing whose matches the session's current transaction changed (logged or not)."""
    return _logged(session) | _pending(session)


def log_match_changes(session: Session) -> None:
    """Logs the listings whose matches changed since the last call in this transaction."""
    pending = _pending(session)
    repository.log_match_changes(session, pending)
    _logged(session).update(pending)
    pending.clear()


_live: dict[str, LiveIndex] = {}
_registry_lock = threading.Lock()


def live_index(session: Session) -> LiveIndex:
    """This process's index of the session's database, caught up (call under the match lock)."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    with _registry_lock:
        live = _live.setdefault(url, LiveIndex())
    live.sync(session)
    return live
