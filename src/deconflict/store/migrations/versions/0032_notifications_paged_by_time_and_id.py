"""A party's notifications are paged by (creation time, id) in the index itself.

The event stream and the webhooks read a party's notifications a page at a time after a
position (a creation time and an id), to it and through it as a relay. The indexes on
(recipient, creation time) and (via, creation time) found the time, and every page then read
again the whole of a detection pass's notifications, which share its time, to sort them by id
and skip those before the position: 12.5 ms a page against 2.3 with 30,000 notifications of one
pass (a twenty-second reader). With the id in the index, a page is a seek and as many rows as
it holds; the relay's index holds only the notifications relayed. The index on a party's
undelivered notifications gets the id too: without it, SQLite
read them (``Hub.deliver``) by the index above, which keeps their order, through every
notification the party ever had.

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

# Each index and its columns before (the id is added last).
_INDEXES = (
    ("ix_notifications_recipient_created", ["recipient", "created_at_s"]),
    ("ix_notifications_via_created", ["via", "created_at_s"]),
    ("ix_notifications_recipient_delivered", ["recipient", "delivered_at_s", "created_at_s"]),
)
# Only the relayed ones in the relay's index: a read names the relay (``via = :party``, which
# both databases know implies it), and a notification sent directly wrote an entry there too.
_RELAYED = sa.text("via IS NOT NULL")


def upgrade() -> None:
    for name, columns in _INDEXES:
        op.drop_index(name, table_name="notifications")
        where = _RELAYED if columns[0] == "via" else None
        op.create_index(
            name, "notifications", [*columns, "id"], sqlite_where=where, postgresql_where=where
        )


def downgrade() -> None:
    for name, columns in _INDEXES:
        op.drop_index(name, table_name="notifications")
        op.create_index(name, "notifications", columns)
