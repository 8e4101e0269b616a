"""The conflicts are indexed by each side's party and state.

A party's list of conflicts, and the notices of another party its open conflicts unlock under
"conflicts-only", are found from that party's own conflicts. Without these indexes the second
were found by asking, of every notice of the other party, whether an open conflict unlocked it:
the read grew with the other party's notices the party may not see, and its time told how many
there were (docs/security.md §3.5).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conflicts_a_party", "conflicts", ["a_party", "state"])
    op.create_index("ix_conflicts_b_party", "conflicts", ["b_party", "state"])


def downgrade() -> None:
    op.drop_index("ix_conflicts_b_party", table_name="conflicts")
    op.drop_index("ix_conflicts_a_party", table_name="conflicts")
