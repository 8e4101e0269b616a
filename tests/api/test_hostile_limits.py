"""A client playing the attacker against a real ``deconflict serve`` on 127.0.0.1, with raw
sockets: oversized headers, headers that never finish, more connections than the caps, and a
normal client served meanwhile (security.md §4.2).

The limits are set small through their settings (``DECONFLICT_HTTP_*``), so the server's own
clock decides when a slow client is cut, not a long sleep here. Every read has a socket timeout
well past the deadline under test: a server without the limit fails the test by it."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.api.harness import make_db

from deconflict.testing import served

pytestmark = pytest.mark.slow

_READ_TIMEOUT_S = 8.0  # far past every deadline set here; a server that does not cut fails


@contextlib.contextmanager
def _server(tmp_path: Path, **limits: float) -> Iterator[tuple[str, int]]:
    """``deconflict serve`` (no detector process) with the ``http-*`` settings ``limits``
    (``max_header_bytes=...`` sets ``DECONFLICT_HTTP_MAX_HEADER_BYTES``): its host and port."""
    env = dict(os.environ)
    for name, value in limits.items():
        env[f"DECONFLICT_HTTP_{name.upper()}"] = str(value)
    with served(make_db(tmp_path), "--no-detector-process", env=env) as url:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        yield parts.hostname, parts.port


def _connect(address: tuple[str, int], source: str = "127.0.0.1") -> socket.socket:
    """A connection to ``address`` from ``source`` (any 127/8 address is this host)."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(_READ_TIMEOUT_S)
    sock.connect(address)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after an answer ends it too)."""
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _problem(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    document: dict[str, object] = json.loads(body)
    return document


def _flood(sock: socket.socket, head: bytes, total: int, chunk: int = 65536) -> int:
    """Send ``head``, then header bytes (no line end: the header never finishes) up to
    ``total``, stopping once the server has answered or closed; the bytes sent."""
    sent = 0
    sock.sendall(head)
    filler = b"a" * chunk
    while sent < total:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(filler)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += chunk
    return sent


def _get(address: tuple[str, int], path: str, source: str = "127.0.0.1") -> bytes:
    with _connect(address, source) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n".encode())
        return _answer(sock)


def _rss_bytes(port: int) -> int:
    """Resident memory of this test's child serving on ``port`` (from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if parent == os.getpid() and str(port).encode() in command:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
    raise AssertionError(f"no server process on port {port}")


def test_an_oversized_header_is_refused_with_431(tmp_path: Path) -> None:
    """A header past ``http-max-header-bytes`` is answered 431 (problem+json) and the
    connection closed before more than the limit and a read's worth is taken in; a request with
    headers just under the limit, and a large body after small headers, are served."""
    with _server(tmp_path, max_header_bytes=16384) as address:
        with _connect(address) as sock:
            sent = _flood(sock, b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Big: ", 4 << 20)
            answer = _answer(sock)
        assert _status(answer) == 431
        assert "headers are larger than 16384 bytes" in str(_problem(answer)["detail"])
        assert sent < 4 << 20  # the server hung up long before the attacker was done
        fitting = b"X-Fits: " + b"b" * 12000 + b"\r\n"
        with _connect(address) as sock:
            head = b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n" + fitting
            sock.sendall(head + b"\r\n")
            assert _status(_answer(sock)) == 200
        body = b'{"pad": "' + b"x" * 200_000 + b'"}'
        with _connect(address) as sock:
            head = (
                b"POST /v1/notices HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            sock.sendall(head + body)  # one write: the body arrives with the head
            assert _status(_answer(sock)) == 401  # read by the app: no token, not a 431


def test_unfinished_huge_headers_hold_no_memory(tmp_path: Path) -> None:
    """Ten connections each sending a 30 MB header that never ends (on main: 300 MB held)
    are each refused at the limit: the server's resident memory grows by less than 40 MB."""
    with _server(tmp_path) as address:
        _get(address, "/healthz")  # the first request's allocations, before the baseline
        before = _rss_bytes(address[1])
        attackers = [_connect(address) for _ in range(10)]
        try:
            for sock in attackers:
                _flood(sock, b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Big: ", 30 << 20)
            grown = _rss_bytes(address[1]) - before
            assert grown < 40 << 20, f"the server grew by {grown / 2**20:.0f} MB"
            assert [_status(_answer(sock)) for sock in attackers] == [431] * 10
        finally:
            for sock in attackers:
                sock.close()


def test_headers_that_never_finish_are_cut_at_the_deadline(tmp_path: Path) -> None:
    """Slow-header connections (a partial head, a trickle a byte at a time, nothing at all)
    are answered 408 and closed once ``http-header-timeout-s`` has passed since they opened,
    by the server's clock; and a body that never comes by ``http-body-timeout-s``."""
    with _server(tmp_path, header_timeout_s=0.5, body_timeout_s=0.5) as address:
        partial = [_connect(address) for _ in range(40)]
        for sock in partial:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
        silent = [_connect(address) for _ in range(10)]
        trickle = _connect(address)
        trickled = 0
        started = time.monotonic()
        for byte in b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: " + b"a" * 10_000:
            readable, _, _ = select.select([trickle], [], [], 0.05)  # paced, not waited on
            if readable or time.monotonic() - started > _READ_TIMEOUT_S:
                break
            trickle.sendall(bytes([byte]))
            trickled += 1
        body = _connect(address)
        body.sendall(
            b"POST /v1/session HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"  # the route reads its body first
        )
        try:
            for sock in [*partial, *silent, trickle]:
                answer = _answer(sock)
                assert _status(answer) == 408
                assert "headers did not arrive in time" in str(_problem(answer)["detail"])
            answer = _answer(body)
            assert _status(answer) == 408
            assert "body did not arrive in time" in str(_problem(answer)["detail"])
        finally:
            for sock in [*partial, *silent, trickle, body]:
                sock.close()
        assert _status(_get(address, "/healthz")) == 200  # and the server serves on
    assert trickled < 10_000  # cut by the deadline, not by running out of bytes


def test_connection_caps_hold_and_others_are_still_served(tmp_path: Path) -> None:
    """One client address holding ``http-max-connections-per-client`` connections gets 503
    with ``Retry-After`` for the next; a client from another address is served meanwhile; and
    past ``http-max-connections`` every address is refused."""
    with _server(
        tmp_path, max_connections=12, max_connections_per_client=8, header_timeout_s=30
    ) as address:
        held = [_connect(address) for _ in range(8)]
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
        try:
            extra = _get(address, "/healthz")
            assert _status(extra) == 503
            assert b"retry-after: 1" in extra.lower()
            assert "too many open connections" in str(_problem(extra)["detail"])
            assert _status(_get(address, "/healthz", source="127.0.0.2")) == 200
            more = [_connect(address, source="127.0.0.3") for _ in range(4)]
            held.extend(more)
            for sock in more:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
            assert _status(_get(address, "/healthz", source="127.0.0.4")) == 503
        finally:
            for sock in held:
                sock.close()
