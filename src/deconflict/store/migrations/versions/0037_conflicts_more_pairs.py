"""A conflict says whether its two records met in more pairs of volumes than they list.

A pair of records lists at most ``hub.pairs.PAIRS_LISTED`` conflicts (two records of 1,000
volumes met in one place made a million: security.md §4.2); the conflicts found when a pair
had no more room say so. Every conflict stored before was found with no such limit: false.

Revision ID: 0037
Revises: 0036
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "conflicts",
        sa.Column("more_pairs", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("more_pairs")
