"""security.md §4.3: a webhook's name is looked up by c-ares on the event loop, so a name whose
nameserver never answers holds a query, not a thread. The system's ``getaddrinfo`` held one of a
few threads until the system gave up (tens of seconds): a party's silent names, asked again as it
restarted its lane, took every thread and every other receiver's new connections found no address
(a thirty-sixth reader); a share of the threads a party isolated it from fewer than eight such
parties at once. Each party's lookups still run a few at a time, the others waiting their turn
(refused, they failed an honest party's concurrent deliveries: a thirty-seventh reader).

The nameserver here is a real one on loopback that answers every name with a public address but
never answers ``silent.*`` names, and holds ``gated.*`` names until told: nothing waits on the
clock but the one test of the timeout."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from deconflict.runtime.webhooks import net
from deconflict.runtime.webhooks.guard import Destinations
from deconflict.runtime.webhooks.net import DnsResolver

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.216.34"
MANY = "93.184.217.{}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Nameserver(asyncio.DatagramProtocol):
    """A DNS server on loopback: an A record of ``PUBLIC`` for every name (no AAAA), none ever
    for ``silent.*``, and ``gated.*`` answered once :meth:`open_gate` is called. ``asked``: the
    names asked, each once."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.times: dict[str, int] = {}  # how many queries each name came in
        self.changed = asyncio.Event()
        self._held: list[tuple[bytes, tuple[str, int]]] = []
        self._open = False
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:  # type: ignore[override]
        self._transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        name, end = _question(data)
        if struct.unpack(">H", data[end - 4 : end - 2])[0] == 1:  # its A query
            self.times[name] = self.times.get(name, 0) + 1
        if name not in self.asked:
            self.asked.append(name)
            self.changed.set()
        if name.startswith("silent."):
            return
        if name.startswith("gated.") and not self._open:
            self._held.append((data, addr))
            return
        self._answer(data, addr)

    def open_gate(self) -> None:
        self._open = True
        held, self._held = self._held, []
        for data, addr in held:
            self._answer(data, addr)

    def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        _, end = _question(data)
        qid, qtype = (
            struct.unpack(">H", data[:2])[0],
            struct.unpack(">H", data[end - 4 : end - 2])[0],
        )
        name, _ = _question(data)
        # A: the name (a pointer to the question's), IN, a minute, 4 bytes; ``many.*`` 36
        # addresses, each twice
        addresses = (
            [MANY.format(k % 36) for k in range(72)] if name.startswith("many.") else [PUBLIC]
        )
        records = [
            b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(address)
            for address in (addresses if qtype == 1 else [])
        ]
        answer = b"".join(records)
        header = struct.pack(">HHHHHH", qid, 0x8180, 1, len(records), 0, 0)
        assert self._transport is not None
        self._transport.sendto(header + data[12:end] + answer, addr)

    async def asked_at_least(self, count: int, prefix: str) -> None:
        """Until ``count`` names starting with ``prefix`` were asked."""
        while sum(name.startswith(prefix) for name in self.asked) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 30.0)


def _question(data: bytes) -> tuple[str, int]:
    """The name a query asks, and where its question ends (after its type and class)."""
    labels, i = [], 12
    while data[i]:
        labels.append(data[i + 1 : i + 1 + data[i]].decode())
        i += 1 + data[i]
    return ".".join(labels), i + 5


@pytest.fixture
async def nameserver() -> AsyncIterator[tuple[_Nameserver, str]]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(
        _Nameserver, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        yield server, f"127.0.0.1:{port}"
    finally:
        transport.close()


async def _cancelled(tasks: list[asyncio.Future[object]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_many_parties_silent_names_hold_up_no_other_party(nameserver) -> None:
    """Twelve parties (more than the threads' shares isolated) each with four lookups of names
    that never answer, all in flight: another party's name resolves at once meanwhile, and a
    silent party's next lookup waits its turn, unasked."""
    server, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, per_party=4, nameservers=[address])
    silent = [
        asyncio.ensure_future(resolver.for_party(f"X{p}")(f"silent.{p}-{k}.example", 443))
        for p in range(12)
        for k in range(4)
    ]
    waiting = asyncio.ensure_future(resolver.for_party("X0")("hook-x0.example", 443))
    try:
        await server.asked_at_least(48, "silent.")
        assert await resolver.for_party("Y")("hook.example", 443) == [ipaddress.ip_address(PUBLIC)]
        assert await resolver("plain.example", 443) == [ipaddress.ip_address(PUBLIC)]
        assert not any(task.done() for task in [*silent, waiting])
        assert "hook-x0.example" not in server.asked  # X0's turn has not come
    finally:
        await _cancelled([*silent, waiting])
        await resolver.close()


async def test_an_honest_party_s_concurrent_lookups_all_resolve(nameserver) -> None:
    """Four deliveries opening connections at once (a receiver's requests in flight) are
    looked up two at a time, and all four resolve."""
    server, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, per_party=2, nameservers=[address])
    x = resolver.for_party("X")
    try:
        lookups = asyncio.gather(*(x(f"gated.{k}.example", 443) for k in range(4)))
        await server.asked_at_least(2, "gated.")
        assert len([name for name in server.asked if name.startswith("gated.")]) == 2
        server.open_gate()
        assert await lookups == [[ipaddress.ip_address(PUBLIC)]] * 4
    finally:
        await resolver.close()


async def test_a_lookup_past_its_time_finds_nothing_and_its_turn_comes_back(nameserver) -> None:
    """The caller of a silent name stops waiting at the timeout; the party's turn is held until
    c-ares ends the query (counted until it truly ends), then comes back: its next name
    resolves."""
    _, address = nameserver
    resolver = DnsResolver(timeout_s=0.2, per_party=1, nameservers=[address])
    x = resolver.for_party("X")

    async def resolved() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        while not (found := await x("hook.example", 443)):
            pass  # each try waits its turn for the timeout at most
        return found

    try:
        assert await x("silent.example", 443) == []
        assert await asyncio.wait_for(resolved(), 30.0) == [ipaddress.ip_address(PUBLIC)]
    finally:
        await resolver.close()


async def test_a_lookup_c_ares_refuses_gives_its_turn_back() -> None:
    """A lookup that does not start (c-ares refuses the channel: no nameserver it can use)
    finds nothing and keeps no turn: the party's next lookup is not locked out (a fortieth
    reader: each such lookup kept its party's turn for good)."""
    resolver = DnsResolver(timeout_s=30.0, per_party=1, nameservers=["bogus!!"])
    x = resolver.for_party("X")
    try:
        for _ in range(3):
            assert await asyncio.wait_for(x("hook.example", 443), 10.0) == []
    finally:
        await resolver.close()


async def test_the_hosts_file_and_addresses_are_read_short_forms_are_names(nameserver) -> None:
    """``localhost`` is read from ``/etc/hosts``, an address is itself; the short forms of an
    address that ``inet_aton`` reads are names, asked of the nameserver, never read as the
    address (loopback, for these: the guard refuses a URL written so before it looks up)."""
    _, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, nameservers=[address])
    try:
        assert ipaddress.ip_address("127.0.0.1") in await resolver("localhost", 443)
        assert await resolver("::1", 443) == [ipaddress.ip_address("::1")]
        assert await resolver("192.0.2.7", 443) == [ipaddress.ip_address("192.0.2.7")]
        for short in ("127.1", "2130706433", "0x7f000001"):  # names, asked of the nameserver
            assert await resolver(short, 443) == [ipaddress.ip_address(PUBLIC)], short
    finally:
        await resolver.close()


async def test_a_closed_resolver_finds_nothing(nameserver) -> None:
    _, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, per_party=1, nameservers=[address])
    assert await resolver("hook.example", 443) == [ipaddress.ip_address(PUBLIC)]
    await resolver.close()
    x = resolver.for_party("X")
    assert await x("hook.example", 443) == []
    assert await x("hook.example", 443) == []


async def test_destinations_look_names_up_as_the_party_s() -> None:
    """The registry's check and each lane's connections resolve on the party's turns; a
    resolver with no turns (a test's, an operator's) is used as it is."""
    resolver = DnsResolver()
    keyed = Destinations(resolver).for_party("X")
    assert keyed.resolve.keywords == {"party": "X"}  # type: ignore[attr-defined]

    async def plain(host: str, port: int) -> list[ipaddress.IPv4Address]:
        return []

    unkeyed = Destinations(plain)
    assert unkeyed.for_party("X") is unkeyed
    await resolver.close()


async def test_a_name_s_many_addresses_are_kept_to_a_few_each_once(nameserver) -> None:
    """A party's name may answer thousands of addresses, each checked and tried on the event
    loop (4,000 held it half a second a lookup, deduplicated in a list: a thirty-ninth reader):
    each is kept once, the first ``MOST_ADDRESSES`` of them."""
    _, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, nameservers=[address])
    try:
        found = await resolver("many.example", 443)
        assert len(found) == len(set(found)) == net.MOST_ADDRESSES
        assert set(found) <= {ipaddress.ip_address(MANY.format(k)) for k in range(36)}
    finally:
        await resolver.close()


async def test_a_channel_and_the_answers_it_keeps_are_let_go(nameserver) -> None:
    """c-ares keeps every answer, for up to an hour and with no bound on their number: a
    party's fresh names with thousands of records each would fill the process (a thirty-ninth
    reader). A name asked again is answered from what the channel keeps, and once the channel
    made ``CHANNEL_LOOKUPS`` lookups the next starts a new one, which asks the nameserver."""
    server, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, nameservers=[address])
    try:
        for _ in range(2):
            assert await resolver("kept.example", 443) == [ipaddress.ip_address(PUBLIC)]
        assert server.times["kept.example"] == 1  # the second from the channel's answers
        for k in range(net.CHANNEL_LOOKUPS):
            await resolver(f"other.{k}.example", 443)
        assert await resolver("kept.example", 443) == [ipaddress.ip_address(PUBLIC)]
        assert server.times["kept.example"] == 2
    finally:
        await resolver.close()


async def test_a_lookup_waiting_its_turn_when_the_resolver_closes_asks_nothing(nameserver) -> None:
    server, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, per_party=1, nameservers=[address])
    x = resolver.for_party("X")
    first = asyncio.ensure_future(x("gated.first.example", 443))
    waiting = asyncio.ensure_future(x("second.example", 443))
    await server.asked_at_least(1, "gated.")
    await resolver.close()
    assert await first == []
    assert await waiting == []
    assert "second.example" not in server.asked


async def test_a_lookup_on_a_channel_let_go_finds_nothing_once_closed(nameserver) -> None:
    """A lookup still running on a channel let go (after ``CHANNEL_LOOKUPS``) when the resolver
    closes is cancelled with it (a fortieth reader: it answered after close)."""
    server, address = nameserver
    resolver = DnsResolver(timeout_s=30.0, nameservers=[address])
    held = asyncio.ensure_future(resolver("gated.held.example", 443))
    await server.asked_at_least(1, "gated.")
    for k in range(net.CHANNEL_LOOKUPS):  # the last on a new channel
        await resolver(f"other.{k}.example", 443)
    await resolver.close()
    server.open_gate()
    assert await held == []
