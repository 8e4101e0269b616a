"""A thread beside the hub thread with a hub of its own (``runtime.side_hub``): opened at its
first job, closed on its own thread, and never opened again once closing began."""

from __future__ import annotations

import asyncio
import threading

import pytest

from deconflict.runtime.side_hub import SideHub

pytestmark = pytest.mark.anyio


class _Hub:
    """Stands for a Hub: what matters here is when it is opened and closed; its close says
    it began (``closing``) and waits for ``gate`` (at most 10 s) if given."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.closed = False
        self.closing = threading.Event()
        self._gate = gate

    def close(self) -> None:
        self.closing.set()
        if self._gate is not None:
            self._gate.wait(10.0)
        self.closed = True


async def test_a_job_sent_while_the_side_hub_closes_opens_no_hub() -> None:
    """A read sent as the service stops, after the hub beside was closed but before its
    thread ended, reopened a hub (and its store connections) that nothing closed (found by a
    second reader): it is refused instead, and the one hub opened is closed."""
    opened: list[_Hub] = []
    gate = threading.Event()

    def factory() -> _Hub:
        opened.append(_Hub(gate))
        return opened[-1]

    side = SideHub(factory, "test-side")  # type: ignore[arg-type]
    assert await side.run(lambda hub: hub) is opened[0]
    closing = asyncio.ensure_future(side.close())
    try:
        assert await asyncio.to_thread(opened[0].closing.wait, 10.0)  # close() is under way
        with pytest.raises(RuntimeError, match="stopping"):
            await side.run(lambda hub: hub)
    finally:
        gate.set()
        await closing
    assert len(opened) == 1
    assert opened[0].closed


async def test_a_side_hub_never_used_opens_none() -> None:
    """Closing a side hub that ran nothing opens no hub only to close it."""
    opened: list[_Hub] = []
    side = SideHub(lambda: opened.append(_Hub()) or opened[-1], "test-side")  # type: ignore[arg-type,func-returns-value]
    await side.close()
    assert opened == []


async def test_a_side_hub_closed_twice_closes_once() -> None:
    """The runner closes its side hubs whatever failed before, so one may be closed again:
    the second close does nothing (it raised, and left the next side hub open)."""
    opened: list[_Hub] = []

    def factory() -> _Hub:
        opened.append(_Hub())
        return opened[-1]

    side = SideHub(factory, "test-side")  # type: ignore[arg-type]
    await side.run(lambda hub: hub)
    await side.close()
    await side.close()
    assert [hub.closed for hub in opened] == [True]
