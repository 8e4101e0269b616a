"""Service state moves into the database: stored Idempotency-Key responses and webhooks.

Before this revision each ``deconflict serve`` process kept them in a SQLite file of its own
beside the database (``<state>.service``), so a retry on another worker filed again and a webhook
registered on one worker was unknown to the others. See :mod:`deconflict.store.service_state`.
That side file is not read: an Idempotency-Key stored there is forgotten (a day's worth at most),
and a webhook set there must be set again.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("party", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("at_s", sa.Double(), nullable=False),
    )
    op.create_index("ix_idempotency_keys_at_s", "idempotency_keys", ["at_s"])
    op.create_table(
        "webhooks",
        sa.Column("party", sa.String(200), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("cursor", sa.String(400)),
    )


def downgrade() -> None:
    op.drop_table("webhooks")
    op.drop_index("ix_idempotency_keys_at_s", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
