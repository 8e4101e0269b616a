"""A party's private entry may be withheld from it by its digest.

A party's digest committed, in a list its party opens, to the leaf hashes of all its private
entries of the period, the store's resolution of a conflict of its plan among them: an entry
the party is not told when its conflict was shown over at its window as told (the store
resolves it at the end of the other party's notice, maybe at a volume the party may not see).
A party that filed something private every period and opened each digest saw that leaf appear,
and dated the hidden end to the period (security.md §3.6). Such an entry is now committed to
apart, in the digest's ``withheld`` commitment, salted with a secret of the hub's: the party
cannot tell it from one to nothing. This column says which entries are.

Revision ID: 0033
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_private") as batch:
        batch.add_column(
            sa.Column("withheld", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_private") as batch:
        batch.drop_column("withheld")
