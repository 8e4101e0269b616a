"""The server-sent event stream of a party's notifications, resumable without loss.

Events are the party's notifications (addressed to it or relayed through it) in the store's order:
created time, then id. An event's id is that key (:mod:`deconflict.runtime.events`: the webhooks
send the same events); a client that reconnects with ``Last-Event-ID`` gets every notification after
it, and every one addressed to it not yet delivered (created earlier but committed later, as happens
with several workers), so nothing is lost; a duplicate carries the same id. The stream waits for the
hub runner's wake-ups (every write and every detector run that produced notifications) and sends a
comment 15 s after it last sent anything, to keep an idle connection open (timed on the
connection alone: timed from the hub's last wake-up, it told any party when others wrote).
Finding what to send is a read, a page at a time (a long history is not read, held and written
at once), changing nothing until it returned (the store may run it again); what was sent to the
party is marked delivered after it was sent, in batches shared by every stream of the process
(:mod:`deconflict.runtime.deliveries`). A stream ends when the server stops
(:mod:`deconflict.api.closing`): the client reconnects with ``Last-Event-ID``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial

from fastapi import Request

from deconflict.api.service import service
from deconflict.hub import Hub
from deconflict.model import Notification
from deconflict.runtime.events import (
    EventKey,
    NotificationOut,
    Position,
    event_key,
    id_of_key,
    next_page,
    notifications_seen,
    resume_at,
)

__all__ = ["event_stream"]

_KEEPALIVE_S = 15.0
_PAGE = 256  # notifications read, shown and sent at a time
_monotonic = time.monotonic  # the connection's clock (a test's own in its place)


def _event(key: EventKey, shown: NotificationOut) -> bytes:
    body = shown.model_dump_json()
    return f"id: {id_of_key(key)}\nevent: notification\ndata: {body}\n\n".encode()


@dataclass(frozen=True)
class _Read:
    """What one read found: the events to send, the (id, when) of those it delivers to the
    party, the position after the page; once the page was the last, for now, the position
    in the party's undelivered notifications to read on from (None: from the first), the ids
    of those this read found there, and whether it read the last of them (caught up)."""

    events: list[tuple[EventKey, NotificationOut]]
    delivering: list[tuple[str, float]]
    position: Position | None
    late_position: Position | None = None
    undelivered: frozenset[str] = frozenset()
    caught_up: bool = False


async def event_stream(
    request: Request, party: str, cursor: EventKey | None, once: bool = False
) -> AsyncIterator[bytes]:
    """The stream after ``cursor`` (an event id parsed at the edge, before the stream
    starts, so a bad one is a 422 and not a 200 cut short)."""
    svc = service(request)
    # Sent on this connection and, as far as the last read knew, not yet marked delivered.
    sent: set[str] = set()

    def read(
        hub: Hub, after: Position | None, leave_out: EventKey | None, late: Position | None
    ) -> _Read:
        """The page after ``after``; once it is the last, the party's notifications not
        yet delivered and not sent here too, before it: created before the position but
        committed after the page that passed their time (another worker's), which the position
        alone would skip. Those are read a page at a time as well, after ``late`` (a cursor
        made up far ahead found every notification of a party's never delivered at once, a
        webhook-only party's whole history: a twenty-sixth reader), no more in all than a
        page. A read only, in one snapshot: run again as it is if the hub asks (nothing here
        is changed until it returned)."""
        page, position, rows = next_page(hub, party, after, leave_out, _PAGE)
        if rows == _PAGE:  # the undelivered are read on from where they were, once there
            return replace(_shown(hub, page, position), late_position=late)
        room = _PAGE - rows
        undelivered = hub.undelivered_after(party, late, room)
        on_page = {n.id for n in page}
        page = [n for n in undelivered if n.id not in on_page and n.id not in sent] + page
        shown = _shown(hub, page, position)
        if len(undelivered) == room:  # there may be more
            last = undelivered[-1]
            return replace(
                shown,
                late_position=(last.created_at_s, last.id),
                undelivered=frozenset(n.id for n in undelivered),
            )
        return replace(shown, undelivered=frozenset(n.id for n in undelivered), caught_up=True)

    def _shown(hub: Hub, page: list[Notification], position: Position | None) -> _Read:
        if not page:  # most wake-ups: nothing to show
            return _Read([], [], position)
        now = hub.clock.now()
        delivering = [n.id for n in page if n.recipient == party and n.undelivered]
        shown = [n.deliver(now) if n.id in delivering else n for n in page]
        seen = notifications_seen(hub, party, shown)
        events = list(zip(map(event_key, shown), seen, strict=True))
        return _Read(events, [(i, now) for i in delivering], position)

    def pending(
        hub: Hub, after: Position | None, leave_out: EventKey | None, late: Position | None
    ) -> _Read:
        return hub.store.in_snapshot(
            lambda: read(hub, after, leave_out, late), "reading a stream's next events"
        )

    yield b"retry: 1000\n\n"
    # When this connection last sent bytes: a keep-alive is due a period after, whatever wakes
    # the stream meanwhile. (Sent after a quiet period since the hub's last wake-up, another
    # party's write, a private plan's too, moved it: a ninth reader timed them by it.)
    last_sent = _monotonic()
    if not svc.runner.ready:
        return
    await svc.runner.settle(party)  # the first read shows the outcome of its writes before it
    position, leave_out = await svc.runner.run_beside(lambda hub: resume_at(hub, party, cursor))
    late: Position | None = None  # where the reading of the undelivered goes on from
    scanned: set[str] = set()  # the undelivered found since that reading began
    while svc.runner.ready:
        generation = svc.runner.generation
        found = await svc.runner.run_beside(
            partial(pending, after=position, leave_out=leave_out, late=late)
        )
        position, late = found.position, found.late_position
        if found.events:  # one write for the page: a send per event costs more than the event
            yield b"".join(_event(key, shown) for key, shown in found.events)
            last_sent = _monotonic()
            svc.metrics.events.inc(len(found.events))
        scanned |= found.undelivered
        if found.caught_up:  # the others sent here are marked: none comes again
            sent.intersection_update(scanned)
            scanned = set()
        sent.update(notification_id for notification_id, _ in found.delivering)
        svc.deliveries.add(found.delivering)
        if svc.closing or await request.is_disconnected():
            return
        if not found.caught_up:
            continue  # more to read at once
        if once:
            await svc.deliveries.flush()
            return
        if not found.events:
            due = last_sent + _KEEPALIVE_S
            await svc.runner.changed(max(0.0, due - _monotonic()), since=generation)
            if svc.closing or await request.is_disconnected():
                return
            if _monotonic() >= due:  # a quiet period on this connection: keep it open
                yield b": keep-alive\n\n"
                last_sent = _monotonic()
