"""security.md §4.3: the webhook resolver's threads are shared, and a lookup's wait is bounded
but the lookup is not: a party's own nameserver that never answers keeps a thread until the
system gives up (tens of seconds). A thirty-sixth reader found that such lookups, asked again as
the party restarted its lane, took every thread, and every other receiver's new connection then
found no address and failed. Each party's lookups now run at most so many at a time, counted
until they truly end; the others wait their turn (refused, they failed an honest party's
concurrent deliveries: a thirty-seventh reader). The system's ``getaddrinfo`` is stood in for,
and its stuck lookups released, by events: nothing here waits on the clock."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading

import pytest

from deconflict.runtime.webhooks import net
from deconflict.runtime.webhooks.guard import Destinations
from deconflict.runtime.webhooks.net import SystemResolver

PUBLIC = "93.184.216.34"


class _Names:
    """``getaddrinfo`` for the test: ``silent.*`` names hang until released (a nameserver that
    never answers), the others answer at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.stuck = threading.Semaphore(0)  # one release per silent lookup begun
        self.gate = threading.Event()  # ``gated.*`` names answer once it is set
        self.asked: list[str] = []

    def __call__(self, host: str, port: int, *_: object) -> list[tuple]:  # type: ignore[type-arg]
        self.asked.append(host)
        if host.startswith("silent."):
            self.stuck.release()
            self.release.wait(60.0)
            raise socket.gaierror("no answer")
        if host.startswith("gated."):
            self.stuck.release()
            self.gate.wait(60.0)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))]


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch):
    found = _Names()
    monkeypatch.setattr(net.socket, "getaddrinfo", found)
    yield found
    found.release.set()
    found.gate.set()


async def _abandoned(lookup, names: _Names) -> None:  # type: ignore[no-untyped-def]
    """A silent name's lookup, running on a thread, whose caller then gave up (its wait cut
    short, as the resolver's timeout cuts it): the thread is the system's until it ends."""
    task = asyncio.ensure_future(lookup)
    assert await asyncio.to_thread(names.stuck.acquire, True, 30.0)  # running, not queued
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_party_s_silent_names_hold_its_share_of_the_threads_not_all(names) -> None:
    """X's abandoned lookups of silent names hold two threads of four; X's next waits its turn
    without a thread, while Y's name resolves at once on the threads left; once the system gives
    up on the silent names, X's turn comes."""
    resolver = SystemResolver(threads=4, timeout_s=30.0, per_party=2)

    async def run() -> None:
        x, y = resolver.for_party("X"), resolver.for_party("Y")
        for k in range(2):
            await _abandoned(x(f"silent.{k}.example", 443), names)
        waiting = asyncio.ensure_future(x("hook.example", 443))
        assert await y("hook.example", 443) == [ipaddress.ip_address(PUBLIC)]
        assert await resolver("hook.example", 443) == [ipaddress.ip_address(PUBLIC)]
        assert not waiting.done()
        assert names.asked.count("hook.example") == 2  # Y's and the unkeyed one: not X's
        names.release.set()  # the system gives up on the silent names
        assert await waiting == [ipaddress.ip_address(PUBLIC)]

    try:
        asyncio.run(run())
    finally:
        names.release.set()
        resolver.close()


def test_an_honest_party_s_concurrent_lookups_all_resolve(names) -> None:
    """Four deliveries opening connections at once (a receiver's requests in flight) are
    looked up two at a time, and all four resolve."""
    resolver = SystemResolver(threads=4, timeout_s=30.0, per_party=2)

    async def run() -> None:
        x = resolver.for_party("X")
        lookups = asyncio.gather(*(x("gated.example", 443) for _ in range(4)))
        for _ in range(2):
            assert await asyncio.to_thread(names.stuck.acquire, True, 30.0)
        assert names.asked == ["gated.example"] * 2  # two at a time: the others wait
        names.gate.set()
        assert await lookups == [[ipaddress.ip_address(PUBLIC)]] * 4

    try:
        asyncio.run(run())
    finally:
        resolver.close()


def test_a_closed_resolver_finds_nothing_and_keeps_no_turn(names) -> None:
    resolver = SystemResolver(threads=1, timeout_s=30.0, per_party=1)
    resolver.close()

    async def run() -> None:
        x = resolver.for_party("X")
        assert await x("hook.example", 443) == []
        assert await x("hook.example", 443) == []  # its turn was given back

    asyncio.run(run())


def test_destinations_look_names_up_as_the_party_s() -> None:
    """The registry's check and each lane's connections resolve on the party's share; a
    resolver with no shares (a test's, an operator's) is used as it is."""
    resolver = SystemResolver(threads=2)
    try:
        keyed = Destinations(resolver).for_party("X")
        assert keyed.resolve.keywords == {"party": "X"}  # type: ignore[attr-defined]

        async def plain(host: str, port: int) -> list[ipaddress.IPv4Address]:
            return []

        unkeyed = Destinations(plain)
        assert unkeyed.for_party("X") is unkeyed
    finally:
        resolver.close()
