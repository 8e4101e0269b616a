"""What time moves: notices started and ended, notifications escalated, the ledger signed.

The hub's tick (``Hub.tick``) runs :class:`Ticker`. What it writes at one time it writes in an
order keyed by a secret of the hub's and that time (:mod:`deconflict.ledger.unlinked`): in filing
order, a party's own entries of a tick placed another's hidden notice among them, and linked its
filing to its start or its end (docs/security.md §3.4). The digests of the parties' private
entries withhold from each what it is not told (:meth:`Ticker.withheld`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from deconflict.errors import LedgerBroken
from deconflict.hub.clock import Clock
from deconflict.hub.ledger import HubLedger
from deconflict.hub.reports import TickReport
from deconflict.ledger.unlinked import unlinked
from deconflict.model import Agreement, Notice, NoticeState, Notification, NotificationState
from deconflict.policy import need_to_know
from deconflict.store import Conflicts, Notices, Notifications
from deconflict.store.ledger_base import PrivatePending

__all__ = ["Ticker"]


class _Store(Notices, Notifications, Conflicts, Protocol):
    """What a tick reads and writes: the notices time moves, the notifications it escalates,
    the conflicts whose resolutions a digest may withhold."""


def _id(notification: Notification) -> str:
    return notification.id


class Ticker:
    """Moves ``store``'s notices and notifications along by ``clock``, then has ``ledger``
    digested and signed."""

    def __init__(
        self,
        store: _Store,
        clock: Clock,
        ledger: HubLedger,
        key: bytes,
        agreements: Sequence[Agreement],
    ) -> None:
        """``key``: the hub's secret that orders what a tick writes; ``agreements``: the hub's
        list (kept current by its detector)."""
        self._store = store
        self._clock = clock
        self._ledger = ledger
        self._key = key
        self._agreements = agreements

    def tick(self) -> TickReport:
        """Move notices along by time (filed -> active at their first volume start, -> ended
        at their last volume end) and escalate notifications whose acknowledgement deadline
        passed; then digest and sign the ledger, unless the hub is halted (``ledger.broken``:
        a process on its store found the log no longer extends what it signed): then it signs
        nothing, and the rest goes on (a party is still warned of what the hub already holds,
        safety first)."""
        now = self._clock.now()
        report = TickReport()
        for notice in self._moved_by_time(now):
            current = notice
            if current.state is NoticeState.FILED and now >= current.start_s:
                current = current.activate(now)
                self._store.update_notice(
                    current, expected_version=current.version, verb="activated"
                )
                report.activated.append(current)
            if current.state is NoticeState.ACTIVE and now >= current.end_s:
                current = current.end(now)
                self._store.update_notice(current, expected_version=current.version, verb="ended")
                report.ended.append(current)
        due = self._store.list_notifications(ack_due_by_s=now)
        for notification in unlinked(self._key, now, due, _id):
            if (
                notification.state in (NotificationState.PENDING, NotificationState.DELIVERED)
                and now >= notification.ack_deadline_s
            ):
                escalated = notification.escalate(now)
                self._store.update_notification(escalated, "escalated")
                report.escalated.append(escalated)
        if self._ledger.broken is None:  # else it signs nothing (said once, in each log)
            try:
                self._ledger.check()  # before the digests: nothing appended to a broken log
                self._ledger.digest(self.withheld)  # once a period, each party's private entries
                self._ledger.checkpoint(checked=True)  # at every tick the log has grown
            except LedgerBroken:
                pass  # halted, and logged, by the ledger; the rest of the hub's work goes on
        return report

    def _moved_by_time(self, now: float) -> list[Notice]:
        """The filed notices whose first volume has started and the active ones whose last has
        ended (each checked again by the caller), found by the store's index on the notices'
        time spans: a tick reads what is due, however many notices are live. In an order no
        party can tell."""
        due = unlinked(self._key, now, self._store.notices_moved_by_time(now), str)
        return [self._store.get_notice(key) for key in due]

    def withheld(self, pending: Sequence[PrivatePending]) -> set[int]:
        """Of the private entries (seq, party, type, subject) a digest commits to, those its
        party is not told: the store's resolution of a conflict of its plan that it was not
        shown as it happened (``need_to_know.resolution_told``; shown over when its window as
        told passed, the store resolved it at the end of the other party's notice, maybe at a
        volume the party may not see: security.md §3.6)."""
        out = set()
        for seq, party, kind, subject in pending:
            if kind != "conflict.resolved":
                continue
            conflict = self._store.get_conflict(subject.removeprefix("conflict:"))
            if not need_to_know.resolution_told(self._agreements, conflict, party):
                out.add(seq)
        return out
