"""A hub that finds its log broken halts every process on the database, not only itself.

``ledger_halt`` holds at most one row: why the hub halted (the operator's paragraph: what is
wrong, what to run) and when. The process that finds the log no longer extends what the hub
signed records it; every process reads it before a write a party asks for, and refuses while it
is there (:meth:`deconflict.hub.ledger.HubLedger.guard`). Before this revision the halt was the
finding process's memory only, so the HTTP workers of ``serve --workers N`` went on accepting
filings appended to a log the detector process had found broken. ``ledger repair``, or a whole
check that holds at ``serve``'s start, lifts it (deletes the row).

Downgrading drops the table, and with it a halt: an older hub finds a broken log again at its
own first check.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_halt",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at_s", sa.Double(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_halt_one_row"),
    )


def downgrade() -> None:
    op.drop_table("ledger_halt")
