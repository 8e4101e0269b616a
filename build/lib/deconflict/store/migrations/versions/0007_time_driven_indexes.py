"""What the clock moves, found by index: a notice's time span in columns, and indexes for the tick.

Every second the detector lease holder's tick activates the filed notices whose first volume has
started, ends the active ones whose last volume has ended, and escalates the notifications whose
acknowledgement deadline passed. Before this revision the tick read every live notice (its id,
version and state, with the time span of each version kept in memory) and scanned the
notifications for due deadlines: a cost that grew with the live records, every second, on the
hub's one thread. ``notices`` gains ``start_s`` and ``end_s`` (the earliest volume start and the
latest volume end, filled here from the stored volumes), indexed with the state, and
``notifications`` an index on ``(state, ack_deadline_s)``: a tick reads only what is due.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("start_s", sa.Double()))
        batch.add_column(sa.Column("end_s", sa.Double()))
    connection = op.get_bind()
    notices = sa.table(
        "notices",
        sa.column("id", sa.String),
        sa.column("volumes", sa.Text),
        sa.column("start_s", sa.Double()),
        sa.column("end_s", sa.Double()),
    )
    rows = connection.execute(sa.select(notices.c.id, notices.c.volumes)).all()
    spans = []
    for row in rows:
        volumes = json.loads(row.volumes)
        spans.append(
            {
                "nid": row.id,
                "start_s": min(float(v["start_s"]) for v in volumes),
                "end_s": max(float(v["end_s"]) for v in volumes),
            }
        )
    if spans:
        connection.execute(
            notices.update()
            .where(notices.c.id == sa.bindparam("nid"))
            .values(start_s=sa.bindparam("start_s"), end_s=sa.bindparam("end_s")),
            spans,
        )
    op.create_index("ix_notices_state_start", "notices", ["state", "start_s"])
    op.create_index("ix_notices_state_end", "notices", ["state", "end_s"])
    op.create_index("ix_notifications_state_deadline", "notifications", ["state", "ack_deadline_s"])


def downgrade() -> None:
    op.drop_index("ix_notifications_state_deadline", table_name="notifications")
    op.drop_index("ix_notices_state_end", table_name="notices")
    op.drop_index("ix_notices_state_start", table_name="notices")
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("end_s")
        batch.drop_column("start_s")
