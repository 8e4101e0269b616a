"""Notices found in filing order by index: a page of the list reads what it returns.

``GET /v1/notices`` pages through the notices in filing order (time, then id), from the last
notice of the page before. Without an index on that order every page sorted all the notices
the hub ever held; ``(filed_at_s, id)`` makes a page a range read.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notices_filed", "notices", ["filed_at_s", "id"])


def downgrade() -> None:
    op.drop_index("ix_notices_filed", table_name="notices")
