"""Drop listing_concepts' index on (concept, kind), which no query uses

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24

Written by hand. The index served blocking read from the database (round 1); since round 2 every process blocks
from its own in-memory index, and listing_concepts is read only by listing (its primary key) or whole. Keeping the
index cost every write of concepts: at 100k listings a rebuild from empty COPYs 812k concept rows in 7.7 s with it
and 5.1 s without (round 12, docs/PERFORMANCE.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("listing_concepts") as batch_op:
        batch_op.drop_index("ix_listing_concepts_concept_kind")


def downgrade() -> None:
    with op.batch_alter_table("listing_concepts") as batch_op:
        batch_op.create_index("ix_listing_concepts_concept_kind", ["concept", "kind"], unique=False)
