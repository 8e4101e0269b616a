"""Webhooks: a party's notifications POSTed to its URL, signed, retried with backoff, each with
a delivery id the receiver can deduplicate.

One webhook per party (``PUT /v1/webhook``, read scope: it carries only what the party may read);
a new webhook is sent every notification the party has, oldest first. Each notification is sent
as the JSON the event stream sends, in the same order, with the headers (Standard Webhooks)::

    Webhook-Id: <event id>                      the same id on every retry: deduplicate on it
    Webhook-Timestamp: <unix seconds>
    Webhook-Signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>

A 2xx answer moves the party's cursor past the notification; anything else (or no answer in 5 s)
is retried after 1, 2, 4 ... seconds, at most 5 minutes apart, so nothing is skipped. Cursors and
configurations are kept in the service's side database, so a restart resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from deconflict.api.auth import Scope
from deconflict.api.problems import InvalidField
from deconflict.api.runner import HubRunner
from deconflict.api.schemas import notifications_seen
from deconflict.api.service import Caller, need, service
from deconflict.api.stream import event_id, event_key, parse_event_id
from deconflict.errors import NotFound
from deconflict.hub import Hub

__all__ = ["Webhook", "WebhookSender", "Webhooks", "router", "sign"]

log = logging.getLogger("deconflict.api")
_MAX_BACKOFF_S = 300.0


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` value of one delivery."""
    message = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Webhook:
    party: str
    url: str
    secret: str
    cursor: str | None = None


class Webhooks:
    """The webhook of each party and how far delivery has got, in a SQLite file (or memory)."""

    def __init__(self, path: Path | None) -> None:
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS webhooks (party TEXT PRIMARY KEY, url TEXT,"
                " secret TEXT, cursor TEXT)"
            )

    def put(self, party: str, url: str, secret: str | None) -> Webhook:
        """Set ``party``'s webhook (a new secret unless one is given); its cursor stays."""
        chosen = secret or secrets.token_urlsafe(32)
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO webhooks VALUES (?, ?, ?, NULL) ON CONFLICT (party) DO UPDATE"
                " SET url = excluded.url, secret = excluded.secret",
                (party, url, chosen),
            )
        found = self.get(party)
        if found is None:  # pragma: no cover - just written
            raise RuntimeError("webhook not stored")
        return found

    def get(self, party: str) -> Webhook | None:
        with self._lock:
            row = self._db.execute(
                "SELECT party, url, secret, cursor FROM webhooks WHERE party = ?", (party,)
            ).fetchone()
        return None if row is None else Webhook(*row)

    def all(self) -> list[Webhook]:
        with self._lock:
            rows = self._db.execute("SELECT party, url, secret, cursor FROM webhooks").fetchall()
        return [Webhook(*row) for row in rows]

    def delete(self, party: str) -> bool:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM webhooks WHERE party = ?", (party,)).rowcount > 0

    def advance(self, party: str, cursor: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE webhooks SET cursor = ? WHERE party = ?", (cursor, party))

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    next_at: float = 0.0


@dataclass(slots=True)
class WebhookSender:
    """Sends every party's pending notifications to its webhook, woken by the hub runner."""

    runner: HubRunner
    hooks: Webhooks
    transport: httpx.AsyncBaseTransport | None = None
    timeout_s: float = 5.0
    base_backoff_s: float = 1.0
    _backoff: dict[str, _Backoff] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout_s) as http:
            while True:
                generation = self.runner.generation
                wait_s = 5.0
                for hook in self.hooks.all():
                    try:
                        wait_s = min(wait_s, await self._send(http, hook))
                    except Exception:  # one party's failure never stops the others
                        log.exception("webhook delivery failed for %s", hook.party)
                await self.runner.changed(max(wait_s, 0.01), since=generation)

    async def _send(self, http: httpx.AsyncClient, hook: Webhook) -> float:
        """Send ``hook``'s pending notifications in order; the seconds until it is due again."""
        backoff = self._backoff.setdefault(hook.party, _Backoff())
        now = time.monotonic()
        if now < backoff.next_at:
            return backoff.next_at - now
        cursor = parse_event_id(hook.cursor)

        def pending(hub: Hub) -> list[tuple[str, bytes]]:
            found = [
                n
                for n in hub.list_notifications(hook.party)
                if cursor is None or event_key(n) > cursor
            ]
            seen = notifications_seen(hub, hook.party, found)
            return [
                (event_id(n), json.dumps(s.model_dump(mode="json")).encode())
                for n, s in zip(found, seen, strict=True)
            ]

        for delivery_id, body in await self.runner.run(pending):
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "Webhook-Id": delivery_id,
                "Webhook-Timestamp": str(timestamp),
                "Webhook-Signature": sign(hook.secret, delivery_id, timestamp, body),
            }
            try:
                answer = await http.post(hook.url, content=body, headers=headers)
                delivered = answer.is_success
            except httpx.HTTPError:
                delivered = False
            if not delivered:
                delay = min(_MAX_BACKOFF_S, self.base_backoff_s * 2.0 ** min(backoff.failures, 20))
                backoff.failures += 1
                backoff.next_at = time.monotonic() + delay
                return delay
            backoff.failures = 0
            self.hooks.advance(hook.party, delivery_id)
        return 5.0


# routes -------------------------------------------------------------------------------------

router = APIRouter(prefix="/v1", tags=["notifications"])


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000)
    secret: str | None = Field(None, min_length=16, max_length=200)


class WebhookOut(BaseModel):
    url: str
    #: shown when the webhook is set, never afterwards
    secret: str | None = None
    last_delivery_id: str | None = None


def _hooks(request: Request) -> Webhooks:
    hooks: Webhooks = request.app.state.service.webhooks
    return hooks


@router.put("/webhook", response_model=WebhookOut)
async def put_webhook(body: WebhookIn, request: Request, principal: Caller) -> WebhookOut:
    """Send the caller's notifications to ``url``, signed with ``secret`` (made if not given)."""
    need(principal, Scope.READ)
    if not body.url.startswith(("https://", "http://")):
        raise InvalidField("/url", "the webhook URL must be http or https")
    hook = _hooks(request).put(principal.party, body.url, body.secret)
    service(request).runner.wake()
    return WebhookOut(url=hook.url, secret=hook.secret, last_delivery_id=hook.cursor)


@router.get("/webhook", response_model=WebhookOut)
async def get_webhook(request: Request, principal: Caller) -> WebhookOut:
    need(principal, Scope.READ)
    hook = _hooks(request).get(principal.party)
    if hook is None:
        raise NotFound("no webhook")
    return WebhookOut(url=hook.url, last_delivery_id=hook.cursor)


@router.delete("/webhook", status_code=204)
async def delete_webhook(request: Request, principal: Caller) -> Response:
    need(principal, Scope.READ)
    if not _hooks(request).delete(principal.party):
        raise NotFound("no webhook")
    return Response(status_code=204)
