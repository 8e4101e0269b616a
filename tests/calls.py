"""Counting the calls of a method, for tests that check how often something is done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def counted(owner: Any, name: str, monkeypatch: pytest.MonkeyPatch | None = None) -> list[None]:
    """A list that grows by one at each call of ``owner.name`` (which still runs). Pass the
    test's ``monkeypatch`` when ``owner`` outlives the test (a class): set without it, the
    counting stays for every later test of the process, one more layer each time."""
    calls: list[None] = []
    real: Callable[..., Any] = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return real(*args, **kwargs)

    if monkeypatch is None:
        setattr(owner, name, counting)
    else:
        monkeypatch.setattr(owner, name, counting)
    return calls
