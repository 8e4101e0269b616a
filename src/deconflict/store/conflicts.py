"""The SQL store's conflict queries (conflicts are written by a detection:
:mod:`deconflict.store.detections`)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from deconflict.errors import NotFound
from deconflict.model import Conflict, ConflictState, RecordKind
from deconflict.store import schema as t
from deconflict.store.records import IN_CHUNK
from deconflict.store.rows import conflict_of
from deconflict.store.transactions import SqlTransactions, transaction

__all__ = ["SqlConflicts"]


class SqlConflicts(SqlTransactions):
    """Reading conflicts, one or by party, state or record."""

    @transaction
    def get_conflict(self, conflict_id: str) -> Conflict:
        with self.read_connection(f"reading conflict {conflict_id!r}") as c:
            row = c.execute(sa.select(t.conflicts).where(t.conflicts.c.id == conflict_id)).first()
        if row is None:
            raise NotFound(f"no conflict {conflict_id!r}")
        return conflict_of(row._mapping)

    @transaction
    def list_conflicts(
        self,
        party: str | None = None,
        state: ConflictState | None = None,
        record: tuple[RecordKind, str] | None = None,
        notices: Sequence[str] | None = None,
        resolved_after: float | None = None,
    ) -> list[Conflict]:
        if notices is not None and len(notices) > IN_CHUNK:  # a statement binds so many values
            found = {
                conflict.id: conflict
                for lo in range(0, len(notices), IN_CHUNK)
                for conflict in self.list_conflicts(
                    party, state, record, notices[lo : lo + IN_CHUNK], resolved_after
                )
            }
            return sorted(found.values(), key=lambda c: (c.detected_at_s, c.id))
        col = t.conflicts.c
        query = sa.select(t.conflicts).order_by(col.detected_at_s, col.id)
        if party is not None:
            query = query.where(sa.or_(col.a_party == party, col.b_party == party))
        if state is not None and resolved_after is not None:
            query = query.where(sa.or_(col.state == str(state), col.resolved_at_s > resolved_after))
        elif state is not None:
            query = query.where(col.state == str(state))
        if record is not None:
            kind, record_id = str(record[0]), record[1]
            query = query.where(
                sa.or_(
                    sa.and_(col.a_kind == kind, col.a_record_id == record_id),
                    sa.and_(col.b_kind == kind, col.b_record_id == record_id),
                )
            )
        if notices is not None:
            keys, notice = list(notices), str(RecordKind.NOTICE)
            query = query.where(
                sa.or_(
                    sa.and_(col.a_kind == notice, col.a_record_id.in_(keys)),
                    sa.and_(col.b_kind == notice, col.b_record_id.in_(keys)),
                )
            )
        with self.read_connection("listing conflicts") as c:
            rows = c.execute(query).all()
        return [conflict_of(row._mapping) for row in rows]
