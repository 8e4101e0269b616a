"""Whether an answer was made behind detection of the caller's writes: what the runner tells
the one answering a party (:mod:`deconflict.runtime.runner`, the API's response header)."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["FRESHNESS", "Freshness"]


class Freshness:
    """What one answer learns of detection: ``behind`` when it was made before the detector
    had passed the calling party's own writes (see :mod:`deconflict.runtime.runner`)."""

    __slots__ = ("behind",)

    def __init__(self) -> None:
        self.behind = False


#: Set by whoever answers a party (the API, once a request) to hear whether its calls were
#: answered behind detection; unset (a command, a test), nothing is said.
FRESHNESS: ContextVar[Freshness | None] = ContextVar("deconflict_freshness", default=None)
