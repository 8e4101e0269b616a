"""Protective limits: the request body size, a token bucket per party, and stored responses
for ``Idempotency-Key`` replays."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconflict.api.problems import ApiError

__all__ = ["BodyLimit", "Idempotency", "RateLimiter", "StoredResponse"]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is refused with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int, render: Callable[[int, str], ASGIApp]):
        self.app = app
        self.max_bytes = max_bytes
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self.render(413, detail)(scope, receive, send)
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


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: object
    headers: dict[str, str]


class Idempotency:
    """First responses to POSTs by (party, Idempotency-Key), kept ``ttl_s``; in a SQLite file
    beside the database, or in memory (``path=None``)."""

    def __init__(self, path: Path | None, ttl_s: float = 86_400.0) -> None:
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False
        )
        self._lock = threading.Lock()
        self._ttl_s = ttl_s
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (party TEXT, key TEXT, fingerprint TEXT,"
                " status INTEGER, body TEXT, headers TEXT, at REAL, PRIMARY KEY (party, key))"
            )

    def get(self, party: str, key: str) -> StoredResponse | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, status, body, headers FROM responses"
                " WHERE party = ? AND key = ? AND at > ?",
                (party, key, time.time() - self._ttl_s),
            ).fetchone()
        if row is None:
            return None
        return StoredResponse(row[0], row[1], json.loads(row[2]), json.loads(row[3]))

    def put(self, party: str, key: str, response: StoredResponse) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM responses WHERE at < ?", (time.time() - self._ttl_s,))
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    party,
                    key,
                    response.fingerprint,
                    response.status,
                    json.dumps(response.body),
                    json.dumps(response.headers),
                    time.time(),
                ),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
