"""The ledger: entries (with the private openings of their commitments), perfect-subtree hashes,
signed checkpoints, the hub's signing key.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.String(200)
Time: sa.Double[float] = sa.Double()
Big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("subject", Id, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("at_s", Time, nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("commitment", sa.String(64)),
        sa.Column("salt", sa.LargeBinary(32)),
        sa.Column("content", sa.Text),
    )
    op.create_index("ix_ledger_entries_subject", "ledger_entries", ["subject", "idx"])
    op.create_table(
        "ledger_nodes",
        sa.Column("node", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", Big, sa.Identity(), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at_s", Time, nullable=False),
    )
    op.create_index("ix_ledger_checkpoints_size", "ledger_checkpoints", ["size"])
    op.create_table(
        "ledger_keys",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("private_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at_s", Time, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "ledger_keys",
        "ledger_checkpoints",
        "ledger_nodes",
        "ledger_entries",
    ):
        op.drop_table(table)
