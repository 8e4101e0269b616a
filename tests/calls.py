"""Counting the calls of a method, for tests that check how often something is done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def counted(owner: Any, name: str) -> list[None]:
    """A list that grows by one at each call of ``owner.name`` (which still runs)."""
    calls: list[None] = []
    real: Callable[..., Any] = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return real(*args, **kwargs)

    setattr(owner, name, counting)
    return calls
