"""The SQL store's detector side: its cursor in the change log, committing what a detection
found (new and resolved conflicts, notifications) together with the cursor, and the detector
lease that fences it (:mod:`deconflict.store.lease`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa

from deconflict.errors import StoreError
from deconflict.model import Conflict, Notification
from deconflict.store import lease, ledger_append
from deconflict.store import schema as t
from deconflict.store.base import Detection
from deconflict.store.bulk import insert_many, update_many
from deconflict.store.ledger_append import LogItem
from deconflict.store.records import SqlRecords, rows_in
from deconflict.store.rows import conflict_party_rows, conflict_row, notification_values
from deconflict.store.transactions import transaction
from deconflict.store.tx import Tx

__all__ = ["SqlDetections"]

_DETECTOR = "detector"
# Statements built once (their parameters given at execution): building a statement per call
# costs more than running it on the detection path.
_RESOLVE_CONFLICT = sa.update(t.conflicts).where(t.conflicts.c.id == sa.bindparam("target_id"))
_STORED_CONFLICTS = sa.select(t.conflicts.c.id).where(
    t.conflicts.c.id.in_(sa.bindparam("ids", expanding=True))
)
_DETECTOR_CURSOR = sa.select(t.cursors.c.seq).where(t.cursors.c.name == _DETECTOR)
# The time of the latest detection with outputs, in microseconds (see Detections.detector_time):
# raised, never lowered, by each commit that writes conflicts or notifications.
_DETECTED_AT = "detected-at-us"
_DETECTED_AT_READ = sa.select(t.cursors.c.seq).where(t.cursors.c.name == _DETECTED_AT)
_DETECTED_AT_RAISE = sa.text(
    "INSERT INTO cursors (name, seq) VALUES (:name, :seq) ON CONFLICT (name) DO UPDATE"
    " SET seq = CASE WHEN excluded.seq > cursors.seq THEN excluded.seq ELSE cursors.seq END"
)
# The same, to run with the write turn (no parameters: its one value is the constant above).
_DETECTOR_CURSOR_SQL = str(_DETECTOR_CURSOR.compile(compile_kwargs={"literal_binds": True}))


class SqlDetections(SqlRecords):
    """The detector's cursor, its committed detections and its lease."""

    @transaction
    def detector_time(self) -> float:
        with self.read_connection("reading the detector's time") as c:
            micros = c.execute(_DETECTED_AT_READ).scalar()
        return -math.inf if micros is None else int(micros) / 1e6

    @transaction
    def detector_cursor(self) -> int:
        with self.read_connection("reading the detector cursor") as c:
            seq = c.execute(_DETECTOR_CURSOR).scalar()
        return 0 if seq is None else int(seq)

    @transaction
    def last_change(self) -> int:
        with self.read_connection("reading the change log's end") as c:
            seq = c.execute(sa.select(sa.func.max(t.changes.c.seq))).scalar()
        return 0 if seq is None else int(seq)

    @transaction
    def detection_lag(self) -> int:
        cursor = sa.func.coalesce(_DETECTOR_CURSOR.scalar_subquery(), 0)
        query = sa.select(sa.func.count()).where(t.changes.c.seq > cursor)
        with self.read_connection("measuring the detector's lag") as c:
            return int(c.execute(query).scalar() or 0)

    def commit_detection(self, detection: Detection, fence: int | None = None) -> None:
        self.commit_detections([detection], fence)

    @transaction
    def commit_detections(self, detections: Sequence[Detection], fence: int | None = None) -> None:
        """Build the ledger entries first, on a read of its own (``ledger_append.prebuild``);
        then, under the write turn, check the fence and the cursor (with the turn, one round
        trip on PostgreSQL), read which conflicts are stored and whether the commitments the
        entries refer to are still the newest, and write everything in one pipeline
        (:meth:`.dialect.Dialect.pipelined`): the detector's commits are the longest
        holders of the turn the filings wait for."""
        if not detections:
            return
        first = min(d.seq for d in detections)
        last = max(d.seq for d in detections)
        doing = f"recording detections at changes {first} to {last}"
        everything = _outputs(detections, set())
        log = everything.log
        # The rows too, before the turn (which conflicts are new is known only under it).
        conflict_rows = {x.id: conflict_row(x) for x in everything.new}
        notification_rows = [notification_values(n) for n in everything.notifications]
        prebuilt = None  # a pass with no outputs (the cursor alone) builds nothing, reads nothing
        if log:
            with self.read_connection(doing) as c:
                prebuilt = ledger_append.prebuild(c, log)
        checks = [_DETECTOR_CURSOR_SQL, *([lease.fence_sql(fence)] if fence is not None else [])]
        with self.write_turn(doing, checks) as (c, rows):
            if fence is not None:
                lease.fenced(rows[1], fence)
            current = rows[0][0][0] if rows[0] else None
            if current is not None and current >= first:
                raise StoreError(f"change {first} was already processed (cursor at {current})")
            found = [conflict.id for d in detections for conflict in d.new_conflicts]
            outputs = _outputs(detections, self._stored_conflicts(c, found))
            if outputs.resolved:
                c.execute(
                    _RESOLVE_CONFLICT,
                    [
                        {
                            "target_id": conflict.id,
                            "state": str(conflict.state),
                            "resolved_at_s": conflict.resolved_at_s,
                        }
                        for conflict in outputs.resolved
                    ],
                )
            self._log_many(c, outputs.log, defer=True, prebuilt=prebuilt)  # written below
            ledger_append.build_pending(c)  # a unit's own, if any: nothing reads in the pipeline
            with self._dialect.pipelined(c, doing):
                if outputs.new:
                    insert_many(c, t.conflicts, [conflict_rows[x.id] for x in outputs.new])
                    shown = [row for x in outputs.new for row in conflict_party_rows(x)]
                    if shown:
                        insert_many(c, t.conflict_parties, shown)
                if notification_rows:  # every one, whichever conflicts were stored before
                    insert_many(c, t.notifications, notification_rows)
                ledger_append.flush(c)
                if outputs.new or notification_rows:
                    at_us = math.ceil(max(d.at_s for d in detections) * 1e6)  # never before
                    c.execute(_DETECTED_AT_RAISE, {"name": _DETECTED_AT, "seq": at_us})
                if current is None:
                    insert_many(c, t.cursors, [{"name": _DETECTOR, "seq": last}])
                else:
                    update_many(c, t.cursors, "name", [{"name": _DETECTOR, "seq": last}])

    @staticmethod
    def _stored_conflicts(c: Tx, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in rows_in(c, _STORED_CONFLICTS, ids)}

    @transaction
    def acquire_lease(
        self,
        now_s: float,
        ttl_s: float,
        held: int | None = None,
        pid: int = 0,
        preferred: bool = False,
    ) -> int | None:
        if held is None and self._unit is None:
            # On standby: a plain read first, so a process that does not hold the lease does
            # not queue behind every writer (the write turn) each time it checks.
            with self.read_connection("reading the detector lease") as c:
                if lease.standing_by(c, round(now_s * 1000), preferred):
                    return None
        with self.write_connection("taking the detector lease") as c:
            return lease.acquire(c, round(now_s * 1000), round(ttl_s * 1000), held, pid, preferred)

    @transaction
    def extend_lease(self, now_s: float, ttl_s: float, held: int) -> bool:
        with self.write_connection("renewing the detector lease") as c:
            return lease.extend(c, round(now_s * 1000), round(ttl_s * 1000), held)

    @transaction
    def lease_holder(self, now_s: float) -> lease.LeaseHolder:
        with self.read_connection("reading the detector lease") as c:
            return lease.holder(c, round(now_s * 1000))

    @transaction
    def release_lease(self, held: int) -> None:
        with self.write_connection("releasing the detector lease") as c:
            lease.release(c, held)


class _Outputs(NamedTuple):
    """What a batch of detections writes: its change-log items in the detector's order, the
    conflicts new to the store, those resolved and the notifications."""

    log: list[LogItem]
    new: list[Conflict]
    resolved: list[Conflict]
    notifications: list[Notification]


def _outputs(detections: Sequence[Detection], stored: set[str]) -> _Outputs:
    """The outputs of ``detections``, leaving out the conflicts in ``stored`` (which it fills).
    The log in the detections' order, each one's outputs together, but for a conflict found and
    resolved among them: stored resolved, its resolution (and the notifications about it)
    written right after the detection that found it, wherever the one that resolved it stands
    (a pass's detections come in an order keyed by a secret: ``hub.consumer``)."""
    out = _Outputs([], [], [], [])
    made = {c.id for d in detections for c in d.new_conflicts if c.id not in stored}
    cleared: dict[str, Conflict] = {}  # found and resolved here: stored as resolved
    # The resolution of one found later in the order, and the notifications about it: written
    # after the detection that finds it (its conflict.detected entry and its notifications).
    held: dict[str, list[LogItem]] = {}
    for d in detections:
        at_s = d.at_s
        found_here = []
        for conflict in d.new_conflicts:
            if conflict.id not in stored:
                stored.add(conflict.id)
                out.new.append(conflict)
                out.log.append(("conflict.detected", conflict.id, at_s, conflict))
                found_here.append(conflict.id)
        holding = set()
        for conflict in d.resolved_conflicts:
            item: LogItem = ("conflict.resolved", conflict.id, at_s, conflict)
            if conflict.id not in made:
                out.resolved.append(conflict)
                out.log.append(item)
                continue
            cleared[conflict.id] = conflict
            if conflict.id in stored:
                out.log.append(item)
            else:
                held[conflict.id] = [item]
                holding.add(conflict.id)
        for n in d.notifications:
            out.notifications.append(n)
            told: LogItem = ("notification.created", n.id, at_s, n)
            if n.conflict_id in holding:
                held[n.conflict_id].append(told)
            else:
                out.log.append(told)
        for conflict_id in found_here:
            out.log.extend(held.pop(conflict_id, ()))
    out.new[:] = [cleared.get(c.id, c) for c in out.new]
    return out
