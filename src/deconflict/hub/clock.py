"""Clocks: where the hub gets "now" from, so a scenario can run in simulated time.

Times are seconds since the Unix epoch, UTC, as floats everywhere in deconflict.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Protocol

from deconflict.errors import InvalidInput

__all__ = ["Clock", "HeldClock", "SimulatedClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch, UTC."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> float:
        return time.time()


class SimulatedClock:
    """A clock that stands still until it is set or advanced; it never goes backwards."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now = self._check(start_s, "start_s")

    @staticmethod
    def _check(value: object, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{what} must be a number of seconds, got {value!r}")
        if not math.isfinite(value):
            raise InvalidInput(f"{what} must be finite, got {value!r}")
        return float(value)

    def now(self) -> float:
        return self._now

    def set(self, at_s: float) -> None:
        at = self._check(at_s, "at_s")
        if at < self._now:
            raise InvalidInput(f"the clock cannot go back from {self._now:g} to {at:g}")
        self._now = at

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0); returns the new time."""
        step = self._check(seconds, "seconds")
        if step < 0:
            raise InvalidInput(f"the clock cannot go back ({step:g} s)")
        self._now += step
        return self._now


class HeldClock:
    """Reads ``clock``, or one reading of it held for a group of writes (:meth:`held`): each
    write of a group read the clock anew, so the times of a party's own writes in the group
    timed the others' written between them (a hidden notice's size: a fourteenth reader)."""

    def __init__(self, clock: Clock) -> None:
        self.inner = clock
        self._held: float | None = None

    def now(self) -> float:
        return self.inner.now() if self._held is None else self._held

    @contextlib.contextmanager
    def held(self) -> Iterator[float]:
        """One time for everything done meanwhile (nested: the outer one's)."""
        if self._held is not None:
            yield self._held
            return
        self._held = self.inner.now()
        try:
            yield self._held
        finally:
            self._held = None
