"""A party's pages of conflicts are read from one table, whichever side it is on.

Read by side (0023's indexes by detection order, one a side), a page of ``limit`` cost as many
rows from each side as it had, up to ``limit``: its steps told how a party's conflicts split
between the sides, that is whose filing a detection pass met first, which linked a hidden
notice's filing entry to the conflict (a thirteenth reader: docs/security.md §3.5).
``conflict_parties`` holds a row for each party a conflict is shown to (once a party), keyed by
party, detection time and id: a page reads as many as it holds.

Conflicts recorded before their masked details (migration 0013) are told to a party that may not
see the other side at the resolution of the day, whose window may end a time step after the side's
own notice: 0020 said they were told open until that notice ended, and the reads by told-until
missed them past it. Such a side is told open for ever, as ``Conflict.told_until`` says.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_FOR_EVER = 1e300
_SIDES = (("a", "b"), ("b", "a"))


def upgrade() -> None:
    op.create_table(
        "conflict_parties",
        sa.Column("party", sa.String(200), primary_key=True),
        sa.Column("detected_at_s", sa.Double(), primary_key=True),
        sa.Column("conflict_id", sa.String(200), primary_key=True),
        sqlite_with_rowid=False,  # the key is the table: one b-tree, not a table and an index
    )
    shown = " UNION ".join(
        f"SELECT {mine}_party, detected_at_s, id FROM conflicts WHERE {theirs}_kind = 'notice'"
        for mine, theirs in _SIDES
    )
    op.execute(f"INSERT INTO conflict_parties (party, detected_at_s, conflict_id) {shown}")
    for mine, _ in _SIDES:
        op.drop_index(f"ix_conflicts_{mine}_pages", table_name="conflicts")
        op.execute(f"UPDATE conflicts SET {mine}_until_s = {_FOR_EVER} WHERE {mine}_masked IS NULL")


def downgrade() -> None:
    for mine, theirs in _SIDES:
        op.create_index(
            f"ix_conflicts_{mine}_pages",
            "conflicts",
            [f"{theirs}_kind", f"{mine}_party", "detected_at_s", "id"],
        )
    op.drop_table("conflict_parties")
