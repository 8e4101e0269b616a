"""Two indexes no read needs are dropped: each filing and detection wrote them.

``ix_conflicts_state`` (the state alone: every read of conflicts names a record or a party,
whose indexes now hold the state where a read ranges on it) and ``ix_notices_party_id`` (the
party alone: the indexes on (party, state, filing time) and (party, end), migrations 0019 and
0025, lead with it). Each was written by every filing or detection, and 0023 to 0026 added
others (docs/benchmarks.md).

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_conflicts_state", table_name="conflicts")
    op.drop_index("ix_notices_party_id", table_name="notices")


def downgrade() -> None:
    op.create_index("ix_notices_party_id", "notices", ["party_id"])
    op.create_index("ix_conflicts_state", "conflicts", ["state"])
