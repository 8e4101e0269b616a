"""The full audit's one read: every ledger entry, stored hash and checkpoint, and every record
the store serves.

``ledger verify`` compares the two both ways (:func:`deconflict.hub.ledger_audit.cross_check`,
pure). That comparison must see one state of the store, so everything is read in one read
transaction (one snapshot on either database), table by table, into plain rows. An audit is an
operator's command, run now and then: it holds the whole database in memory, as the recomputation
of the log already did with its entries.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from deconflict.store import ledger_tables as lt
from deconflict.store import schema as t
from deconflict.store import secrets
from deconflict.store.ledger_base import AuditData, AuditEntry, PrivateAuditEntry, Row
from deconflict.store.ledger_private import PERIOD_CURSOR
from deconflict.store.ledger_sql import SqlLedger, subtrees
from deconflict.store.tx import Tx

__all__ = ["SqlLedgerAudit"]

_e, _p = lt.ledger_entries.c, lt.ledger_private.c
_ENTRIES = sa.select(_e.idx, _e.type, _e.subject, _e.body, _e.leaf, _e.salt, _e.content).order_by(
    _e.idx
)
_PRIVATE = sa.select(
    _p.seq,
    _p.party,
    _p.type,
    _p.subject,
    _p.body,
    _p.leaf,
    _p.salt,
    _p.content,
    _p.digest_idx,
    _p.withheld,
).order_by(_p.seq)
_k = lt.ledger_checkpoints.c
_CHECKPOINTS = sa.select(_k.size, _k.note).order_by(_k.id)
_TABLES = {
    "parties": t.parties,
    "agreements": t.agreements,
    "notices": t.notices,
    "notice_versions": t.notice_versions,
    "notice_volumes": t.notice_volumes,
    "plans": t.plans,
    "plan_versions": t.plan_versions,
    "conflicts": t.conflicts,
    "conflict_parties": t.conflict_parties,
    "notifications": t.notifications,
}


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _rows(c: Tx, table: sa.Table) -> list[Row]:
    key = list(table.primary_key.columns)
    return [dict(row._mapping) for row in c.execute(sa.select(table).order_by(*key))]


class SqlLedgerAudit(SqlLedger):
    """:meth:`ledger_audit_data` for :class:`~deconflict.store.sql.SqlStore`."""

    def ledger_audit_data(self) -> AuditData:
        def work(c: Tx) -> AuditData:
            entries = [
                AuditEntry(
                    int(r.idx),
                    str(r.type),
                    str(r.subject),
                    str(r.body).encode(),
                    _bytes(r.leaf),
                    _bytes(r.salt),
                    r.content,
                )
                for r in c.execute(_ENTRIES)
            ]
            private = [
                PrivateAuditEntry(
                    int(r.seq),
                    str(r.party),
                    str(r.type),
                    str(r.subject),
                    str(r.body).encode(),
                    bytes(r.leaf),
                    _bytes(r.salt),
                    r.content,
                    None if r.digest_idx is None else int(r.digest_idx),
                    bool(r.withheld),
                )
                for r in c.execute(_PRIVATE)
            ]
            tables = {name: _rows(c, table) for name, table in _TABLES.items()}
            cursor = t.cursors.c
            period = c.execute(sa.select(cursor.seq).where(cursor.name == PERIOD_CURSOR)).scalar()
            nodes = {(0, e.index): e.leaf for e in entries if e.leaf is not None}
            nodes.update(subtrees(c))
            return AuditData(
                entries,
                private,
                **tables,
                digest_period=None if period is None else int(period),
                withheld_key=secrets.read(c.connection, "withheld"),
                nodes=nodes,
                checkpoints=[(int(r.size), str(r.note)) for r in c.execute(_CHECKPOINTS)],
            )

        return self._reading("reading the store and its ledger for an audit", work)
