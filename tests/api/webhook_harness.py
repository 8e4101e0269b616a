"""What the webhook tests share: receivers on 127.0.0.1 that a test controls (a good one, one
that refuses, a slow-loris one), DNS as a test says (names whose addresses a test may change
between lookups), and one place where a test waits, by signal and never by sleeping, for what
the hub's webhook sender did (its observer) or what a receiver got."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: A public address (an example.com address) names resolve to when a test wants them allowed.
PUBLIC = "93.184.215.14"


class Watch:
    """Signals from the hub's webhook sender (pass :meth:`observe` as its observer) and from
    receivers (on their own threads, through :meth:`poke`), awaited with :meth:`until`."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self.attempts: list[Any] = []

    def observe(self, attempt: Any) -> None:
        """The sender's observer: called on the event loop after each delivery attempt and
        cursor move."""
        self.attempts.append(attempt)
        self._changed.set()

    def poke(self) -> None:
        """Something changed (callable from any thread)."""
        self._loop.call_soon_threadsafe(self._changed.set)

    def outcomes(self, party: str) -> list[str]:
        """The outcomes of ``party``'s delivery attempts, in order (cursor moves left out)."""
        return [a.outcome for a in self.attempts if a.party == party and a.outcome != "advanced"]

    def cursor(self, party: str) -> str | None:
        """Where the sender last moved ``party``'s cursor (None: not yet)."""
        moves = [
            a.delivery_id for a in self.attempts if a.party == party and a.outcome == "advanced"
        ]
        return moves[-1] if moves else None

    async def until(self, done: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
        """Wait until ``done()`` holds; fail naming ``what`` if it does not within
        ``timeout_s`` (a bound for a broken hub, not a pace: the wait ends at the signal)."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    self._changed.clear()
                    if done():
                        return
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"not within {timeout_s} s: {what}") from None


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 (started by :func:`receiver`). ``answer(n, request)``
    picks the status of the n-th request (from 0; default 204). With ``trickle`` it answers a
    byte at a time, one every 0.2 s, until ``release`` is set, as a slow-loris receiver does;
    ``trickling`` counts the requests it is trickling to, ``hung_up`` those the hub hung up on
    meanwhile. ``headers`` go with every answer (a ``Location``, say)."""

    watch: Watch
    answer: Callable[[int, Received], int] | None = None
    trickle: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    trickling: int = 0
    hung_up: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length", "0")))
        got = Received(handler.headers.get("webhook-id", ""), dict(handler.headers), body)
        with self.lock:
            n = len(self.requests)
            self.requests.append(got)
        status = 204 if self.answer is None else self.answer(n, got)
        if self.trickle:
            self._trickle(handler)
            return
        handler.send_response(status)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        if 200 <= status < 300:
            with self.lock:
                self.taken.append(got.webhook_id)
        self.watch.poke()

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.trickling += 1
        self.watch.poke()
        try:
            for byte in b"HTTP/1.1 204 No Content\r\nX-Slow: ":
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                self.release.wait(0.2)
            while not self.release.wait(0.2):
                handler.wfile.write(b"a")
                handler.wfile.flush()
            handler.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
            handler.wfile.flush()
        except OSError:  # the hub hung up
            with self.lock:
                self.hung_up += 1
            self.watch.poke()
        finally:
            with self.lock:
                self.trickling -= 1
            handler.close_connection = True


@contextmanager
def receiver(
    watch: Watch,
    answer: Callable[[int, Received], int] | None = None,
    trickle: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Receiver]:
    """A :class:`Receiver` serving on 127.0.0.1, port 0, stopped (and released) at the end."""
    state = Receiver(watch, answer, trickle, dict(headers or {}))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        thread.join(10)
        server.server_close()


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Names:
    """DNS as a test says: ``table`` maps a name to its addresses (a test may change it between
    lookups: a rebinding); ``lookups`` lists every name looked up. A name not in the table does
    not resolve."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = dict(table)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[Any]:
        self.lookups.append(host)
        return [ipaddress.ip_address(a) for a in self.table.get(host.rstrip(".").lower(), ())]
