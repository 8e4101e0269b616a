"""The ledger's signing key leaves the database: the log's public key is registered instead.

``ledger_public_keys`` holds the verifier key every checkpoint of this log is signed with (its
private half lives in a key file, see :mod:`deconflict.hub.ledger_key`), so a hub process holding
another key refuses to sign. ``ledger_keys`` (private keys, written before this revision) is kept
for the move: the first hub that opens the log writes its key to the key file and erases it here.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_public_keys",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("verifier_key", sa.Text, nullable=False),
        sa.Column("created_at_s", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_public_keys")
