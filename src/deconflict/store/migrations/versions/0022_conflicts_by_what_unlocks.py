"""The conflicts that may unlock are found by an index that holds whether they unlock, and a
conflict stored before 0020 is shown open until its window as told, as one stored since.

0020's index on (other kind, party, other party, kind, other's told-until) read, for a party's
list, its conflicts that unlock nothing too (a private plan's, a volume beyond the unlock
bounds): the other party's told-until is the end of its own volume, hidden from the party, and
the steps of its list fell at the end of each (a reader counted another's live volumes and read
each end to the second). The index now holds ``{side}_unlocks`` before the told-until.

0020 gave a conflict stored before it its notice's end for how long each side is shown it open:
a whole notice's end, maybe a hidden volume's, which the reads then told. It is now the end of
the window each side was told (its masked detail), as for a conflict stored since; a side with
no masked detail (stored before 0013) keeps its notice's end (docs/security.md §3.5).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_PAGE = 1_000


def _index(mine: str, theirs: str, unlocks: bool) -> None:
    columns = [f"{theirs}_kind", f"{mine}_party", f"{theirs}_party", f"{mine}_kind"]
    columns += [f"{mine}_unlocks"] if unlocks else []
    op.create_index(f"ix_conflicts_{mine}_shown", "conflicts", [*columns, f"{theirs}_until_s"])


def _told_until() -> None:
    """Each side's told-until from its masked detail (its window's end, never before the
    conflict was detected), a page of conflicts at a time."""
    bind = op.get_bind()
    c = sa.table(
        "conflicts",
        sa.column("id", sa.String),
        sa.column("detected_at_s", sa.Double),
        *(sa.column(f"{side}_masked", sa.Text) for side in ("a", "b")),
        *(sa.column(f"{side}_until_s", sa.Double) for side in ("a", "b")),
    )
    after = ""
    while True:
        rows = bind.execute(
            sa.select(c.c.id, c.c.detected_at_s, c.c.a_masked, c.c.b_masked)
            .where(c.c.id > after)
            .order_by(c.c.id)
            .limit(_PAGE)
        ).all()
        if not rows:
            return
        for side in ("a", "b"):
            told = [
                {"key": row.id, "until": max(json.loads(masked)[1], row.detected_at_s)}
                for row in rows
                if (masked := getattr(row, f"{side}_masked")) is not None
            ]
            if told:
                bind.execute(
                    c.update()
                    .where(c.c.id == sa.bindparam("key"))
                    .values({f"{side}_until_s": sa.bindparam("until")}),
                    told,
                )
        after = rows[-1].id


def upgrade() -> None:
    for mine, theirs in (("a", "b"), ("b", "a")):
        op.drop_index(f"ix_conflicts_{mine}_shown", table_name="conflicts")
        _index(mine, theirs, unlocks=True)
    _told_until()


def downgrade() -> None:
    for mine, theirs in (("a", "b"), ("b", "a")):
        op.drop_index(f"ix_conflicts_{mine}_shown", table_name="conflicts")
        _index(mine, theirs, unlocks=False)
