"""Indexes on the conflicts table by the record on each side.

Amending or cancelling a notice (or plan) looks up the conflicts it is part of, on either side:
``(a_kind, a_record_id)`` or ``(b_kind, b_record_id)``. Without these indexes that lookup read
every conflict; with them it is two index lookups (PostgreSQL and SQLite both use an index per
branch of the OR).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conflicts_a_record", "conflicts", ["a_kind", "a_record_id"])
    op.create_index("ix_conflicts_b_record", "conflicts", ["b_kind", "b_record_id"])


def downgrade() -> None:
    op.drop_index("ix_conflicts_b_record", table_name="conflicts")
    op.drop_index("ix_conflicts_a_record", table_name="conflicts")
