"""The detector's reading of the change log: its cursor, its passes, and their commits.

The change log holds the detector's inputs in commit order. :class:`LogConsumer` reads the rows
after its cursor, runs the :class:`~deconflict.hub.detector.Detector` over them and commits what
they produced together with the cursor, fenced by the detector lease when several hub processes
share the store. Its index runs ahead of the store while it detects; when a commit fails it is
rebuilt from the store at the stored cursor. The cursor it has read past but not yet stored
(rows with no outputs) is kept here and stored at most every ``_CURSOR_EVERY_S``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from deconflict.errors import DeconflictError
from deconflict.hub.clock import Clock
from deconflict.hub.detector import Detector
from deconflict.ledger.unlinked import unlinked
from deconflict.model import Agreement, Conflict, Notification
from deconflict.store import Change, ChangeLog, Detection, Detections, Parties

__all__ = ["LogConsumer", "ProcessReport"]

_CURSOR_EVERY_S = 1.0  # the longest a detector pass with no outputs leaves the cursor unstored
# A pass's time after the last's: two microseconds, so that their event ids' microseconds
# differ too (one, added to a float time, may round to the same microsecond).
_AFTER_S = 2e-6
_BEHIND_TOLD_S = 1.0  # a clock further behind the last detection than this is logged

log = logging.getLogger("deconflict.hub")


@dataclass(frozen=True, slots=True)
class ProcessReport:
    """What one ``process()`` did: change-log rows consumed and what they produced, and the
    change-log position detection has passed (every row up to it), for a caller that waits
    for the detection of particular rows (a party's own writes) rather than of the whole log."""

    changes: int = 0
    detected: int = 0
    new_conflicts: list[Conflict] = field(default_factory=list)
    resolved_conflicts: list[Conflict] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)


def _conflict_id(conflict: Conflict) -> str:
    return conflict.id


def _notification_id(notification: Notification) -> str:
    return notification.id


class _Store(ChangeLog, Detections, Parties, Protocol):
    """What the consumer reads and writes: the log and its cursor, the detections, and the
    agreements a row names."""


class LogConsumer:
    """Runs ``detector`` over ``store``'s change log. ``agreements`` is the hub's list, updated
    in place when a row names an agreement (possibly added by another hub process)."""

    def __init__(
        self, store: _Store, detector: Detector, agreements: list[Agreement], clock: Clock
    ) -> None:
        self._store = store
        self._detector = detector
        self._agreements = agreements
        self._clock = clock
        self._consumed: int | None = None  # rows with no outputs read past, not stored yet
        self._consumed_fence: int | None = None  # the lease token they were read under
        self._stored_cursor: int | None = None  # the stored cursor, once read (see _cursor)
        self._cursor_stored_at = -math.inf  # time.monotonic() of the last cursor stored
        self._floor_s: float | None = None  # no pass detects earlier (see _pass_time)

    def close(self) -> None:
        """Store the cursor read past, if it was read under no lease (this process's alone)."""
        if self._consumed is not None and self._consumed_fence is None:
            with contextlib.suppress(DeconflictError):
                self.store_cursor()

    def rebuild(self, progress: Callable[[], None] | None = None) -> None:
        """Rebuild the detector's index from the store, and read on from the stored cursor
        (``progress``: see :meth:`Detector.rebuild`)."""
        self._consumed = None
        self._stored_cursor = None
        self._floor_s = None
        self._detector.rebuild(progress)

    def save_index(self, fence: int | None = None) -> Callable[[], int] | None:
        """Store the cursor read past, then take the detector's index at it for its file (see
        :meth:`Detector.save`): the write to make, or None (nothing to write, or the cursor
        could not be stored: the file is never ahead of the store)."""
        self.store_cursor(fence)
        if self._consumed is not None or not self._detector.built:
            return None
        return self._detector.save(self._cursor())

    def save_due(self, every_s: float, rows: int = 1) -> bool:
        """Whether the index file is due to be written again (:meth:`Detector.save_due`)."""
        return self._detector.built and self._detector.save_due(self._cursor(), every_s, rows)

    def _cursor(self) -> int:
        # Read once, then kept: only this hub's commits move it while it detects (another
        # process's would have needed the lease, and taking it back rebuilds: rebuild).
        stored = self._stored_cursor
        if stored is None:
            stored = self._stored_cursor = self._store.detector_cursor()
        return stored if self._consumed is None else max(stored, self._consumed)

    def process(self, limit: int | None = None, fence: int | None = None) -> ProcessReport:
        """See :meth:`deconflict.hub.Hub.process`."""
        if not self._detector.built:  # the first pass: the index and the cursor read together
            self.rebuild()
        report = ProcessReport()
        count = 0
        while True:
            changes = self._store.changes_after(self._cursor(), limit)
            if not changes:
                self._store_consumed(fence)
                break
            count += len(changes)
            self._process(changes, report, fence)
            if limit is not None:
                break
        return replace(report, changes=count, detected=self._cursor())

    def _store_consumed(self, fence: int | None) -> None:
        """Store the cursor moved past rows with no outputs, once ``_CURSOR_EVERY_S`` passed."""
        if time.monotonic() - self._cursor_stored_at >= _CURSOR_EVERY_S:
            self.store_cursor(fence)

    def store_cursor(self, fence: int | None = None) -> None:
        """See :meth:`deconflict.hub.Hub.store_cursor`."""
        if self._consumed is None:
            return
        try:
            self._store.commit_detections([Detection(self._consumed, self._clock.now())], fence)
            self._stored_cursor = self._consumed
        except Exception:
            self.rebuild()
            raise
        self._consumed = None
        self._cursor_stored_at = time.monotonic()

    def _process(self, changes: Sequence[Change], report: ProcessReport, fence: int | None) -> None:
        """Detect over ``changes`` and commit the detections; if a commit fails, the index
        (which ran ahead) is rebuilt from the store. Detection reads outside any write
        transaction (the rows and the records they name are committed and never change), and
        the detections are written together at the end (one short transaction, a few
        statements for the batch; a row whose detection reads what earlier rows found reads
        them from the detector: :meth:`Detector.begin_pass`): so the write lock (SQLite's) or
        the log mutex (PostgreSQL's), which the other serve workers' filings need too, is held
        only while the outputs are written, not while they are computed. The commit stores the
        cursor with the detections, fenced by the lease.

        A batch with no outputs at all, of rows a delivery or a detection appended, moves the
        stored cursor at most every ``_CURSOR_EVERY_S``; meanwhile it moves only here, so such
        passes cost no commit. Nothing depends on it: after a restart, or in the process that
        takes the lease over, those rows are read again and give nothing again."""
        found = ProcessReport()
        pending: list[Detection] = []
        now = self._pass_time()  # one time for the pass (see _unlinked)
        names: dict[int, str] = {}  # each detection's change, by what it changed
        try:
            self._detector.read_ahead(changes)
            self._detector.begin_pass()  # one commit for the pass, at its end
            for change in changes:
                if change.entity == "agreement":  # possibly added by another hub process
                    self._agreements[:] = self._store.list_agreements()
                detection = self._detector.detect(change, now)
                if (
                    detection.new_conflicts
                    or detection.resolved_conflicts
                    or detection.notifications
                ):
                    pending.append(detection)
                    names[change.seq] = f"{change.kind}/{change.entity_id}/{change.version}"
                    found.new_conflicts.extend(detection.new_conflicts)
                    found.resolved_conflicts.extend(detection.resolved_conflicts)
                    found.notifications.extend(detection.notifications)
            last = changes[-1].seq  # rows with no outputs only move the cursor
            if not pending and time.monotonic() - self._cursor_stored_at < _CURSOR_EVERY_S:
                self._consumed, self._consumed_fence = last, fence
            else:
                if not pending or pending[-1].seq != last:
                    pending.append(Detection(last, now))
                self._store.commit_detections(self._unlinked(pending, now, names), fence)
                self._stored_cursor = pending[-1].seq
                if found.new_conflicts or found.notifications:  # as the store's time moves
                    self._floor_s = now  # the next pass that tells comes after this one
                self._consumed = None
                self._cursor_stored_at = time.monotonic()
        except Exception:
            self.rebuild()  # the index ran ahead of the store: bring it back
            raise
        finally:
            self._detector.read_ahead(())
            self._detector.end_pass()
        report.new_conflicts.extend(found.new_conflicts)
        report.resolved_conflicts.extend(found.resolved_conflicts)
        report.notifications.extend(found.notifications)

    def _pass_time(self) -> float:
        """The clock's time, but strictly after the last pass that told anything: this
        process's, or the store's latest detection (``Store.detector_time``, read once the
        detector was rebuilt: the lease taken). Notifications are then created in the order
        they are committed, each pass's after the last's, and a reader paging by (creation
        time, id) never passes one still to come: passes that shared a time ordered their
        notifications by their keyed ids, and a relay's stream and a webhook skipped those of
        the later pass that sorted first (a holder whose clock was behind the last one's, or
        a clock stepped back: security.md §4.2). Passes that tell nothing do not move the
        floor (their times are not read by anyone)."""
        now = self._clock.now()
        if self._floor_s is None:
            stored = self._store.detector_time()
            if stored - now > _BEHIND_TOLD_S:  # an operator should set this host's clock
                log.warning(
                    "this process's clock is %.1f s behind the last detection's: it detects "
                    "just after that time until its clock catches up",
                    stored - now,
                )
            self._floor_s = stored
        return max(now, self._floor_s + _AFTER_S)

    def _unlinked(
        self, detections: list[Detection], now: float, names: dict[int, str]
    ) -> list[Detection]:
        """``detections`` in the order their entries are written: keyed by the hub's secret,
        the pass's time and what each change changed (``names``, by change-log position; not
        the position, which another's change moves: :mod:`~deconflict.ledger.unlinked`), each
        one's conflicts and notifications by their ids (keyed digests). In the change log's
        order, or each change read at its own time, a party's own conflicts placed another's
        hidden filing among its own, and timed the work between (a private plan's size): a
        fourteenth reader. A conflict found and resolved in one pass has its resolution
        written after it (``store.detections``)."""
        key = self._detector.id_key
        ordered = unlinked(key, now, detections, lambda d: names.get(d.seq, ""))
        return [
            replace(
                d,
                new_conflicts=sorted(d.new_conflicts, key=_conflict_id),
                resolved_conflicts=sorted(d.resolved_conflicts, key=_conflict_id),
                notifications=sorted(d.notifications, key=_notification_id),
            )
            for d in ordered
        ]
