"""The one thread that owns the Hub: every hub call of the service runs there, in order.

The Hub (and its SQLite connection) is not thread-safe, so the service keeps it on one worker
thread and sends it work through a queue (a one-thread executor): writes are serialised, and reads
share the same thread for now. After every write the detector runs (``process()``), and a
background loop runs ``process()`` every ``interval_s`` and ``tick()`` about once a second, so
notices become notifications promptly. Waiters on :meth:`HubRunner.changed` (the event streams)
wake up whenever a run produced notifications or changed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from deconflict.hub import Hub

__all__ = ["HubRunner"]

T = TypeVar("T")
log = logging.getLogger("deconflict.api")


class HubRunner:
    """Owns one Hub on one thread; ``await run(fn)`` calls ``fn(hub)`` there."""

    def __init__(self, hub_factory: Callable[[], Hub], interval_s: float = 0.05) -> None:
        self._factory = hub_factory
        self._interval_s = interval_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub")
        self._hub: Hub | None = None
        self._generation = 0
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self.ready = False

    async def start(self) -> None:
        """Open the hub on its thread and start the background detector loop."""
        self._wake = asyncio.Event()
        self._hub = await self._submit(lambda: self._factory())
        await self.run_write(lambda hub: None)
        self._loop_task = asyncio.create_task(self._loop())
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._hub is not None:
            hub = self._hub
            await self._submit(hub.close)
        self._executor.shutdown(wait=True)
        self._signal()

    async def _submit(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _hub_or_fail(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("the hub is not started")
        return self._hub

    async def run(self, fn: Callable[[Hub], T]) -> T:
        """``fn(hub)`` on the hub thread (a read, or a write whose detection may wait)."""
        return await self._submit(lambda: fn(self._hub_or_fail()))

    async def run_write(self, fn: Callable[[Hub], T]) -> T:
        """``fn(hub)`` then the detector, in one turn of the hub thread; wakes the streams."""

        def job() -> tuple[T, bool]:
            hub = self._hub_or_fail()
            result = fn(hub)
            return result, self._settle(hub, tick=False)

        result, _ = await self._submit(job)
        self._signal()
        return result

    def _settle_now(self, tick: bool) -> bool:
        return self._settle(self._hub_or_fail(), tick)

    @staticmethod
    def _settle(hub: Hub, tick: bool = True) -> bool:
        changed = False
        if tick:
            ticked = hub.tick()
            changed = bool(ticked.escalated or ticked.activated or ticked.ended)
        return bool(hub.process().notifications) or changed

    def wake(self) -> None:
        """Wake the waiters (the streams and the webhook sender) now."""
        self._signal()

    def _signal(self) -> None:
        self._generation += 1
        if self._wake is not None:
            self._wake.set()
            self._wake = asyncio.Event()

    @property
    def generation(self) -> int:
        """Counts wake-ups; pass it to :meth:`changed` to miss none between a read and a wait."""
        return self._generation

    async def changed(self, timeout_s: float, since: int | None = None) -> None:
        """Wait until the next write or detector run that changed something (or the timeout);
        at once if there was one after generation ``since``."""
        if since is not None and since != self._generation:
            return
        wake = self._wake
        if wake is None:
            await asyncio.sleep(timeout_s)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout_s)

    async def _loop(self) -> None:
        turns = 0
        while True:
            await asyncio.sleep(self._interval_s)
            turns += 1
            tick = turns % 20 == 0  # the clock-driven checks scan every notice: about once a second
            try:
                changed = await self._submit(partial(self._settle_now, tick))
            except Exception:  # keep detecting; the next turn retries from the change log
                log.exception("background detection failed")
                continue
            if changed:
                self._signal()
