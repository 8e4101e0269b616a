"""Initial schema: parties, agreements, notices and plans (with versions), conflicts,
notifications, the change log and the detector's cursor.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.String(200)
Time: sa.Double[float] = sa.Double()


def _side(prefix: str) -> list[sa.Column[object]]:
    return [
        sa.Column(f"{prefix}_kind", sa.String(10), nullable=False),
        sa.Column(f"{prefix}_record_id", Id, nullable=False),
        sa.Column(f"{prefix}_version", sa.Integer, nullable=False),
        sa.Column(f"{prefix}_volume_id", Id, nullable=False),
        sa.Column(f"{prefix}_party", Id, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at_s", Time, nullable=False),
    )
    op.create_table(
        "agreements",
        sa.Column("id", Id, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at_s", Time, nullable=False),
    )
    op.create_table(
        "notices",
        sa.Column("id", Id, primary_key=True),
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("volumes", sa.Text, nullable=False),
        sa.Column("filed_at_s", Time, nullable=False),
        sa.Column("updated_at_s", Time),
    )
    op.create_index("ix_notices_party_id", "notices", ["party_id"])
    op.create_index("ix_notices_state", "notices", ["state"])
    op.create_table(
        "notice_versions",
        sa.Column("notice_id", Id, sa.ForeignKey("notices.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("volumes", sa.Text, nullable=False),
        sa.Column("at_s", Time, nullable=False),
    )
    op.create_table(
        "plans",
        sa.Column("id", Id, primary_key=True),
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("volumes", sa.Text, nullable=False),
        sa.Column("created_at_s", Time, nullable=False),
        sa.Column("updated_at_s", Time),
    )
    op.create_index("ix_plans_party_id", "plans", ["party_id"])
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", Id, sa.ForeignKey("plans.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("volumes", sa.Text, nullable=False),
        sa.Column("at_s", Time, nullable=False),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", Id, primary_key=True),
        *_side("a"),
        *_side("b"),
        sa.Column("start_s", Time, nullable=False),
        sa.Column("end_s", Time, nullable=False),
        sa.Column("time_gap_s", Time, nullable=False),
        sa.Column("vertical_gap_m", sa.Double, nullable=False),
        sa.Column("horizontal_m", sa.Double, nullable=False),
        sa.Column("detected_at_s", Time, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("resolved_at_s", Time),
    )
    op.create_index("ix_conflicts_state", "conflicts", ["state"])
    op.create_table(
        "notifications",
        sa.Column("id", Id, primary_key=True),
        sa.Column("recipient", Id, nullable=False),
        sa.Column("via", Id),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("notice_id", Id),
        sa.Column("conflict_id", Id),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at_s", Time, nullable=False),
        sa.Column("ack_deadline_s", Time, nullable=False),
        sa.Column("lead_time_s", Time, nullable=False),
        sa.Column("delivered_at_s", Time),
        sa.Column("acknowledged_at_s", Time),
        sa.Column("escalated_at_s", Time),
    )
    op.create_index("ix_notifications_recipient", "notifications", ["recipient"])
    op.create_index("ix_notifications_via", "notifications", ["via"])
    op.create_index("ix_notifications_state", "notifications", ["state"])
    op.create_table(
        "changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            primary_key=True,
        ),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("entity_id", Id, nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("state", sa.String(20)),
        sa.Column("at_s", Time, nullable=False),
    )
    op.create_index("ix_changes_entity", "changes", ["entity", "entity_id", "seq"])
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "cursors",
        "changes",
        "notifications",
        "conflicts",
        "plan_versions",
        "plans",
        "notice_versions",
        "notices",
        "agreements",
        "parties",
    ):
        op.drop_table(table)
