"""A party's notices in a state are read in filing order from one index range.

0019's index on (party, state, filing time) served a list by state, but without the id the
list orders by last, the planner read it by 0029's (party, filing time, id) instead and asked
each notice its state: a list by state (and the search set of a party's suggestions, its
live notices) cost every notice of the owners, in any state. With the id, the index gives the
order for one owner and one state; the store reads each such range and merges them.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_notices_party_state", table_name="notices")
    op.create_index("ix_notices_party_state", "notices", ["party_id", "state", "filed_at_s", "id"])


def downgrade() -> None:
    op.drop_index("ix_notices_party_state", table_name="notices")
    op.create_index("ix_notices_party_state", "notices", ["party_id", "state", "filed_at_s"])
