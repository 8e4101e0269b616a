"""A party's conflicts are read a page at a time, and its open ones by what it is told.

A party's list of conflicts read every conflict it had ever been shown, resolved ones too, and
sorted them: its cost grew with the hub's whole history, and another party added to it by
filing onto the party's volumes (docs/security.md §4.2). Three indexes per side now serve the
reads of a party's conflicts with a notice (the ones it is shown): by detection order, a page
from where the last ended; by until when it is told them open (its open ones and the map's,
when the other side's owner is seen in part or whole); and by the other side's party and the
store's state (its open ones with an owner it sees whole, shown as the store keeps them).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_SIDES = (("a", "b"), ("b", "a"))


def _indexes(mine: str, theirs: str) -> dict[str, list[str]]:
    shown = [f"{theirs}_kind", f"{mine}_party"]
    return {
        f"ix_conflicts_{mine}_pages": [*shown, "detected_at_s", "id"],
        f"ix_conflicts_{mine}_told": [*shown, f"{mine}_until_s"],
        f"ix_conflicts_{mine}_open": [*shown, f"{theirs}_party", "state"],
    }


def upgrade() -> None:
    for mine, theirs in _SIDES:
        for name, columns in _indexes(mine, theirs).items():
            op.create_index(name, "conflicts", columns)


def downgrade() -> None:
    for mine, theirs in _SIDES:
        for name in _indexes(mine, theirs):
            op.drop_index(name, table_name="conflicts")
