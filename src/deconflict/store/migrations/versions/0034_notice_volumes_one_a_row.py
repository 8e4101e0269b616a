"""Each volume of a notice is kept on its own row too, from the version it last changed at.

A party's conflicts with a notice it sees in part name one volume of it each; its list of
conflicts (and map) searched each conflict's adjustment against that volume read from the
version's whole list, so that a hidden notice of 1,000 volumes all meeting one of the party's
cost its read 1,000 lookups of 1,000 volumes (0.4 s; a thirty-fifth reader), and its reads' CPU
time grew with hidden volumes it may not see (security.md §3.5, §4.2). ``notice_volumes`` holds
each volume once for each version it changed at, until the version that changed or dropped it
(``until_version``, null while the newest version holds it); the volume a conflict names at
version ``v`` is its row with the greatest ``since_version`` at most ``v``, found by the key,
if its ``until_version`` is after ``v``. An index holds the rows the newest version holds (an
amendment closes them: found by the key alone, it stepped over every row the notice ever had,
a thirty-eighth reader).

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
        sa.Column("until_version", sa.Integer),
        sa.Column("body", sa.Text, nullable=False),
    )
    open_rows = sa.text("until_version IS NULL")
    op.create_index(
        "ix_notice_volumes_open",
        "notice_volumes",
        ["notice_id"],
        sqlite_where=open_rows,
        postgresql_where=open_rows,
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
    rows: dict[tuple[str, str, int], dict[str, object]] = {}
    current: dict[str, tuple[str, str, int]] = {}  # the notice's volumes at the version read
    notice = None
    for version in bind.execute(query):
        if version.notice_id != notice:  # the next notice: nothing of it written yet
            notice, current = version.notice_id, {}
            if len(rows) >= _BATCH:
                _insert(bind, table, rows)
        number = int(version.version)
        volumes = json.loads(version.volumes)
        since = json.loads(version.volume_versions) if version.volume_versions else None
        now = {}
        for i, volume in enumerate(volumes):
            key = (version.notice_id, volume["id"], int(since[i]) if since else number)
            now[volume["id"]] = key
            # The version it changed at wrote it; later ones kept it as it was.
            rows.setdefault(
                key,
                {
                    "notice_id": key[0],
                    "volume_id": key[1],
                    "since_version": key[2],
                    "until_version": None,
                    "body": json.dumps(volume, separators=(",", ":"), sort_keys=True),
                },
            )
        for volume_id, key in current.items():
            if now.get(volume_id) != key:  # changed or dropped at this version
                rows[key]["until_version"] = number
        current = now
    _insert(bind, table, rows)


def _insert(
    bind: sa.Connection, table: sa.Table, rows: dict[tuple[str, str, int], dict[str, object]]
) -> None:
    if rows:
        bind.execute(table.insert(), list(rows.values()))
        rows.clear()


def downgrade() -> None:
    op.drop_table("notice_volumes")
