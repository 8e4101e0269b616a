"""What the event streams sent, marked delivered in batches, after it was sent.

A stream reads its party's new notifications (a read: no write lock, no commit) and sends them;
the ids it sent, with when, go to this process's :class:`DeliveryMarks`, which writes them every
``every_s`` in one transaction (one ledger entry per notification), on the runner's second
thread (``HubRunner.run_beside``), not the hub thread the filings queue on. So delivery costs a
stream no write of its own, and many streams' deliveries share a commit.

Marked after sending, never before: a notification is marked delivered only once it was handed
to the connection. If the process dies first, the mark is lost and the notification is sent
again (with the same event id) on the party's next stream, so every one arrives at least once.
A stream started with ``once`` waits for its marks (:meth:`DeliveryMarks.flush`) before it ends,
so the next such request does not get them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from deconflict.api.runner import HubRunner
from deconflict.hub import Hub

__all__ = ["DeliveryMarks"]

log = logging.getLogger("deconflict.api")
_MOST_WAIT_S = 5.0  # the longest wait between tries after failures


class DeliveryMarks:
    """Marks notifications delivered in batches, on ``runner``'s hub."""

    def __init__(self, runner: HubRunner, every_s: float = 0.05) -> None:
        self._runner = runner
        self._every_s = every_s
        self._pending: dict[str, float] = {}  # notification id -> when it was sent
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # binds to a loop at first use, not here

    def add(self, sent: Iterable[tuple[str, float]]) -> None:
        """Mark these (notification id, when sent) delivered at the next batch."""
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
        """Write every mark added so far (after a batch already being written); whether it
        was written. A batch that fails is kept for the next one."""
        async with self._lock:
            items = list(self._pending.items())
            self._pending = {}
            if not items:
                return True

            def mark(hub: Hub) -> int:
                return len(hub.mark_delivered(items))

            try:
                await self._runner.run_beside(mark)
            except Exception:
                log.warning("marking %d notifications delivered failed", len(items), exc_info=True)
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
