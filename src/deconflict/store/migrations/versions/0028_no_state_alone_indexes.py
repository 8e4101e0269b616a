"""The notices' and the notifications' indexes on their state alone are dropped: each is the
leading column of another index (a notice's state and start, state and end; a notification's
state and acknowledgement deadline), which serves every read by state as well, and each was
written by every filing, every tick that moves a notice, every notification made, delivered or
acknowledged (docs/benchmarks.md).

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_notices_state", table_name="notices")
    op.drop_index("ix_notifications_state", table_name="notifications")


def downgrade() -> None:
    op.create_index("ix_notifications_state", "notifications", ["state"])
    op.create_index("ix_notices_state", "notices", ["state"])
