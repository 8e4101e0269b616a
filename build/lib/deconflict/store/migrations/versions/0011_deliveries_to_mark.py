"""What the event streams delivered, waiting to be marked delivered by the detector's process.

A stream that sent notifications records (id, when) in ``deliveries`` (a plain insert in the
group commit of its process's filings); the process that holds the detector lease marks them
delivered (state, time, ledger entry) and deletes the rows, in one transaction.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("notification_id", sa.String(200), primary_key=True),
        sa.Column("at_s", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
