"""Webhook secrets are kept sealed, never in clear: a reader of the database cannot sign as the hub.

A webhook's secret signs each delivery to the party's receiver; kept in clear in ``webhooks``, it
let anyone who read the database (or its WAL, or a backup) sign as the hub. This revision adds
``webhooks.sealed``, the secret sealed (AES-256-GCM) with the service's webhook key, which is
kept in a file outside the database (see :mod:`deconflict.runtime.webhooks.sealing`), and lets
``secret`` be empty. A migration cannot read that key file, so the rows written before keep their
secret in ``secret`` until the first ``deconflict serve`` (any worker) seals each and erases the
clear one, with a warning; they are sent, signed with the same secret, meanwhile and after. The
erased secrets may still sit in old backups: parties whose receivers need that ruled out set their
webhook again (a new secret).

Downgrading cannot open a sealed secret (the key is not the database's): the webhooks holding
only a sealed secret are removed, and their parties must set them again.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("sealed", sa.String(2000)))
        batch.alter_column("secret", existing_type=sa.String(200), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM webhooks WHERE secret IS NULL"))
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("secret", existing_type=sa.String(200), nullable=False)
        batch.drop_column("sealed")
