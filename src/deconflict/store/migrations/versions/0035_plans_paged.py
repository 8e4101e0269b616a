"""A party's current plans are read a page at a time, by (creation time, id).

``GET /v1/plans`` read every current plan of the party at once, on the reader every party shares
(10,000 plans: 0.4 s, and another party's read waited as long: security.md §4.2). It is paged
now, after a plan of the party's own, and this index makes a page a seek and the rows it holds.

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_plans_party_state", "plans", ["party_id", "state", "created_at_s", "id"])


def downgrade() -> None:
    op.drop_index("ix_plans_party_state", table_name="plans")
