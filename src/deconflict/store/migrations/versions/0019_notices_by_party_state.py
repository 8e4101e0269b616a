"""The notices are indexed by party and state.

A list of notices in some states, of the owners a viewer sees whole, was read through the index
on state alone: it read every notice in those states, every other party's too, and took longer
the more notices the viewer could not see (docs/security.md §3.5).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notices_party_state", "notices", ["party_id", "state", "filed_at_s"])


def downgrade() -> None:
    op.drop_index("ix_notices_party_state", table_name="notices")
