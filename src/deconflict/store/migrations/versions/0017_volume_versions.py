"""Each notice version records, for each of its volumes, the version it last changed at.

``notices.volume_versions`` and ``notice_versions.volume_versions`` hold a JSON list of
integers, one per volume in the order of ``volumes``; null reads as "every volume at this
version", what the hub assumed before this revision. An amendment that leaves a volume as it
was keeps that volume's version, and the detector keeps that volume's open conflicts instead of
resolving them and detecting them again under the new version: a party that may not see the
notice was told, by the resolution and the new conflict, when and how often its owner amended
it (docs/security.md §3.6). Notices stored before this revision keep null: their next
amendment counts every volume as changed, as before.

Downgrading drops the columns: an older hub resolves and re-detects at every amendment.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_TABLES = ("notices", "notice_versions")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("volume_versions", sa.Text))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("volume_versions")
