"""A party's notifications are paged by (creation time, id) in the index itself.

The event stream and the webhooks read a party's notifications a page at a time after a
position (a creation time and an id), to it and through it as a relay. The indexes on
(recipient, creation time) and (via, creation time) found the time, and every page then read
again the whole of a detection pass's notifications, which share its time, to sort them by id
and skip those before the position: 12.5 ms a page against 2.3 with 30,000 notifications of one
pass (a twenty-second reader). With the id in the index, a page is a seek and as many rows as
it holds; the relay's index holds only the notifications relayed. The index on a party's
undelivered notifications holds only those (with the id: without it, SQLite read them,
``Hub.deliver``, by the index above, which keeps their order, through every notification the
party ever had).

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

# Each index: its columns before, its columns now, the rows it holds now (None: all).
_INDEXES = (
    (
        "ix_notifications_recipient_created",
        ["recipient", "created_at_s"],
        ["recipient", "created_at_s", "id"],
        None,
    ),
    # Only the relayed ones: a read names the relay (``via = :party``, which both databases
    # know implies it), and a notification sent directly wrote an entry here at every commit.
    (
        "ix_notifications_via_created",
        ["via", "created_at_s"],
        ["via", "created_at_s", "id"],
        "via IS NOT NULL",
    ),
    # Only the undelivered ones, which are all it was read for: a delivery deletes the entry,
    # where it moved it (a delete and an insert), and it no longer grows with history.
    (
        "ix_notifications_recipient_delivered",
        ["recipient", "delivered_at_s", "created_at_s"],
        ["recipient", "created_at_s", "id"],
        "delivered_at_s IS NULL",
    ),
)


def upgrade() -> None:
    for name, _, columns, rows in _INDEXES:
        op.drop_index(name, table_name="notifications")
        where = None if rows is None else sa.text(rows)
        op.create_index(name, "notifications", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, columns, _, _ in _INDEXES:
        op.drop_index(name, table_name="notifications")
        op.create_index(name, "notifications", columns)
