"""The serving process's log lines go to standard error as it is when they are written."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from deconflict.runtime.logs import log_to_stderr


def test_lines_go_to_the_current_stderr_even_after_the_old_one_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test's capture (or a program) replaces standard error and closes the old one: a
    handler bound to the old one wrote "--- Logging error ---" with a traceback instead."""
    root = logging.getLogger("deconflict")
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    log_to_stderr()
    log_to_stderr()  # once is enough: a second call adds nothing
    assert len(root.handlers) == 1
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("deconflict.ledger").info('{"event": "x"}')
    assert second.getvalue() == '{"event": "x"}\n'
