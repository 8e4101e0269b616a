"""The server-sent event stream of a party's notifications, resumable without loss.

Events are the party's notifications (addressed to it or relayed through it) in the store's order:
created time, then id. An event's id is that key (:mod:`deconflict.runtime.events`: the webhooks
send the same events); a client that reconnects with ``Last-Event-ID`` gets every notification after
it, and every one addressed to it not yet delivered (created earlier but committed later, as happens
with several workers), so nothing is lost; a duplicate carries the same id. The stream waits for the
hub runner's wake-ups (every write and every detector run that produced notifications) and sends a
comment 15 s after it last sent anything, to keep an idle connection open (timed on the
connection alone: timed from the hub's last wake-up, it told any party when others wrote).
Finding what to send is a read; what was sent to the party is marked delivered after it was
sent, in batches shared by every stream of the process
(:mod:`deconflict.runtime.deliveries`). A stream ends when the server stops
(:mod:`deconflict.api.closing`): the client reconnects with ``Last-Event-ID``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import Request

from deconflict.api.service import service
from deconflict.hub import Hub
from deconflict.runtime.events import (
    EventKey,
    NotificationOut,
    event_key,
    id_of_key,
    notifications_seen,
    read_after,
)

__all__ = ["event_stream"]

_KEEPALIVE_S = 15.0
_monotonic = time.monotonic  # the connection's clock (a test's own in its place)


def _event(key: EventKey, shown: NotificationOut) -> bytes:
    body = shown.model_dump_json()
    return f"id: {id_of_key(key)}\nevent: notification\ndata: {body}\n\n".encode()


async def event_stream(
    request: Request, party: str, cursor: EventKey | None, once: bool = False
) -> AsyncIterator[bytes]:
    """The stream after ``cursor`` (an event id parsed at the edge, before the stream
    starts, so a bad one is a 422 and not a 200 cut short)."""
    svc = service(request)
    # Sent on this connection and, as far as the last read knew, not yet marked delivered.
    sent: set[str] = set()

    def pending(hub: Hub) -> tuple[list[tuple[EventKey, NotificationOut]], list[tuple[str, float]]]:
        return hub.store.in_snapshot(lambda: read(hub), "reading a stream's next events")

    def read(hub: Hub) -> tuple[list[tuple[EventKey, NotificationOut]], list[tuple[str, float]]]:
        """What to send now, and the (id, when) of those it delivers to the party. A read: the
        notifications after the cursor (coarsely from the store, a microsecond before the
        cursor's time, exactly here), and every one to the party not yet delivered, including
        one created before the cursor whose commit landed after it (another worker's), which
        the cursor alone would skip."""
        if cursor is None:
            listed = hub.list_notifications(party)
        else:
            listed = hub.notifications_since(party, *read_after(cursor))
        found = {n.id: n for n in listed if cursor is None or event_key(n) > cursor}
        waiting = hub.undelivered_ids(party)
        sent.intersection_update(waiting)  # the others are marked: no read returns them again
        late = [i for i in waiting if i not in found and i not in sent]
        if late:
            found.update((n.id, n) for n in hub.get_notifications(party, late))
        now = hub.clock.now()
        delivering = [n.id for n in found.values() if n.recipient == party and n.undelivered]
        for notification_id in delivering:  # shown as what it is once sent: delivered now
            found[notification_id] = found[notification_id].deliver(now)
        ordered = sorted(found.values(), key=event_key)
        seen = notifications_seen(hub, party, ordered)
        events = list(zip((event_key(n) for n in ordered), seen, strict=True))
        return events, [(notification_id, now) for notification_id in delivering]

    yield b"retry: 1000\n\n"
    # When this connection last sent bytes: a keep-alive is due a period after, whatever wakes
    # the stream meanwhile. (Sent after a quiet period since the hub's last wake-up, another
    # party's write, a private plan's too, moved it: a ninth reader timed them by it.)
    last_sent = _monotonic()
    if svc.runner.ready:  # the first read shows the outcome of the party's writes before it
        await svc.runner.settle(party)
    while True:
        generation = svc.runner.generation
        batch: list[tuple[EventKey, NotificationOut]] = []
        if svc.runner.ready:
            batch, delivering = await svc.runner.run_beside(pending)
            if batch:  # one write for the batch: a send per event costs more than the event
                yield b"".join(_event(key, shown) for key, shown in batch)
                last_sent = _monotonic()
                svc.metrics.events.inc(len(batch))
                newest = batch[-1][0]  # the batch is in key order
                cursor = newest if cursor is None else max(cursor, newest)
            sent.update(notification_id for notification_id, _ in delivering)
            svc.deliveries.add(delivering)
            if once:
                await svc.deliveries.flush()
        if once or svc.closing or not svc.runner.ready or await request.is_disconnected():
            return
        if not batch:
            due = last_sent + _KEEPALIVE_S
            await svc.runner.changed(max(0.0, due - _monotonic()), since=generation)
            if svc.closing or await request.is_disconnected():
                return
            if _monotonic() >= due:  # a quiet period on this connection: keep it open
                yield b": keep-alive\n\n"
                last_sent = _monotonic()
