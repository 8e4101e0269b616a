"""A party's notifications are found by what they are about: a conflict, or a notice.

The map marks each conflict and notice it draws with the state of the caller's latest
notification about it, and read every notification the caller ever had to find them: another
party grew that, 2,000 notifications a filing of 1,000 volumes onto the caller's and its
cancellation, and made every map the caller drew cost more for good, on the reader all
parties share (a twentieth reader, docs/security.md §4.2). An index on (recipient, conflict,
notice, creation time, id) finds what is about each thing drawn: a conflict's few notifications,
a notice's latest in one seek.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_recipient_about",
        "notifications",
        ["recipient", "conflict_id", "notice_id", "created_at_s", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_recipient_about", table_name="notifications")
