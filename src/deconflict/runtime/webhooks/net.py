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

:class:`SystemResolver` asks the system (``getaddrinfo``, so ``/etc/hosts`` and every notation it
reads) on a few threads of its own, each lookup bounded in time: the threads are the sender's,
so lookups of slow names made by the API cannot starve the deliveries. The wait is bounded, not
the lookup: a name whose nameserver never answers keeps its thread until the system gives up
(tens of seconds), so each party's lookups run at most ``per_party`` at a time, counted until
they truly end, the others waiting their turn (a party's own silent nameserver, asked again by
lane restarts, took every thread and every other receiver's new connections failed: a
thirty-sixth reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import httpcore
import httpx

from deconflict.runtime.webhooks.guard import Destinations, IPAddress

__all__ = ["GuardedBackend", "SystemResolver", "guarded_transport"]


class SystemResolver:
    """``await resolver(host, port)``: the host's addresses from the system's resolver, on at
    most ``threads`` threads of its own, within ``timeout_s`` (none when it does not resolve
    or takes longer). :meth:`for_party` gives a party's resolver, whose lookups run at most
    ``per_party`` at a time (by default an eighth of the threads, at least one), counted until
    they truly end; the others wait their turn within the same ``timeout_s``."""

    def __init__(
        self, threads: int = 4, timeout_s: float = 5.0, per_party: int | None = None
    ) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="resolve")
        self._timeout_s = timeout_s
        self._per_party = per_party if per_party is not None else max(1, threads // 8)
        self._turns: dict[str, asyncio.Semaphore] = {}  # each party's, made on the loop

    def for_party(self, party: str) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
        """The resolver ``party``'s names are looked up with."""
        return partial(self.__call__, party=party)

    async def __call__(self, host: str, port: int, party: str | None = None) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        turns = (
            None
            if party is None
            else self._turns.setdefault(party, asyncio.Semaphore(self._per_party))
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                if turns is not None:
                    await turns.acquire()
                lookup = self._submit(host, port, turns, loop)
                if lookup is None:
                    return []
                found = await asyncio.wrap_future(lookup)
        except (OSError, UnicodeError, TimeoutError):
            return []
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in found:
            with contextlib.suppress(ValueError):
                address = ipaddress.ip_address(str(sockaddr[0]))
                if address not in addresses:
                    addresses.append(address)
        return addresses

    def _submit(
        self,
        host: str,
        port: int,
        turns: asyncio.Semaphore | None,
        loop: asyncio.AbstractEventLoop,
    ) -> Future[list[Any]] | None:
        """The lookup on a thread, its party's turn (if any) given back when it truly ends, not
        when its caller stops waiting; None once the resolver is closed."""
        try:
            lookup = self._executor.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        except RuntimeError:  # closed
            if turns is not None:
                turns.release()
            return None
        if turns is not None:

            def give_back(_: object) -> None:
                with contextlib.suppress(RuntimeError):  # the loop is gone: so is the party's
                    loop.call_soon_threadsafe(turns.release)

            lookup.add_done_callback(give_back)
        return lookup

    def close(self) -> None:
        """Let the threads go (a lookup still running finishes on its own)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


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
