"""The ledger's tables, as SQLAlchemy Core objects (created by migration 0002_ledger).

``ledger_entries`` holds each entry's canonical JSON at its leaf index, with its leaf hash
(``leaf``, migration 0006): an append writes that one row. ``ledger_nodes`` holds the hash of
every complete perfect subtree above the leaves, keyed by ``level << 48 | index``, built lazily,
when a root or proof first needs them (:mod:`deconflict.store.ledger_tree`); a proof reads its
O(log n) hashes from both in one query. The entry that first commits to a record version also
keeps, privately, the salt and the canonical content that open it (``version``, ``commitment``,
``salt``, ``content``; null elsewhere): one row per append rather than two tables. A notice
version's content is not copied there (``content`` null, migration 0009): it is the version's
row, its volumes kept as canonical JSON.
The subject index finds a record's entries, except the entry that commits to a notice version:
its index is kept in the version's row (``notice_versions.ledger_idx``, migration 0009), so a
filing inserts no index key here.
``ledger_checkpoints`` holds the signed checkpoints; ``ledger_public_keys`` (migration 0003) the
verifier key the log is signed with, whose private half lives in a key file, never here.
``ledger_keys`` is where hubs before 0003 kept the private key; the first hub to open such a log
moves it to its key file and erases it (see :mod:`deconflict.hub.ledger_key`).
``ledger_halt`` (migration 0016) holds at most one row: why and since when the hub is halted, for
every process on the database (see :meth:`deconflict.hub.ledger.HubLedger.guard`).

On SQLite both keys are ``INTEGER PRIMARY KEY`` (the rowid: each row stored once, not also in an
index on its key); on PostgreSQL ``BIGINT``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from deconflict.store.schema import Id, Time, metadata

__all__ = [
    "NODE_LEVEL_SHIFT",
    "SUBJECT_INDEXED",
    "ledger_checkpoints",
    "ledger_entries",
    "ledger_halt",
    "ledger_keys",
    "ledger_nodes",
    "ledger_private",
    "ledger_public_keys",
]

NODE_LEVEL_SHIFT = 48

#: The entries the subject index holds (migration 0009): all but those that commit to a notice
#: version, which ``notice_versions.ledger_idx`` links instead (no index insert per filing). A
#: query by subject must say it too, word for word, for SQLite to use the partial index.
SUBJECT_INDEXED = sa.text("type NOT IN ('notice.filed', 'notice.amended')")

# BIGINT, and on SQLite INTEGER: the rowid itself (migration 0006).
_Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _entry_columns(*, leaf_nullable: bool) -> list[sa.Column[Any]]:
    """The columns of an entry, shared (``ledger_entries``, after its index) or private
    (``ledger_private``, after its party): a private entry is a shared one kept apart."""
    return [
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("subject", Id, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("at_s", Time, nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("commitment", sa.String(64)),
        sa.Column("salt", sa.LargeBinary(32)),
        sa.Column("content", sa.Text),
        sa.Column("leaf", sa.LargeBinary(32), nullable=leaf_nullable),
    ]


ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("idx", _Key, primary_key=True, autoincrement=False),
    *_entry_columns(leaf_nullable=True),  # null only where a log before 0006 lacked it
    sa.Index(
        "ix_ledger_entries_subject",
        "subject",
        "idx",
        sqlite_where=SUBJECT_INDEXED,
        postgresql_where=SUBJECT_INDEXED,
    ),
)

ledger_nodes = sa.Table(
    "ledger_nodes",
    metadata,
    sa.Column("node", _Key, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

ledger_checkpoints = sa.Table(
    "ledger_checkpoints",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(),
        primary_key=True,
    ),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("at_s", Time, nullable=False),
    sa.Index("ix_ledger_checkpoints_size", "size"),
)

ledger_keys = sa.Table(
    "ledger_keys",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("private_key", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at_s", Time, nullable=False),
)

ledger_public_keys = sa.Table(
    "ledger_public_keys",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("verifier_key", sa.Text, nullable=False),
    sa.Column("created_at_s", Time, nullable=False),
)

ledger_halt = sa.Table(
    "ledger_halt",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1: one row
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at_s", Time, nullable=False),
    sa.CheckConstraint("id = 1", name="ck_ledger_halt_one_row"),
)

# A party's private entries (migration 0013): what concerns its own plans (a conflict with a plan,
# the notifications of it and what becomes of them), kept out of the shared log, whose growth
# every party sees, and committed to by the party's digest entry there (``digest_idx``), one per
# party per period whatever happened: see :mod:`deconflict.store.ledger_private`.
ledger_private = sa.Table(
    "ledger_private",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(),
        primary_key=True,
    ),
    sa.Column("party", Id, nullable=False),
    *_entry_columns(leaf_nullable=False),
    sa.Column("digest_idx", sa.BigInteger),
    # Whether its party's digest withholds it from the party (committed to apart, migration
    # 0033): an entry the party is not told, see :mod:`deconflict.store.ledger_private`.
    sa.Column("withheld", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_ledger_private_party_digest", "party", "digest_idx", "seq"),
    sa.Index("ix_ledger_private_subject", "subject", "seq"),
)
