"""The conflicts are found as their parties are shown them.

A party's conflicts were read by an index on its party and state: the read touched those it is
not shown (one of its notices with another party's private plan), so the SQLite steps of its
list told a probe where the other's plan lay. The notices a conflict unlocks under
"conflicts-only" were found by the conflicts open in the store, which stay open until a notice
ends, long after the conflict's window as told had passed: the read told when the other
party's hidden volumes ended. Each side now records until when its party is shown the conflict
open, at most (``a_until_s``, ``b_until_s``: ``Conflict.told_until``), and one index per side
(other kind, party, other party, kind, until when the other is shown it) finds both reads
(docs/security.md §3.5).

A conflict recorded before says its side is shown it open until its notice ends (the window it
is told lies within it; a plan's side for ever: no read asks it): no earlier than it is, so
the read finds what it found before.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_NEVER = 1e300  # a plan's side: never asked


def upgrade() -> None:
    for side in ("a", "b"):
        op.add_column(
            "conflicts",
            sa.Column(f"{side}_until_s", sa.Double(), nullable=False, server_default=str(_NEVER)),
        )
        op.execute(
            f"UPDATE conflicts SET {side}_until_s = COALESCE("
            f"(SELECT notices.end_s FROM notices WHERE notices.id = conflicts.{side}_record_id),"
            f" {_NEVER}) WHERE {side}_kind = 'notice'"
        )
    op.drop_index("ix_conflicts_a_party", table_name="conflicts")
    op.drop_index("ix_conflicts_b_party", table_name="conflicts")
    for mine, theirs in (("a", "b"), ("b", "a")):
        op.create_index(
            f"ix_conflicts_{mine}_shown",
            "conflicts",
            [
                f"{theirs}_kind",
                f"{mine}_party",
                f"{theirs}_party",
                f"{mine}_kind",
                f"{theirs}_until_s",
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_conflicts_b_shown", table_name="conflicts")
    op.drop_index("ix_conflicts_a_shown", table_name="conflicts")
    op.create_index("ix_conflicts_a_party", "conflicts", ["a_party", "state"])
    op.create_index("ix_conflicts_b_party", "conflicts", ["b_party", "state"])
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("b_until_s")
        batch.drop_column("a_until_s")
