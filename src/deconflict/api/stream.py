"""The server-sent event stream of a party's notifications, resumable without loss.

Events are the party's notifications (addressed to it or relayed through it) in the store's
order: created time, then id. An event's id is that key, ``<created microseconds>.<notification
id>``; a client that reconnects with ``Last-Event-ID`` gets every notification after it, and
every one addressed to it not yet delivered (created earlier but committed later, as happens with
several workers), so nothing is lost; a duplicate carries the same id. The
stream waits for the hub runner's wake-ups (every write and every detector run that produced
notifications) and sends a comment every 15 s to keep idle connections open. Notifications sent
on the stream and addressed to the party are marked delivered.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import Request

from deconflict.api.problems import InvalidField
from deconflict.api.schemas import NotificationOut, notifications_seen
from deconflict.api.service import service
from deconflict.hub import Hub
from deconflict.model import Notification

__all__ = ["event_id", "event_key", "event_stream", "parse_event_id"]

_KEEPALIVE_S = 15.0


def event_id(notification: Notification) -> str:
    return f"{round(notification.created_at_s * 1e6)}.{notification.id}"


def parse_event_id(text: str | None) -> tuple[int, str] | None:
    if text is None or not text.strip():
        return None
    micros, dot, rest = text.strip().partition(".")
    if not dot or not micros.lstrip("-").isdigit():
        raise InvalidField("header:Last-Event-ID", f"{text!r} is not an event id of this stream")
    return int(micros), rest


def event_key(notification: Notification) -> tuple[int, str]:
    return round(notification.created_at_s * 1e6), notification.id


async def event_stream(
    request: Request, party: str, last: str | None, once: bool = False
) -> AsyncIterator[bytes]:
    svc = service(request)
    cursor = parse_event_id(last)

    def pending(hub: Hub, fresh: list[Notification]) -> list[tuple[str, NotificationOut]]:
        # ``fresh``, delivered just now: every one not yet sent, including one created before
        # the cursor whose commit landed after it (another worker's), which the cursor alone
        # would skip.
        # Coarsely from the store (a microsecond before the cursor's time), exactly here.
        since_s = None if cursor is None else (cursor[0] - 1) / 1e6
        found = {
            n.id: n
            for n in hub.list_notifications(party, since_s)
            if cursor is None or event_key(n) > cursor
        }
        for n in fresh:
            found.setdefault(n.id, n)
        ordered = sorted(found.values(), key=event_key)
        seen = notifications_seen(hub, party, ordered)
        return list(zip((event_id(n) for n in ordered), seen, strict=True))

    def deliver(hub: Hub) -> list[tuple[str, NotificationOut]]:
        return pending(hub, fresh=hub.deliver(party))

    yield b"retry: 1000\n\n"
    while True:
        generation = svc.runner.generation
        batch: list[tuple[str, NotificationOut]] = []
        if svc.runner.ready:
            # Marked delivered and read in a grouped write: it shares a commit (an fsync) with
            # the filings and the other streams' deliveries of the moment.
            batch = await svc.runner.run_write(deliver, group=True, detects=False)
        for key, shown in batch:
            body = json.dumps(shown.model_dump(mode="json"))
            yield f"id: {key}\nevent: notification\ndata: {body}\n\n".encode()
            svc.metrics.events.inc()
            cursor = parse_event_id(key)
        if once or not svc.runner.ready or await request.is_disconnected():
            return
        if not batch:
            await svc.runner.changed(_KEEPALIVE_S, since=generation)
            if await request.is_disconnected():
                return
            if svc.runner.generation == generation:  # a quiet 15 s: keep the connection open
                yield b": keep-alive\n\n"
