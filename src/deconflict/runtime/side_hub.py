"""A thread beside the hub thread with a hub (and store connections) of its own.

The hub thread runs writes, group commits and detection passes, in order. Work that needs
nothing of the detector's state and reads only what is committed need not queue behind them:
it runs on a :class:`SideHub`, a one-thread executor whose hub is opened at its first job and
closed on that thread. The runner keeps one for the event streams and webhooks, and one for the
parties' reads (docs/security.md §3.5, §4.2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from deconflict.hub import Hub

__all__ = ["SideHub"]

T = TypeVar("T")


class SideHub:
    """One thread named ``name`` and the hub ``factory`` opens on it, at its first job."""

    def __init__(self, factory: Callable[[], Hub], name: str) -> None:
        self._factory = factory
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._hub: Hub | None = None
        self._closing = False  # set on the event loop: no job opens a hub from then on

    async def run(self, fn: Callable[[Hub], T]) -> T:
        """``fn(hub)`` on this thread, after the jobs sent before it; RuntimeError once
        :meth:`close` was called (the service is stopping)."""

        def job() -> T:
            if self._hub is None:
                if self._closing:
                    raise RuntimeError("the hub is stopping")
                self._hub = self._factory()
            return fn(self._hub)

        if self._closing:
            raise RuntimeError("the hub is stopping")
        return await asyncio.get_running_loop().run_in_executor(self._thread, job)

    async def close(self) -> None:
        """Close the hub on its own thread (its SQLite connections are that thread's) once the
        jobs sent before have run, and end the thread; a job sent meanwhile opens none. Once:
        a second call does nothing."""
        if self._closing:
            return
        self._closing = True

        def close() -> None:
            hub, self._hub = self._hub, None
            if hub is not None:
                hub.close()

        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, close)
        finally:
            await loop.run_in_executor(None, self._thread.shutdown)
