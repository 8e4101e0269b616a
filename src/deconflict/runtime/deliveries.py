"""What the event streams sent, queued to be marked delivered, in batches, after it was sent.

A stream reads its party's new notifications (a read: no write lock, no commit) and sends them;
the ids it sent, with when, go to this process's :class:`DeliveryMarks`, which queues them in the
database every ``every_s`` (``Hub.queue_deliveries``: one insert, sent as a grouped write, so it
shares the commit of the filings waiting on the hub thread). The process that holds the detector
lease marks the queued ones delivered (one ledger entry per recipient and relay) after its detector
passes (``HubRunner._mark_sent``), so that work is done beside detection, not in the HTTP
workers. So delivery costs a stream no transaction of its own.

Queued after sending, never before: a notification is queued only once it was handed to the
connection. If the process dies first, the queue row is lost and the notification is sent again
(with the same event id) on the party's next stream, so every one arrives at least once. A
queued notification is not sent again by a new stream (``Store.undelivered_after`` leaves it out).
A stream started with ``once`` waits for its batch to be queued (:meth:`DeliveryMarks.flush`)
before it ends, so the next such request does not get them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from deconflict.errors import WritesRefused
from deconflict.hub import Hub
from deconflict.runtime.runner import HubRunner

__all__ = ["DeliveryMarks"]

log = logging.getLogger("deconflict.runtime")
_MOST_WAIT_S = 5.0  # the longest wait between tries after failures


class DeliveryMarks:
    """Queues what the streams sent, in batches, on ``runner``'s hub."""

    def __init__(self, runner: HubRunner, every_s: float = 0.05) -> None:
        self._runner = runner
        self._every_s = every_s
        self._pending: dict[str, float] = {}  # notification id -> when it was sent
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # binds to a loop at first use, not here

    def add(self, sent: Iterable[tuple[str, float]]) -> None:
        """Queue these (notification id, when sent) with the next batch."""
        for notification_id, at_s in sent:
            self._pending.setdefault(notification_id, at_s)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        failures = 0
        while self._pending:
            await asyncio.sleep(min(self._every_s * 2**failures, _MOST_WAIT_S))
            failures = 0 if await self.flush() else failures + 1

    async def flush(self) -> bool:
        """Queue every one added so far (after a batch already being written); whether it was
        written. A batch that fails is kept for the next one."""
        async with self._lock:
            items = list(self._pending.items())
            self._pending = {}
            if not items:
                return True

            def queue(hub: Hub) -> None:
                hub.queue_deliveries(items)

            try:
                await self._runner.run_write(queue, party=None, group=True, detects=False)
            except Exception as error:
                if isinstance(error, WritesRefused):  # a full disk: it says what, no trace
                    log.warning("queueing %d notifications sent waits: %s", len(items), error)
                else:
                    log.warning("queueing %d notifications sent failed", len(items), exc_info=True)
                for notification_id, at_s in items:  # again with the next batch
                    self._pending.setdefault(notification_id, at_s)
                return False
            return True

    async def stop(self) -> None:
        """Write what is left (before the hub stops)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()  # a failure is logged; the party's next stream sends them again
