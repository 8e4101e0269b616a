"""The HTTP server's own limits: what a client may cost the hub before a request reaches the app.

uvicorn parses HTTP with httptools and, as configured out of the box, bounds none of it: on main
a 20 MB header was accepted, 300 connections that sent their headers a byte at a time stayed open
for 70 s (a connection that sends nothing stays open for ever), and 10 unfinished 30 MB headers
held 300 MB. :class:`LimitedHttpProtocol` is uvicorn's httptools protocol with these bounds
(:class:`HttpLimits`, from the settings):

- the request line and headers of a request, ``max_header_bytes`` at most (431, then closed),
  counted as they arrive, so an unfinished header is never held beyond the limit;
- the headers complete within ``header_timeout_s`` of the connection's opening, or of the
  request's first byte on a kept-alive connection (408, then closed);
- the body complete within ``body_timeout_s`` of the headers (408 if no answer started, then
  closed); what the app takes of it is still bounded by the body limit
  (:class:`deconflict.api.limits.BodyLimit`);
- at most ``max_connections`` open connections in the process, and ``max_connections_per_client``
  from one client address; a connection beyond either is answered 503 with ``Retry-After`` at
  once and closed, before anything of it is read.

The answers are problem+json with the service's protective headers, written by the protocol
itself (no request reached the app). The counts are the server's own (per uvicorn
``ServerState``, so per process), not globals: two servers in one process count apart.

Run a server with :func:`server_config` and :func:`run`; with ``workers > 1`` each worker process
gets the limits with the pickled config.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from deconflict.api.headers import HEADERS
from deconflict.errors import InvalidInput
from deconflict.settings import number_setting, whole_setting

__all__ = ["HttpLimits", "LimitedHttpProtocol", "run", "server_config"]

#: How long a refused connection is read (and dropped) after its answer, at most.
_LINGER_S = 1.0

_PHRASES = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one client may cost the server before the app sees a request (see the module)."""

    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_connections: int = 2048
    max_connections_per_client: int = 256
    #: what ``Retry-After`` tells a client refused for the connection caps
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        for name in ("max_header_bytes", "max_connections", "max_connections_per_client"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise InvalidInput(f"{name} must be above 0, not {getattr(self, name)}")

    @classmethod
    def from_settings(cls, environ: Mapping[str, str] | None = None) -> HttpLimits:
        """The limits the ``http-*`` settings give (their ``DECONFLICT_*`` variables)."""

        return cls(
            max_header_bytes=whole_setting("http-max-header-bytes", environ),
            header_timeout_s=number_setting("http-header-timeout-s", environ),
            body_timeout_s=number_setting("http-body-timeout-s", environ),
            max_connections=whole_setting("http-max-connections", environ),
            max_connections_per_client=whole_setting("http-max-connections-per-client", environ),
        )


class _Tally:
    """Open connections of one server: in all, and by client address."""

    def __init__(self) -> None:
        self.total = 0
        self.by_client: Counter[str] = Counter()

    def admit(self, client: str, limits: HttpLimits) -> bool:
        if self.total >= limits.max_connections:
            return False
        if self.by_client[client] >= limits.max_connections_per_client:
            return False
        self.total += 1
        self.by_client[client] += 1
        return True

    def release(self, client: str) -> None:
        self.total -= 1
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]


def _answer(status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """A whole problem+json response that closes the connection."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": _PHRASES[status].decode(),
            "status": status,
            "detail": detail,
        }
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        *HEADERS,
        *(extra or []),
    ]
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, _PHRASES[status])]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    return b"".join([*lines, b"\r\n", body])


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`HttpLimits` (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = getattr(self.config, "http_limits", None)
        self.limits: HttpLimits = limits if isinstance(limits, HttpLimits) else HttpLimits()
        tally = getattr(self.server_state, "http_tally", None)
        if not isinstance(tally, _Tally):
            tally = _Tally()
            self.server_state.http_tally = tally  # type: ignore[attr-defined]
        self._tally: _Tally = tally
        self._address = ""
        self._admitted = False
        self._in_head = True  # reading a request line and headers (or waiting for one)
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False  # answered and closing: whatever arrives is dropped

    # connections ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        self._admitted = self._tally.admit(self._address, self.limits)
        if not self._admitted:
            retry = [(b"retry-after", str(self.limits.retry_after_s).encode())]
            self._refuse(503, "the hub has too many open connections; try again", retry)
            return
        self._arm(self.limits.header_timeout_s, "the request's headers did not arrive in time")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._admitted:
            self._admitted = False
            self._tally.release(self._address)
        super().connection_lost(exc)

    # reading -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Feed the parser, counting what arrives while a request's head is read: a chunk that
        would take the head past the limit is fed only up to it, and if the head is still
        unfinished there, the request is refused (nothing more of it is kept)."""
        while data and not self._refused and not self.transport.is_closing():
            if not self._in_head:
                super().data_received(data)
                return
            room = self.limits.max_header_bytes - self._head_bytes
            part, data = data[:room], data[room:]
            self._head_bytes += len(part)
            if part:
                super().data_received(part)
            if data and self._in_head and not self.transport.is_closing():
                limit = self.limits.max_header_bytes
                self._refuse(431, f"the request's headers are larger than {limit} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a kept-alive connection's next request
            self._arm(self.limits.header_timeout_s, "the request's headers did not arrive in time")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        self._arm(self.limits.body_timeout_s, "the request's body did not arrive in time")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    # deadlines -----------------------------------------------------------------------------

    def _arm(self, seconds: float, detail: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, detail)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, detail: str) -> None:
        self._deadline = None
        self._refuse(408, detail)

    def _refuse(
        self, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Answer ``status`` (unless an answer is being written on the connection) and close
        it; the app's request on it, if any, sees the client gone. The close lingers: the
        answer is sent, the writing side shut, and whatever the client still sends is read and
        dropped (never kept) for at most ``_LINGER_S``, so the client reads the answer rather
        than a reset."""
        self._disarm()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        cycle = self.cycle  # in a head: the previous request's; else this request's
        if (self._in_head and (cycle is None or cycle.response_complete)) or (
            not self._in_head and cycle is not None and not cycle.response_started
        ):  # nothing else being answered on the connection
            self.transport.write(_answer(status, detail, extra))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        if not self.transport.can_write_eof():  # pragma: no cover - TCP transports can
            self.transport.close()
            return
        self.transport.write_eof()
        if self.flow is not None:
            self.flow.resume_reading()
        self._deadline = self.loop.call_later(_LINGER_S, self.transport.close)

    def eof_received(self) -> None:
        if self._refused:
            self.transport.close()


def server_config(app: Any, limits: HttpLimits, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration serving ``app`` (an app, or an import string with ``factory``)
    with :class:`LimitedHttpProtocol` and ``limits``; ``options`` are uvicorn's."""
    config = uvicorn.Config(app, http=LimitedHttpProtocol, **options)
    config.http_limits = limits  # type: ignore[attr-defined]
    return config


def run(config: uvicorn.Config) -> None:
    """Serve ``config`` until stopped, as ``uvicorn.run`` does: in this process, or in
    ``config.workers`` processes under uvicorn's supervisor."""
    # Listening before the app starts: a connection made while it starts waits in the backlog
    # instead of being refused, so the app's "serve.ready" line (api.app) holds when it is said.
    sock = config.bind_socket()
    sock.listen(config.backlog)
    server = uvicorn.Server(config)
    if config.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
        return
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
