"""Protective limits: the request body size, a token bucket per party, and the event streams a
party holds open. (Stored responses for ``Idempotency-Key`` replays live in the database: see
:mod:`deconflict.store.service_state`.)"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconflict.api.problems import ApiError

__all__ = ["BodyLimit", "RateLimiter", "StreamSlots"]


class _TooLarge(Exception):
    pass


def _is_json(content_type: bytes) -> bool:
    """``application/json`` or a ``+json`` type (``application/merge-patch+json``), with any
    parameters (``; charset=utf-8``), as FastAPI's own routes take them."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is refused with 413, and one that is
    not JSON (every body the API takes is) with 415, naming the type it came as."""

    def __init__(self, app: ASGIApp, max_bytes: int, render: Callable[[int, str], ASGIApp]):
        self.app = app
        self.max_bytes = max_bytes
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than {self.max_bytes} bytes"
        has_body, content_type = False, b""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    await self.render(413, detail)(scope, receive, send)
                    return
                has_body = has_body or value != b"0"
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"content-type":
                content_type = value
        if has_body and not _is_json(content_type):
            given = content_type.decode("latin-1") or "none"
            detail = f"the request body must be JSON (Content-Type: application/json), not {given}"
            await self.render(415, detail)(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _TooLarge:
            if not started:
                await self.render(413, detail)(scope, receive, send)


class RateLimiter:
    """A token bucket per party: ``rate_per_s`` sustained, ``burst`` at once; over it, 429."""

    def __init__(self, rate_per_s: float, burst: float, now: Callable[[], float] = time.monotonic):
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._now = now
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, party: str) -> None:
        if self.rate_per_s <= 0:
            return
        now = self._now()
        tokens, then = self._buckets.get(party, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate_per_s)
        if tokens < 1.0:
            retry = max(1, int((1.0 - tokens) / self.rate_per_s + 0.999))
            self._buckets[party] = (tokens, now)
            raise ApiError(
                429, f"rate limit: {self.rate_per_s:g} requests/s", {"Retry-After": str(retry)}
            )
        self._buckets[party] = (tokens - 1.0, now)


class StreamSlots:
    """The event streams each party holds open in this process: at most ``per_party`` (0: no
    cap), beyond it 429. Every wake-up (any detection that made notifications) runs the read of
    every open stream, so a party holding hundreds of idle ones made each wake-up that many
    reads, and others' deliveries waited (a thirty-sixth reader; security.md §3.8)."""

    def __init__(self, per_party: int) -> None:
        self.per_party = per_party
        self._open: Counter[str] = Counter()
        # Given back, maybe, by the collector of a dropped stream, which may run on this very
        # thread while it holds the lock (any allocation may collect): re-entrant.
        self._lock = threading.RLock()

    def open(self, party: str) -> int:
        """How many streams ``party`` holds open."""
        return self._open[party]

    def hold(self, party: str, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``stream``, holding a slot of ``party``'s while it runs: given back when it ends,
        fails, is cancelled or closed, or is dropped unstarted (the client gone before its
        first byte); ApiError 429 when the party holds them all."""
        with self._lock:
            if self.per_party and self._open[party] >= self.per_party:
                raise ApiError(
                    429,
                    f"too many open event streams: {self.per_party} a party; close one, or "
                    "poll with once=true",
                    {"Retry-After": "1"},
                )
            self._open[party] += 1
        given = threading.Event()

        def give_back() -> None:
            with self._lock:
                if not given.is_set():
                    given.set()
                    self._open[party] -= 1

        held = _Held(stream, give_back)
        weakref.finalize(held, give_back)
        return held


class _Held:
    """An event stream that gives its slot back once it is over, however that comes."""

    def __init__(self, stream: AsyncIterator[bytes], give_back: Callable[[], None]) -> None:
        self._stream, self._give_back = stream, give_back

    def __aiter__(self) -> _Held:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._stream.__anext__()
        except BaseException:  # its end, a failure, or the client gone (cancelled)
            self._give_back()
            raise

    async def aclose(self) -> None:
        self._give_back()
        closing = getattr(self._stream, "aclose", None)
        if closing is not None:
            await closing()
