import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow


class ListingConcept(Base):
    """One concept a listing points at (see matching/enrich.py): the stored profiles each process builds its in-memory
    blocking index from, read by listing or whole (no query looks a concept up: migration 0011)."""

    __tablename__ = "listing_concepts"

    listing_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    concept: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    weight: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))


class Match(Base):
    """A ranked candidate exchange between one offer and one need, as the engine last computed it."""

    __tablename__ = "matches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    offer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("listings.id", ondelete="CASCADE"))
    need_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("listings.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float, index=True)
    rule: Mapped[str] = mapped_column(String(32))
    components: Mapped[list[list[Any]]] = mapped_column(JSON)  # lists in Comparison order (adapter.comparisons)
    distance_km: Mapped[float | None] = mapped_column(Float)
    impact: Mapped[dict[str, Any]] = mapped_column(JSON)
    engine_version: Mapped[str] = mapped_column(String(32))
    # Kept beside `impact` so that lists can sort and sum by it.
    co2e_avoided_t: Mapped[float | None] = mapped_column(Float)
    # repository.digest of the engine fields above as last written, by every path that writes them; a rebuild
    # compares it instead of reading the fields back. None (rows from before migration 0008, or whose engine fields
    # an UPDATE changed without writing a digest: a trigger of 0008 clears it) is compared in full.
    engine_digest: Mapped[int | None] = mapped_column(BigInteger)
    # Each party moves its own side: proposed -> interested -> in_contact -> realised, or declined.
    offer_state: Mapped[str] = mapped_column(String(16), default="proposed")
    need_state: Mapped[str] = mapped_column(String(16), default="proposed")
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    realised_quantity: Mapped[float | None] = mapped_column(Float)
    realised_unit: Mapped[str | None] = mapped_column(String(8))
    realised_start: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # The ETag: raised by each workflow step and whenever the engine rewrites the score or its values (and the
    # reasons a match stores once a party acted on it; before that they are written when read, without a version).
    version: Mapped[int] = mapped_column(default=1)

    # Every UPDATE names the version it read, so two concurrent writers cannot silently overwrite each other.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
    __table_args__ = (UniqueConstraint("offer_id", "need_id"),)


# Each side's matches in rank order, with what a write reads of them: the k-th best of thousands of listings is
# read from these indexes alone (repository.kth_entries), never from the wide match rows.
RANK_COVERS = ["id", "status", "offer_state", "need_state"]
Index("ix_matches_offer_rank", Match.offer_id, Match.score.desc(), Match.need_id, postgresql_include=RANK_COVERS)
Index("ix_matches_need_rank", Match.need_id, Match.score.desc(), Match.offer_id, postgresql_include=RANK_COVERS)


class MatchEvent(Base):
    """One step of a match's workflow, by one party: the history behind GET /matches/{id}/events."""

    __tablename__ = "match_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    match_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    side: Mapped[str] = mapped_column(String(8))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[float | None] = mapped_column(Float)
    start_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ListingChange(Base):
    """One listing write, or a change to a listing's stored matches (`matches_only`), in the order of the match lock:
    what each server process replays to keep its in-memory index equal to the database (app/matches/live.py). A
    row without a listing says "everything changed" (a rebuild). No foreign key: a deleted listing's change stays."""

    __tablename__ = "listing_changes"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    listing_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    matches_only: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
