"""The listings taking part in matching, held in memory by each server process (a matching.Index).

A write finds its candidates here instead of loading every listing that shares a concept with it from the
database (thousands of rows at 100k listings). Every listing write appends to `listing_changes` under the match
lock; before using the index, a process holding the lock replays the changes it has not seen, so the index is what
the committed database says. A rebuild writes a change without a listing: the index is loaded again.

A process also changes its own index during a write (a counterpart matched again in the same transaction must see
the new listing). Those listings are read again from the database at the next sync, so a transaction that rolls
back leaves no trace here.
"""

import threading
import uuid
from collections.abc import Collection, Iterable

from sqlalchemy.orm import Session

from app.matches import adapter, repository
from app.matches.engine import get_engine
from matching.engine import Index, Scope
from matching.records import Profile


class LiveIndex:
    def __init__(self) -> None:
        self.index: Index | None = None
        self.seen = 0  # the last change replayed
        self.touched: set[uuid.UUID] = set()  # changed here since the last sync: read again from the database
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
            if any(listing is None for _, listing in changes):  # a rebuild
                self._load(session)
            else:
                self._reload(session, {listing for _, listing in changes if listing is not None} | self.touched)
            self.seen, self.touched = max((seq for seq, _ in changes), default=self.seen), set()

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

    def _reload(self, session: Session, listing_ids: set[uuid.UUID]) -> None:
        if not listing_ids or self.index is None:
            return
        ids = sorted(listing_ids)
        rows = repository.eligible_listing_rows(session, ids)
        concepts = repository.stored_concepts(session, [row.id for row in rows])
        for listing_id in ids:
            self.index.remove(str(listing_id))
        self.index.add_profiles(adapter.stored_profile(row, concepts[row.id]) for row in rows)


_live: dict[str, LiveIndex] = {}
_registry_lock = threading.Lock()


def live_index(session: Session) -> LiveIndex:
    """This process's index of the session's database, caught up (call under the match lock)."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    with _registry_lock:
        live = _live.setdefault(url, LiveIndex())
    live.sync(session)
    return live
