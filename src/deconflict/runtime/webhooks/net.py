"""The webhook sender's network: every connection goes to an address the guard checked.

httpx connects through httpcore's network backend, one call per new connection with the URL's
host and port. :class:`GuardedBackend` is that backend: it resolves the host once
(:meth:`Destinations.addresses`), refuses the connection unless every address is allowed, and
connects to those addresses, never looking the name up again, so a name rebound to loopback
between the check and the connection (DNS rebinding) reaches nothing it may not. The URL is not
rewritten: the ``Host`` header, the TLS server name and the certificate check are the URL's host,
as httpx and httpcore make them. A reused keep-alive connection goes to the address checked when
it was made.

:func:`guarded_transport` is httpx's own transport with that backend (httpx takes no backend as
an argument, so its connection pool is made again with it: the one private attribute used, on
the pinned httpx). No proxy from the environment (``HTTP_PROXY`` would send every webhook
through it, past the check); no redirect is followed (the client's ``follow_redirects`` stays
False: a 3xx is a failed delivery).

:class:`DnsResolver` looks names up with c-ares (``aiodns``) on the caller's event loop: a
lookup holds a query, not a thread, and c-ares gives up on it within the timeout. The system's
``getaddrinfo`` held a thread of a small pool until the system gave up (tens of seconds), so a
party's own nameserver that never answered, asked again by lane restarts, took every thread,
and every other receiver's new connections failed (a thirty-sixth reader); a share of the
threads a party isolated it from fewer than eight such parties at once. Names are read from
``/etc/hosts`` and the nameservers of ``/etc/resolv.conf``; an address is written as an
address (``127.1``, ``2130706433`` and the other ``inet_aton`` forms resolve to nothing, so
they are refused). Each party's lookups still run at most ``per_party`` at a time, so that one
party's names cannot crowd the resolver; a name's addresses are kept to ``MOST_ADDRESSES``
(thousands, deduplicated in a list, held the event loop for seconds); and a channel is let go
after ``CHANNEL_LOOKUPS`` lookups, with the answers c-ares keeps (a thirty-ninth reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiodns
import httpcore
import httpx
import pycares

from deconflict.runtime.webhooks.guard import Destinations, IPAddress

__all__ = ["DnsResolver", "GuardedBackend", "guarded_transport"]


#: The most addresses kept of a name (the first, in the resolver's order): a party's name may
#: answer thousands, and each is checked and tried on the event loop.
MOST_ADDRESSES = 32
#: The lookups a c-ares channel makes before the next lookup starts a new one: c-ares keeps
#: every answer (up to an hour, no bound on their number), and a party's fresh names with
#: thousands of records each would fill the process; a channel let go takes its answers along.
CHANNEL_LOOKUPS = 64


class _Channel:
    """A c-ares channel, its lookups counted: those made, and those not yet ended."""

    def __init__(self, resolver: aiodns.DNSResolver) -> None:
        self.resolver = resolver
        self.made = 0
        self.running = 0


class DnsResolver:
    """``await resolver(host, port)``: the host's addresses (at most ``MOST_ADDRESSES``),
    looked up by c-ares on the running event loop within ``timeout_s`` (none when it does not
    resolve or takes longer). :meth:`for_party` gives a party's resolver, whose lookups run at
    most ``per_party`` at a time, each counted until c-ares truly ends it (not when its caller
    stops waiting); the others wait their turn within the same ``timeout_s``.
    ``nameservers``: c-ares' (``"address"`` or ``"address:port"``), else the system's."""

    def __init__(
        self,
        timeout_s: float = 5.0,
        per_party: int = 4,
        nameservers: Sequence[str] | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._per_party = per_party
        self._nameservers = list(nameservers) if nameservers is not None else None
        self._channels: dict[asyncio.AbstractEventLoop, _Channel] = {}
        self._retired: set[_Channel] = set()  # let go, a lookup still running on each
        self._closing: set[asyncio.Task[None]] = set()
        self._turns: dict[str, asyncio.Semaphore] = {}  # each party's, made on the loop
        self._closed = False

    def for_party(self, party: str) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
        """The resolver ``party``'s names are looked up with."""
        return partial(self.__call__, party=party)

    async def __call__(self, host: str, port: int, party: str | None = None) -> list[IPAddress]:
        turns = (
            None
            if party is None
            else self._turns.setdefault(party, asyncio.Semaphore(self._per_party))
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                if turns is not None:
                    await turns.acquire()
                lookup = self._start(host, port, turns)
                if lookup is None:
                    return []
                found = await asyncio.shield(lookup)
        except (
            aiodns.error.DNSError,
            pycares.AresError,
            UnicodeError,
            ValueError,
            RuntimeError,
            TimeoutError,
        ):
            return []
        addresses: dict[IPAddress, None] = {}  # in the resolver's order, each once
        for node in found.nodes:
            with contextlib.suppress(ValueError, UnicodeError):
                addresses[ipaddress.ip_address(bytes(node.addr[0]).decode("ascii"))] = None
                if len(addresses) == MOST_ADDRESSES:
                    break
        return list(addresses)

    def _start(
        self, host: str, port: int, turns: asyncio.Semaphore | None
    ) -> asyncio.Future[Any] | None:
        """The lookup, on the running loop's channel, its party's turn (if any) and its count
        on the channel given back when it ends; None once the resolver is closed. The turn is
        given back at once if none starts (closed, or c-ares refused it)."""
        lookup: asyncio.Future[Any] | None = None
        try:
            if not self._closed:
                channel = self._channel()
                lookup = channel.resolver.getaddrinfo(host, port=port, type=socket.SOCK_STREAM)
        finally:
            if lookup is None and turns is not None:
                turns.release()
        if lookup is None:
            return None
        channel.made += 1
        channel.running += 1

        def ended(done: asyncio.Future[Any]) -> None:
            if not done.cancelled():
                done.exception()  # retrieved: a caller that stopped waiting reads none
            if turns is not None:
                turns.release()
            channel.running -= 1
            if channel in self._retired and channel.running == 0:
                self._close(channel)

        lookup.add_done_callback(ended)
        return lookup

    def _channel(self) -> _Channel:
        """The running loop's c-ares channel (each loop its own: the API's, the sender's), a
        new one once it made ``CHANNEL_LOOKUPS`` lookups (the old one closed when its last
        lookup ends)."""
        loop = asyncio.get_running_loop()
        channel = self._channels.get(loop)
        if channel is not None and channel.made >= CHANNEL_LOOKUPS:
            if channel.running == 0:
                self._close(channel)
            else:
                self._retired.add(channel)
            channel = None
        if channel is None:
            # c-ares times each try by how fast the nameserver has been answering, at most
            # the timeout: its default three tries, so that a name slower than the cached ones
            # is tried again, waiting longer (at one, it failed; a fortieth reader).
            channel = _Channel(
                aiodns.DNSResolver(self._nameservers, loop=loop, timeout=self._timeout_s, tries=3)
            )
            self._channels[loop] = channel
        return channel

    def _close(self, channel: _Channel) -> None:
        self._retired.discard(channel)
        task = asyncio.get_running_loop().create_task(channel.resolver.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Find nothing from now on: the running loop's channel closed, its lookups in flight
        cancelled (another loop's cancelled, its channel let go)."""
        self._closed = True
        channels = [*self._channels.values(), *self._retired]
        self._channels, self._retired = {}, set()
        running = asyncio.get_running_loop()
        for channel in channels:
            if channel.resolver.loop is running:
                await channel.resolver.close()
            else:
                channel.resolver.cancel()
        await asyncio.gather(*self._closing, return_exceptions=True)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses ``destinations`` allows."""

    def __init__(
        self, destinations: Destinations, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._destinations = destinations
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._destinations.addresses(host, port)  # RefusedDestination
        failed: Exception | None = None
        for address in addresses:  # the checked addresses, in the resolver's order
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failed = error
        raise failed if failed is not None else httpcore.ConnectError("no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not sent to local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    destinations: Destinations, max_connections: int, verify: Any = True
) -> httpx.AsyncHTTPTransport:
    """httpx's transport for one receiver: at most ``max_connections`` connections, each made
    by :class:`GuardedBackend`; ``verify`` as httpx's (an ``ssl.SSLContext`` in tests)."""
    limits = httpx.Limits(max_connections=max_connections, keepalive_expiry=30.0)
    ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False, limits=limits)
    # httpx builds its pool with httpcore's default backend and no way to pass another: the
    # same pool again (the arguments httpx gives it), with the guarded backend.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(destinations),
    )
    return transport
