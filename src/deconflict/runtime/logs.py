"""Where a serving process's log lines go: standard error, one line each, as written.

The service's own lines are JSON (one per request, and its notes: a lease handover, a detector
process that exited); every part of deconflict logs under the ``deconflict`` logger, so one
handler there sends them all, the ledger's and the store's included.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["log_to_stderr"]

_ROOT = logging.getLogger("deconflict")


def log_to_stderr() -> None:
    """Send deconflict's log lines, INFO and above, to standard error: once in each process of
    ``deconflict serve`` (calling it again adds nothing)."""
    if not any(getattr(h, "deconflict", False) for h in _ROOT.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.deconflict = True  # type: ignore[attr-defined]
        _ROOT.addHandler(handler)
    _ROOT.setLevel(logging.INFO)
