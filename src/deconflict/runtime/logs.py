"""Where a serving process's log lines go: standard error, one line each, as written.

The service's own lines are JSON (one per request, and its notes: a lease handover, a detector
process that exited); every part of deconflict logs under the ``deconflict`` logger, so one
handler there sends them all, the ledger's and the store's included.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["log_to_stderr"]

_ROOT = logging.getLogger("deconflict")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to standard error as it is when a line is written, not as it was when the handler
    was made: a program (or a test's capture) that replaces ``sys.stderr`` and closes the old
    one leaves no handler writing to a closed file."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # always the current standard error


def log_to_stderr() -> None:
    """Send deconflict's log lines, INFO and above, to standard error: once in each process of
    ``deconflict serve`` (calling it again adds nothing)."""
    if not any(isinstance(h, _Stderr) for h in _ROOT.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        _ROOT.addHandler(handler)
    _ROOT.setLevel(logging.INFO)
