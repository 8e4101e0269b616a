"""A party's notices are found by when they end.

A read of the notices active in a window (the map's, ``GET /v1/notices?start=``) stepped over
every notice of the owners the reader sees, ended ones too, and built only those within: its
cost grew with the hub's history (docs/security.md §4.2). An index on (party, end) reads from
the window's start on.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notices_party_end", "notices", ["party_id", "end_s"])


def downgrade() -> None:
    op.drop_index("ix_notices_party_end", table_name="notices")
