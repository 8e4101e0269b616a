"""The agreements carry a version, read before them.

Every read reads the agreements (what the reader may see depends on them), and read whole, its
cost grew with every agreement on the hub, those the reader has no part in too (a ninth
reader: docs/security.md §3.5). The store now counts the agreements' additions in ``versions``
(name ``agreements``) and reads them again only when the count moved since it last did.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table(
        "versions",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM agreements")).scalar_one()
    op.bulk_insert(versions, [{"name": "agreements", "version": count}])


def downgrade() -> None:
    op.drop_table("versions")
