"""match workflow: party states, realised quantities, events; impact column for sorting

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("co2e_avoided_t", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("offer_state", sa.String(length=16), nullable=False, server_default="proposed"))
        batch_op.add_column(sa.Column("need_state", sa.String(length=16), nullable=False, server_default="proposed"))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="proposed"))
        batch_op.add_column(sa.Column("realised_quantity", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("realised_unit", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("realised_start", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_matches_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_created_at"), ["created_at"], unique=False)
    # The defaults only filled existing rows; the application sets these columns itself.
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.alter_column("offer_state", server_default=None)
        batch_op.alter_column("need_state", server_default=None)
        batch_op.alter_column("status", server_default=None)

    op.create_table(
        "match_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_events_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_events")),
    )
    with op.batch_alter_table("match_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_events_match_id"), ["match_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_events_match_id"))
    op.drop_table("match_events")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_created_at"))
        batch_op.drop_index(batch_op.f("ix_matches_status"))
        for column in (
            "realised_start", "realised_unit", "realised_quantity", "status", "need_state", "offer_state",
            "co2e_avoided_t",
        ):
            batch_op.drop_column(column)
