"""The ledger's leaf hashes move into their entries' rows: an append writes one row, not two.

``ledger_entries`` gains ``leaf``, the entry's RFC 9162 leaf hash, filled from the level-0 rows of
``ledger_nodes``, which are then deleted: ``ledger_nodes`` keeps only the perfect subtrees above
the leaves. An entry whose leaf row was missing keeps a null ``leaf``, which ``ledger verify``
reports as an entry not appended through the log, as it reported the missing row before.

On SQLite both tables are rebuilt with their key as an ``INTEGER PRIMARY KEY`` (the rowid), so
each row is stored once, in its table's own b-tree, instead of twice (the table by rowid, and a
separate index on the key): an append touches fewer pages. PostgreSQL keeps ``BIGINT`` keys.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LEVEL_1 = 1 << 48  # the first subtree id above the leaves (``level << 48 | index``)


def _keys(type_: sa.types.TypeEngine[int]) -> None:
    """On SQLite, rebuild both tables with their keys of type ``type_`` (INTEGER: the rowid)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, key in (("ledger_entries", "idx"), ("ledger_nodes", "node")):
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.alter_column(key, type_=type_, existing_nullable=False)


def upgrade() -> None:
    op.add_column("ledger_entries", sa.Column("leaf", sa.LargeBinary(32)))
    op.execute(
        sa.text(
            "UPDATE ledger_entries SET leaf = "
            "(SELECT n.hash FROM ledger_nodes n WHERE n.node = ledger_entries.idx)"
        )
    )
    op.execute(sa.text(f"DELETE FROM ledger_nodes WHERE node < {LEVEL_1}"))
    _keys(sa.Integer())


def downgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO ledger_nodes (node, hash) "
            "SELECT idx, leaf FROM ledger_entries WHERE leaf IS NOT NULL"
        )
    )
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("leaf")
    _keys(sa.BigInteger())
