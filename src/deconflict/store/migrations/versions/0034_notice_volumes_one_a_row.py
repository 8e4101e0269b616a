"""Each volume of a notice is kept on its own row too, from the version it last changed at.

A party's conflicts with a notice it sees in part name one volume of it each; its list of
conflicts (and map) searched each conflict's adjustment against that volume read from the
version's whole list, so that a hidden notice of 1,000 volumes all meeting one of the party's
cost its read 1,000 lookups of 1,000 volumes (0.4 s; a thirty-fifth reader), and its reads' CPU
time grew with hidden volumes it may not see (security.md §3.5, §4.2). ``notice_volumes`` holds
each volume once for each version it changed at; the volume a conflict names at version ``v``
is its row with the greatest ``since_version`` at most ``v``, found by the key.

Filled here from every stored version: a version with no ``volume_versions`` (before 0017)
counts each of its volumes as changed at it. Downgrading drops the table.

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

_BATCH = 1_000


def upgrade() -> None:
    table = op.create_table(
        "notice_volumes",
        sa.Column("notice_id", sa.String(200), sa.ForeignKey("notices.id"), primary_key=True),
        sa.Column("volume_id", sa.String(200), primary_key=True),
        sa.Column("since_version", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    bind = op.get_bind()
    versions = sa.table(
        "notice_versions",
        sa.column("notice_id"),
        sa.column("version"),
        sa.column("volumes"),
        sa.column("volume_versions"),
    )
    query = sa.select(versions).order_by(versions.c.notice_id, versions.c.version)
    rows: dict[tuple[str, str, int], str] = {}
    last = None
    for version in bind.execute(query):
        if version.notice_id != last and len(rows) >= _BATCH:
            _insert(bind, table, rows)  # at a notice's first version: no key of it written yet
        last = version.notice_id
        volumes = json.loads(version.volumes)
        since = json.loads(version.volume_versions) if version.volume_versions else None
        for i, volume in enumerate(volumes):
            at = int(since[i]) if since else int(version.version)
            # The version it changed at wrote it; later ones kept it as it was.
            rows.setdefault(
                (version.notice_id, volume["id"], at),
                json.dumps(volume, separators=(",", ":"), sort_keys=True),
            )
    _insert(bind, table, rows)


def _insert(bind: sa.Connection, table: sa.Table, rows: dict[tuple[str, str, int], str]) -> None:
    if rows:
        bind.execute(
            table.insert(),
            [
                {"notice_id": n, "volume_id": v, "since_version": s, "body": body}
                for (n, v, s), body in rows.items()
            ],
        )
        rows.clear()


def downgrade() -> None:
    op.drop_table("notice_volumes")
