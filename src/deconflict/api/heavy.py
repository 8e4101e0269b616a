"""Work heavy in CPU, off the event loop and off the hub thread: a small bounded pool.

Validating a large footprint (densifying it, checking it is simple) and drawing a party's map
(outlines, where two volumes meet) cost up to seconds of CPU for input the hub accepts: on main a
valid 10,000-vertex star polygon took 4-10 s inside the request handler, and the event loop, so
every other party's request, waited for it. Such work runs here instead, on at most ``threads``
threads of this process; what is waiting for a thread waits without holding the event loop or
the hub thread, and the geometry libraries (shapely's GEOS, pyproj) release the interpreter's
lock while they compute, so the loop goes on serving meanwhile. How much one request may ask is
bounded besides: by the footprint limits (``GeoLimits``: vertices, area, points a record) and
the exact stage's budget (``geo.separation.MAX_EDGE_PAIRS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

__all__ = ["HeavyWork"]

T = TypeVar("T")


class HeavyWork:
    """At most ``threads`` heavy jobs of one app at a time, each on a thread of its own."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None  # made in the event loop

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a thread of the pool, once one is free."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
