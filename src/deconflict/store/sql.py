"""The SQL store: SQLAlchemy Core over SQLite (the default, one file) and PostgreSQL.

The queries are portable Core statements; what differs per database is how the engine is
made (:mod:`deconflict.store.engines`) and the few steps of :mod:`deconflict.store.dialect`.
The schema is brought to the newest Alembic revision whenever a store is opened, and the
``cursors`` rows for the log mutex and the detector lease are created if missing.

Every public method runs in one transaction and translates driver errors at this boundary:
an integrity violation is ``InvalidInput`` (a duplicate id, an unknown party), a serialization
failure or deadlock is retried by the store's :class:`RetryPolicy` (the whole method runs again),
anything else from the driver is ``StoreError``. Every change-log row is appended under the log
mutex (:mod:`deconflict.store.order`), so the log's order is its commit order, and a detection
may be fenced by the detector lease's token (:mod:`deconflict.store.lease`).

:class:`SqlStore` is composed of one part per concept, each in its own module:

- :mod:`~deconflict.store.transactions`: the engine, units of work, savepoints, error translation,
  and the :class:`~deconflict.store.tx.Tx` each transaction's statements run in
- :mod:`~deconflict.store.records`: what the record modules below share
- :mod:`~deconflict.store.parties`: parties and agreements
- :mod:`~deconflict.store.notices`, :mod:`~deconflict.store.plans`: the records and their versions
- :mod:`~deconflict.store.detections`: the detector's cursor, its detections and its lease
- :mod:`~deconflict.store.conflicts`, :mod:`~deconflict.store.notifications`: what it found
- :mod:`~deconflict.store.ledger_sql`: the ledger's read side, checkpoints and key

and the change log, which ties them together, is here: every write appends its ledger entries
through ``_log``/``_log_many``, and the writes of the detector's inputs their change-log rows
too, in the same transaction; the detector reads them back with ``changes_after``, and rebuilds
its index from ``live_records``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from deconflict.model import Notice, NoticeState, Plan, PlanState, RecordKind
from deconflict.store import schema as t
from deconflict.store.base import Change, LivePage, LiveRecord, Store
from deconflict.store.bulk import driver_tuples
from deconflict.store.conflicts import SqlConflicts
from deconflict.store.detections import SqlDetections
from deconflict.store.ledger_append import LogItem, Prebuilt, record_changes
from deconflict.store.ledger_audit import SqlLedgerAudit
from deconflict.store.ledger_private import SqlPrivateLedger
from deconflict.store.notices import SqlNotices
from deconflict.store.notifications import SqlNotifications
from deconflict.store.parties import SqlParties
from deconflict.store.plans import SqlPlans
from deconflict.store.rows import change_of
from deconflict.store.service_state import ServiceState
from deconflict.store.transactions import insert_with_unit, transaction
from deconflict.store.tx import Tx

__all__ = ["LOGGED_ENTITIES", "SqlStore"]


def _page_end(kind: RecordKind) -> sa.Select[Any]:
    """The key of the ``:skip``-th change-log row of ``kind`` after key ``:after``, in key
    order: where a page of records ends (an index-only range of ``ix_changes_entity``, as long
    as the page). None past the last row."""
    c = t.changes.c
    return (
        sa.select(c.entity_id)
        .where(c.entity == sa.literal_column(f"'{kind}'"), c.entity_id > sa.bindparam("after"))
        .order_by(c.entity_id)
        .limit(sa.literal_column("1"))
        .offset(sa.bindparam("skip"))
    )


def _live_query(kind: RecordKind, bounded: bool) -> sa.Select[Any]:
    """The records of ``kind`` with keys after ``:after`` (and up to ``:end`` if ``bounded``),
    in key order, each with its last change-log row up to ``:upto`` (found in that range of
    ``ix_changes_entity``, nothing outside it read: no join back to the log, no sort beyond the
    page, whatever the planner's statistics say); the volumes of the version that row names
    where its state is live (the record's row has them if it is still at that version, else
    its versions table), else null."""
    if kind is RecordKind.NOTICE:
        table, versions, of = t.notices, t.notice_versions, t.notice_versions.c.notice_id
        live = [str(state) for state in NoticeState if state.live]
    else:
        table, versions, of = t.plans, t.plan_versions, t.plan_versions.c.plan_id
        live = [str(PlanState.CURRENT)]
    c = t.changes.c
    latest = sa.func.row_number().over(partition_by=c.entity_id, order_by=c.seq.desc())
    rows = (
        sa.select(c.entity_id, c.version, c.state, latest.label("latest"))
        .where(
            c.entity == sa.literal_column(f"'{kind}'"),
            c.entity_id > sa.bindparam("after"),
            *([c.entity_id <= sa.bindparam("end")] if bounded else []),
            c.seq <= sa.bindparam("upto"),
        )
        .subquery("last")
    )
    volumes = sa.case(
        (rows.c.state.not_in([sa.literal_column(f"'{state}'") for state in live]), sa.null()),
        (table.c.version == rows.c.version, table.c.volumes),
        else_=versions.c.volumes,
    )
    return (
        sa.select(rows.c.entity_id, table.c.party_id, rows.c.version, volumes)
        .select_from(
            rows.outerjoin(table, table.c.id == rows.c.entity_id).outerjoin(
                versions, sa.and_(of == rows.c.entity_id, versions.c.version == rows.c.version)
            )
        )
        .where(rows.c.latest == sa.literal_column("1"))
        .order_by(rows.c.entity_id)
    )


_PAGE_END = {kind: _page_end(kind) for kind in RecordKind}
_LIVE = {
    (kind, bounded): _live_query(kind, bounded) for kind in RecordKind for bounded in (True, False)
}

#: What the change log holds: changes of the detector's inputs. Its outputs (conflicts,
#: notifications) and what becomes of them (deliveries, acknowledgements, escalations) are
#: recorded in the ledger only: as change-log rows they were written, and read back by the
#: detector, only to be skipped (12 of a contended filing's 13 rows).
LOGGED_ENTITIES = frozenset({"party", "agreement", "notice", "plan"})


class SqlStore(
    SqlParties,
    SqlNotices,
    SqlPlans,
    SqlDetections,
    SqlConflicts,
    SqlNotifications,
    SqlPrivateLedger,
    SqlLedgerAudit,
    Store,
):
    """The store on any SQLAlchemy engine; see :func:`deconflict.store.open_store`."""

    def service_state(self) -> ServiceState:
        return ServiceState(self)

    @classmethod
    def _log(
        cls,
        tx: Tx,
        kind: str,
        entity_id: str,
        at_s: float,
        record: Notice | Plan | None = None,
    ) -> int | None:
        indexes = cls._log_many(tx, [(kind, entity_id, at_s, record)])
        return indexes[0] if indexes else None

    @staticmethod
    def _log_many(
        tx: Tx,
        items: Sequence[LogItem],
        defer: bool | None = None,
        prebuilt: Prebuilt | None = None,
    ) -> list[int | None]:
        """Append the ledger entries of ``items`` and, for those about the detector's inputs
        (:data:`LOGGED_ENTITIES`), their change-log rows (one statement), in the same
        transaction; the ledger index of each item's entry (None where it has none). A notice's
        or plan's row names its version and state; the other records ride along so the ledger
        need not read them back."""
        if not items:
            return []
        tx.dialect.take_log_position(tx)
        rows = []
        for kind, entity_id, at_s, record in items:
            entity = kind.split(".", 1)[0]
            if entity not in LOGGED_ENTITIES:
                continue
            version, state = None, None
            if isinstance(record, Notice | Plan):
                version, state = record.version, str(record.state)
            rows.append(
                {
                    "entity": entity,
                    "kind": kind,
                    "entity_id": entity_id,
                    "at_s": at_s,
                    "version": version,
                    "state": state,
                }
            )
        if rows:
            tx.dialect.notify(tx)
            insert_with_unit(tx, t.changes, rows)
        # In a unit of work the ledger's rows are written once, before its commit; ``defer``
        # leaves them to the caller's ``ledger_append.flush`` (before its commit) elsewhere too.
        if defer is None:
            defer = tx.unit
        return record_changes(tx, items, defer=defer, prebuilt=prebuilt)

    @transaction
    def changes_after(self, seq: int, limit: int | None = None) -> list[Change]:
        query = sa.select(t.changes).where(t.changes.c.seq > seq).order_by(t.changes.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self.read_connection("reading the change log") as c:
            rows = c.execute(query).all()
        return [change_of(row) for row in rows]

    @transaction
    def live_records(
        self, upto_seq: int, after: tuple[RecordKind, str] | None = None, limit: int = 10_000
    ) -> LivePage:
        kind, key = after if after is not None else (RecordKind.NOTICE, "")
        with self.read_connection("reading the records live at the detector's cursor") as c:
            c.dialect.walk_indexes(c)
            ends = driver_tuples(c, _PAGE_END[kind], {"after": key, "skip": max(limit, 1) - 1})
            params = {"upto": upto_seq, "after": key}
            if ends:
                params["end"] = ends[0][0]
            rows = driver_tuples(c, _LIVE[(kind, bool(ends))], params)
        records = [
            LiveRecord(kind, record, party, version, volumes)
            for record, party, version, volumes in rows
            if party is not None and volumes is not None
        ]
        if ends:
            return LivePage(records, (kind, ends[0][0]))
        return LivePage(records, (RecordKind.PLAN, "") if kind is RecordKind.NOTICE else None)
