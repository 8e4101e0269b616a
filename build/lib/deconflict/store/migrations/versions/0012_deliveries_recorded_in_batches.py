"""A notification links the ledger entry that records its delivery, one entry for a batch.

Marking delivered what the event streams sent wrote a ``notification.delivered`` entry per
notification: 5 of a contended filing's 13 entries, each read, built, hashed and inserted under
the write lock. A batch now writes one ``notifications.delivered`` entry per recipient and relay,
listing every notification it delivered (as each one's own entry named it), and each
notification keeps that entry's index in ``delivery_ledger_idx``, as a notice version keeps its
filing's (migration 0009): found from the notification, with no key in the subject index. Entries
written before stay as they are and are still found by their subject.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("delivery_ledger_idx", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("delivery_ledger_idx")
