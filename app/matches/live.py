"""The listings taking part in matching, held in memory by each server process (a matching.Index).

A write finds its candidates here instead of loading every listing that shares a concept with it from the
database (thousands of rows at 100k listings). Every listing write appends to `listing_changes` under the match
lock; before using the index, a process holding the lock replays the changes it has not seen, so the index is what
the committed database says. A rebuild writes a change without a listing: the index is loaded again.

A process also changes its own index during a write (a counterpart matched again in the same transaction must see
the new listing). Those listings are read again from the database at the next sync, so a transaction that rolls
back leaves no trace here.

The index also remembers each listing's k-th best stored match, which decides whether a new pair enters that
listing's best (a write within reach of thousands of listings would otherwise rank thousands of match lists in
SQL). A write logs every listing whose stored matches it changed; those are forgotten here and read again when
needed. Within a write, listings whose matches it changed are always read from the database, never remembered: the
transaction may still roll back.
"""

import threading
import uuid
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.config import get_settings
from app.matches import adapter, repository
from app.matches.engine import get_engine
from app.matches.shortlist import Entry
from matching.engine import Index, Scope
from matching.records import Profile


class LiveIndex:
    def __init__(self) -> None:
        self.index: Index | None = None
        self.seen = 0  # the last change replayed
        self.touched: set[uuid.UUID] = set()  # changed here since the last sync: read again from the database
        self._kth: dict[uuid.UUID, Entry | None] = {}  # None: fewer than k stored matches
        self._k = 0
        self._lock = threading.Lock()

    def sync(self, session: Session) -> None:
        """Catches up with the committed database. Under the match lock (repository.lock_matches) the index is then
        exactly what the database holds; without it (warming up) a change committed meanwhile is replayed later."""
        with self._lock:
            last = repository.last_change(session)
            if self.index is None or last < self.seen:  # first use, or a database that started over
                self._load(session)
                self.seen, self.touched = last, set()
                return
            changes = repository.changes_since(session, self.seen)  # read before the rows they point at
            if any(listing is None for _, listing, _ in changes):  # a rebuild
                self._load(session)
            else:
                for listing in {listing for _, listing, _ in changes if listing is not None}:
                    self._kth.pop(listing, None)
                written = {listing for _, listing, matches_only in changes if listing and not matches_only}
                self._reload(session, written | self.touched)
            self.seen, self.touched = max((seq for seq, _, _ in changes), default=self.seen), set()

    def kth(
        self,
        session: Session,
        listing_ids: Sequence[uuid.UUID],
        kind: str,
        *,
        fresh: Collection[uuid.UUID] = frozenset(),
        leaving_out: uuid.UUID | None = None,
    ) -> dict[uuid.UUID, Entry]:
        """The k-th best stored match of each of these listings (of one kind) that has k of them. Listings in
        `fresh` are read from the database without their match with `leaving_out`, and not remembered: the caller
        passes those whose matches its transaction changed and those matched with `leaving_out`."""
        k = get_settings().matches_per_listing
        with self._lock:
            if k != self._k:
                self._kth, self._k = {}, k
            missing = [i for i in listing_ids if i not in fresh and i not in self._kth]
        read = repository.kth_entries(session, missing, kind, k) if missing else {}
        with self._lock:
            self._kth.update({i: Entry(*read[i]) if i in read else None for i in missing})
            known = {i: self._kth.get(i) for i in listing_ids if i not in fresh}
        found = {i: entry for i, entry in known.items() if entry is not None}
        fresh_ids = [i for i in listing_ids if i in fresh]
        if fresh_ids:
            rows = repository.kth_entries(session, fresh_ids, kind, k, leaving_out)
            found.update({i: Entry(*row) for i, row in rows.items()})
        return found

    def matches_changed(self, session: Session, listing_ids: Iterable[uuid.UUID]) -> None:
        """These listings' stored matches changed in the session's transaction: forgotten here, read fresh for the
        rest of it, and logged for every process (log_match_changes)."""
        ids = set(listing_ids)
        _pending(session).update(ids)
        with self._lock:
            for listing_id in ids:
                self._kth.pop(listing_id, None)

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

    def scope(self, profile: Profile, leave_out: Collection[str] = ()) -> Scope:
        with self._lock:
            assert self.index is not None, "sync() first"
            return self.index.scope(profile, leave_out)

    def profile(self, listing_id: uuid.UUID) -> Profile | None:
        assert self.index is not None, "sync() first"
        return self.index.profiles.get(str(listing_id))

    def forget_missing(self, listing_ids: Iterable[uuid.UUID]) -> None:
        """Listings the index holds that the database says no longer take part (changed behind the service's
        back, e.g. deleted by hand): taken out, and read again at the next sync."""
        for listing_id in listing_ids:
            self.remove(listing_id)

    def _load(self, session: Session) -> None:
        rows = repository.eligible_listing_rows(session)
        concepts = repository.every_stored_concept(session)
        self.index = Index(get_engine()).add_profiles(
            adapter.stored_profile(row, concepts.get(row.id, ())) for row in rows
        )
        self._k = get_settings().matches_per_listing
        found = {**repository.kth_entries(session, None, "offer", self._k)}
        found.update(repository.kth_entries(session, None, "need", self._k))
        self._kth = {row.id: Entry(*found[row.id]) if row.id in found else None for row in rows}

    def _reload(self, session: Session, listing_ids: set[uuid.UUID]) -> None:
        if not listing_ids or self.index is None:
            return
        ids = sorted(listing_ids)
        rows = repository.eligible_listing_rows(session, ids)
        concepts = repository.stored_concepts(session, [row.id for row in rows])
        for listing_id in ids:
            self.index.remove(str(listing_id))
        self.index.add_profiles(adapter.stored_profile(row, concepts[row.id]) for row in rows)


_PENDING = "symbioza.matches_changed"


def _pending(session: Session) -> set[uuid.UUID]:
    """Listings whose stored matches the session's transaction changed and has not yet logged."""
    pending: set[uuid.UUID] = session.info.setdefault(_PENDING, set())
    return pending


def changed_in_transaction(session: Session) -> set[uuid.UUID]:
    """Every listing whose matches the session's current transaction changed (logged or not)."""
    done: set[uuid.UUID] = session.info.get(_LOGGED, set())
    return done | _pending(session)


def log_match_changes(session: Session) -> None:
    """Logs the listings whose matches changed since the last call in this transaction."""
    pending = _pending(session)
    repository.log_match_changes(session, pending)
    session.info.setdefault(_LOGGED, set()).update(pending)
    pending.clear()


_LOGGED = "symbioza.matches_logged"


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_LOGGED, None)


_live: dict[str, LiveIndex] = {}
_registry_lock = threading.Lock()


def live_index(session: Session) -> LiveIndex:
    """This process's index of the session's database, caught up (call under the match lock)."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    with _registry_lock:
        live = _live.setdefault(url, LiveIndex())
    live.sync(session)
    return live
