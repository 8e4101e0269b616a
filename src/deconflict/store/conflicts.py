"""The SQL store's conflict queries (conflicts are written by a detection:
:mod:`deconflict.store.detections`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa

from deconflict.errors import NotFound
from deconflict.model import Conflict, ConflictState, RecordKind, Side
from deconflict.store import schema as t
from deconflict.store.base import Seen
from deconflict.store.records import IN_CHUNK
from deconflict.store.rows import conflict_of
from deconflict.store.transactions import SqlTransactions, transaction

__all__ = ["SqlConflicts"]

_NOTICE = str(RecordKind.NOTICE)
_SIDES = (("a", "b"), ("b", "a"))


def _shown(mine: str, theirs: str, party: str) -> tuple[sa.ColumnElement[bool], ...]:
    """``party``'s conflicts on side ``mine`` whose other side is a notice: those it is shown
    (the leading columns of each side's indexes)."""
    c = t.conflicts.c
    return c[f"{theirs}_kind"] == _NOTICE, c[f"{mine}_party"] == party


def _unlocking(
    mine: str, theirs: str, by: tuple[str, str], owner: str, now_s: float
) -> sa.Select[tuple[object, ...]]:
    """The conflicts whose side ``mine``, a record of ``by`` (party, kind), unlocks the volume
    of ``owner``'s notice on side ``theirs`` while the owner is shown it open past ``now_s``
    (``Conflict.told_until``), whatever their state in the store (the caller tells each as it
    is shown). One range of the index on (other kind, party, other party, kind, unlocks, until
    when the other is shown it): it reads the party's own conflicts that may still unlock,
    never one it is not shown, one that unlocks nothing (its other side's told-until is the
    end of a volume the party may not see), nor one the store keeps open after its window as
    told has passed. Asked of the store's state too, a row it had resolved cost steps more
    than an open one: the end of the other's notice, told to the tick (an eighth reader, as
    the others: security.md §3.5)."""
    c = t.conflicts.c
    return sa.select(t.conflicts, sa.literal(theirs).label("unlocked")).where(
        c[f"{mine}_party"] == by[0],
        c[f"{theirs}_kind"] == _NOTICE,
        c[f"{theirs}_party"] == owner,
        c[f"{mine}_kind"] == by[1],
        c[f"{mine}_unlocks"] == sa.true(),
        c[f"{theirs}_until_s"] > now_s,
    )


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
    def seen_conflicts(
        self, party: str, *, after: tuple[float, str] | None = None, limit: int | None = None
    ) -> list[Conflict]:
        """``party``'s conflicts with a notice (those it is shown: ``hub.sight.sees_conflict``),
        whatever their state, in detection order: those after ``after`` (detection time, id),
        at most ``limit``. Read from the party's range of ``conflict_parties`` on from
        ``after``, no further than a page, so a page costs what it holds, neither the party's
        whole history nor how its conflicts split between the sides (read a side at a time,
        a page cost up to ``limit`` rows of each: a thirteenth reader); it never touches a
        conflict the party is not shown (read by party and state, one of its notices with
        another's private plan cost steps more, and a probe located the plan by it:
        security.md §3.5)."""
        cp = t.conflict_parties.c
        query = (
            sa.select(t.conflicts)
            .join(t.conflict_parties, cp.conflict_id == t.conflicts.c.id)
            .where(cp.party == party)
        )
        if after is not None:
            query = query.where(sa.tuple_(cp.detected_at_s, cp.conflict_id) > sa.tuple_(*after))
        query = query.order_by(cp.detected_at_s, cp.conflict_id).limit(limit)
        with self.read_connection("listing conflicts") as conn:
            rows = conn.execute(query).all()
        return [conflict_of(row._mapping) for row in rows]

    @transaction
    def told_conflicts(self, party: str, *, after_s: float) -> list[Conflict]:
        return self._read_sides(
            "reading the conflicts told open",
            [
                sa.select(t.conflicts).where(
                    *_shown(mine, theirs, party), t.conflicts.c[f"{mine}_until_s"] > after_s
                )
                for mine, theirs in _SIDES
            ],
        )

    @transaction
    def open_conflicts_with(self, party: str, owners: Collection[str]) -> list[Conflict]:
        c = t.conflicts.c
        queries = [
            sa.select(t.conflicts).where(
                *_shown(mine, theirs, party),
                c[f"{theirs}_party"] == owner,
                c.state == str(ConflictState.OPEN),
            )
            for owner in sorted(owners)
            for mine, theirs in _SIDES
        ]
        return self._read_sides("reading open conflicts", queries) if queries else []

    def _read_sides(
        self, doing: str, queries: Sequence[sa.Select[tuple[object, ...]]]
    ) -> list[Conflict]:
        """The conflicts ``queries`` find (one per side of a conflict, or per side and owner),
        each once, in detection order."""
        parts = [sa.select(q.subquery()) for q in queries]
        with self.read_connection(doing) as conn:
            rows = conn.execute(sa.union_all(*parts)).all()
        found = {row.id: conflict_of(row._mapping) for row in rows}
        return sorted(found.values(), key=lambda c: (c.detected_at_s, c.id))

    @transaction
    def a_seen_conflict(self, party: str) -> str | None:
        """The id of a conflict ``party`` is shown (None if it has none): the first of its
        range of ``conflict_parties``, read no further, so the read costs the same whichever
        it is. (Chosen by an order no index kept, a LIMIT's sorter cost steps by the order
        the rows came in, which the other side's told-until, a hidden volume's end, set: an
        eleventh reader.)"""
        cp = t.conflict_parties.c
        query = (
            sa.select(cp.conflict_id)
            .where(cp.party == party)
            .order_by(cp.detected_at_s, cp.conflict_id)
            .limit(1)
        )
        with self.read_connection("finding a conflict") as conn:
            return conn.execute(query).scalar_one_or_none()

    @transaction
    def unlocking_conflicts(self, seen: Seen, *, now_s: float) -> list[tuple[Conflict, Side]]:
        queries = [
            query
            for owner, by in sorted(seen.unlocked_by.items())
            for pair in sorted(by)
            for query in (
                _unlocking("a", "b", pair, owner, now_s),
                _unlocking("b", "a", pair, owner, now_s),
            )
        ]
        if not queries:
            return []
        with self.read_connection("reading the conflicts that unlock notices") as conn:
            rows = conn.execute(sa.union_all(*queries)).all()
        found = []
        for row in rows:
            conflict = conflict_of(row._mapping)
            found.append((conflict, conflict.a if row.unlocked == "a" else conflict.b))
        return sorted(found, key=lambda pair: (pair[0].detected_at_s, pair[0].id, pair[1].key))

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
