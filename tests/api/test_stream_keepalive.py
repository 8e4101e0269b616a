"""security.md §3.8, found by a ninth reader: a stream's keep-alive came 15 s after the hub's
last wake-up, so any other party's write moved it, a private plan's too (which grows no shared
log): a party with no agreement timed the others' writes by its keep-alives. A keep-alive is
now due 15 s after the connection last sent anything, whatever wakes it meanwhile.

Computed, not waited for: the stream runs against a stand-in for the service whose runner
wakes it at given times of a clock the test holds (the stream's own clock is that one)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import deconflict.api.stream as stream_module
from deconflict.api.stream import event_stream


class _EmptyHub:
    """A hub with no notifications, as a stream's reads ask it."""

    def __init__(self) -> None:
        self.store = SimpleNamespace(
            in_snapshot=lambda read, doing: read(),
            notifications_after=lambda party, after, limit: [],
        )
        self.clock = SimpleNamespace(now=lambda: 0.0)

    def undelivered_after(self, party: str, after: object, limit: int) -> list[object]:
        return []


_EMPTY_HUB = _EmptyHub()


class _Runner:
    """A runner that has nothing for the party, and wakes at ``writes`` (others' writes)."""

    def __init__(self, clock: list[float], writes: list[float]) -> None:
        self.clock, self.writes, self.generation, self.ready = clock, sorted(writes), 0, True

    async def settle(self, party: str) -> None:
        return None

    async def run_beside(self, read: Any) -> Any:
        return read(_EMPTY_HUB)

    async def changed(self, timeout_s: float, since: int | None = None) -> None:
        if since is not None and since != self.generation:
            return
        until = self.clock[0] + timeout_s
        if self.writes and self.writes[0] <= until:
            self.clock[0] = self.writes.pop(0)
            self.generation += 1
        else:
            self.clock[0] = until


def _keepalives(writes: list[float], monkeypatch: Any, count: int = 4) -> list[float]:
    clock = [0.0]
    monkeypatch.setattr(stream_module, "_monotonic", lambda: clock[0], raising=False)
    svc = SimpleNamespace(
        runner=_Runner(clock, writes),
        closing=False,
        metrics=SimpleNamespace(events=SimpleNamespace(inc=lambda n: None)),
        deliveries=SimpleNamespace(add=lambda sent: None),
    )

    async def disconnected() -> bool:
        return False

    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(service=svc)))
    request.is_disconnected = disconnected

    async def run() -> list[float]:
        at: list[float] = []
        sent = event_stream(request, "FR", None)  # type: ignore[arg-type]
        async for chunk in sent:
            if chunk == b": keep-alive\n\n":
                at.append(clock[0])
                if len(at) == count:
                    break
        await sent.aclose()
        return at

    return asyncio.run(run())


def test_a_keep_alive_is_timed_on_its_connection_alone(monkeypatch):
    quiet = _keepalives([], monkeypatch)
    written = _keepalives([5.2, 17.0, 29.9, 31.0, 44.5], monkeypatch)
    assert quiet == [15.0, 30.0, 45.0, 60.0]
    assert written == quiet
