"""A party's notifications found by index on what each event stream asks, not by its whole list.

An event stream, at every wake-up, asks for its party's notifications not yet delivered and for
those created since its cursor (sent to the party or relayed through it). The indexes on
``recipient`` and on ``via`` alone made both read every notification the party ever had, and
filter: a cost that grew with the hub's history, paid by every stream at every notification.
They are replaced by ``(recipient, delivered_at_s, created_at_s)``, ``(recipient,
created_at_s)`` and ``(via, created_at_s)``, whose prefixes serve every lookup the single-column
ones did.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_recipient_delivered",
        "notifications",
        ["recipient", "delivered_at_s", "created_at_s"],
    )
    op.create_index(
        "ix_notifications_recipient_created", "notifications", ["recipient", "created_at_s"]
    )
    op.create_index("ix_notifications_via_created", "notifications", ["via", "created_at_s"])
    op.drop_index("ix_notifications_recipient", table_name="notifications")
    op.drop_index("ix_notifications_via", table_name="notifications")


def downgrade() -> None:
    op.create_index("ix_notifications_via", "notifications", ["via"])
    op.create_index("ix_notifications_recipient", "notifications", ["recipient"])
    op.drop_index("ix_notifications_via_created", table_name="notifications")
    op.drop_index("ix_notifications_recipient_created", table_name="notifications")
    op.drop_index("ix_notifications_recipient_delivered", table_name="notifications")
