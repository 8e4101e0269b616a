"""Webhooks: a party's notifications POSTed to its URL, signed, retried with backoff, each with
a delivery id the receiver can deduplicate.

One webhook per party (``PUT /v1/webhook``, read scope: it carries only what the party may read);
a new webhook is sent every notification the party has, oldest first. Each notification is sent
as the JSON the event stream sends, in the same order, with the headers (Standard Webhooks)::

    Webhook-Id: <event id>                      the same id on every retry: deduplicate on it
    Webhook-Timestamp: <unix seconds>
    Webhook-Signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>

A 2xx answer moves the party's cursor past the notification; anything else (or no answer in 5 s)
is retried after 1, 2, 4 ... seconds, at most 5 minutes apart, so nothing is skipped.

Several workers may serve one database: webhooks and their cursors are kept in it (see
:mod:`deconflict.store.service_state`), so a webhook set through any worker is served, and only
the worker holding the detector lease sends (the one whose detection makes the notifications, so
it is woken first), checking it still holds the lease before each delivery. A cursor moves only
from the value the sender read, so a former holder, paused across a failover, can send an event
again (with the same Webhook-Id: delivery is at least once), never move a cursor back. The
leader looks for new or changed webhooks every ``poll_s``, and at once after detection.
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
import time
from dataclasses import dataclass, field

import httpx
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from deconflict.api.auth import Scope
from deconflict.api.problems import InvalidField
from deconflict.api.runner import HubRunner
from deconflict.api.schemas import notifications_seen
from deconflict.api.service import Caller, need, service, service_state
from deconflict.api.stream import event_id, event_key, parse_event_id
from deconflict.errors import NotFound
from deconflict.hub import Hub
from deconflict.store.service_state import Webhook

__all__ = ["Webhook", "WebhookSender", "Webhooks", "router", "sign"]

log = logging.getLogger("deconflict.api")
_MAX_BACKOFF_S = 300.0


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` value of one delivery."""
    message = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Webhooks:
    """The webhook of each party and how far delivery has got, in the hub's database (read and
    written on the hub thread, through ``runner``)."""

    def __init__(self, runner: HubRunner) -> None:
        self._runner = runner

    async def put(self, party: str, url: str, secret: str | None) -> Webhook:
        """Set ``party``'s webhook (a new secret unless one is given); its cursor stays."""
        chosen = secret or secrets.token_urlsafe(32)
        return await self._runner.run(
            lambda hub: service_state(hub).put_webhook(party, url, chosen)
        )

    async def get(self, party: str) -> Webhook | None:
        return await self._runner.run(lambda hub: service_state(hub).get_webhook(party))

    async def all(self) -> list[Webhook]:
        return await self._runner.run(lambda hub: service_state(hub).list_webhooks())

    async def delete(self, party: str) -> bool:
        return await self._runner.run(lambda hub: service_state(hub).delete_webhook(party))

    async def advance(self, party: str, expected: str | None, cursor: str) -> bool:
        """Move ``party``'s cursor from ``expected`` to ``cursor``; False if it had moved."""
        return await self._runner.run(
            lambda hub: service_state(hub).advance_webhook(party, expected, cursor)
        )


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
    poll_s: float = 1.0
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
                wait_s = self.poll_s
                try:
                    hooks = await self.hooks.all() if self.runner.leading else []
                except Exception:  # the database is away: try again at the next poll
                    log.exception("reading the webhooks failed")
                    hooks = []
                for hook in hooks:
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

        last = hook.cursor
        for delivery_id, body in await self.runner.run(pending):
            if not self.runner.leading:  # another worker sends now
                return self.poll_s
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
            if not await self.hooks.advance(hook.party, last, delivery_id):
                return 0.0  # moved or reset meanwhile: read it again
            last = delivery_id
        return self.poll_s


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
    hook = await _hooks(request).put(principal.party, body.url, body.secret)
    service(request).runner.wake()
    return WebhookOut(url=hook.url, secret=hook.secret, last_delivery_id=hook.cursor)


@router.get("/webhook", response_model=WebhookOut)
async def get_webhook(request: Request, principal: Caller) -> WebhookOut:
    need(principal, Scope.READ)
    hook = await _hooks(request).get(principal.party)
    if hook is None:
        raise NotFound("no webhook")
    return WebhookOut(url=hook.url, last_delivery_id=hook.cursor)


@router.delete("/webhook", status_code=204)
async def delete_webhook(request: Request, principal: Caller) -> Response:
    need(principal, Scope.READ)
    if not await _hooks(request).delete(principal.party):
        raise NotFound("no webhook")
    return Response(status_code=204)
