"""Clocks: where the hub gets "now" from, so a scenario can run in simulated time.

Times are seconds since the Unix epoch, UTC, as floats everywhere in deconflict.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from deconflict.errors import InvalidInput

__all__ = ["Clock", "SimulatedClock", "SystemClock"]


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
