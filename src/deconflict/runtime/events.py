"""A party's notifications as events: the document each carries and the id that orders them.

The event stream (``GET /v1/events``) and the webhooks send the same events: each a
notification as its party may see it (``hub.views``: a notice its agreements do not disclose is
not named), with the id ``<created microseconds>.<notification id>``, in the store's order of
a party's notifications (created time, then id), read a page at a time after a position in it
(:func:`next_page`). A client resumes after an id (``Last-Event-ID``; :func:`resume_at` finds
the position again), a webhook's cursor is one; either way a duplicate carries the same id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from deconflict.errors import InvalidInput
from deconflict.geo.units import epoch_to_rfc3339
from deconflict.hub import Hub
from deconflict.hub.views import view_notifications
from deconflict.model import Notification

__all__ = [
    "EventKey",
    "NotificationOut",
    "Position",
    "event_id",
    "event_key",
    "id_of_key",
    "next_page",
    "notification_out",
    "notifications_seen",
    "parse_event_id",
    "resume_at",
]

#: A notification's place in its party's events: (created microseconds, notification id).
EventKey = tuple[int, str]
_MICROS_MAX = 2**63 - 1  # an event id's time, in microseconds: a 64-bit integer
# ASCII digits only: ``str.isdigit`` also takes "¹" (a latin-1 header byte), which ``int``
# then refuses.
_UNSIGNED = re.compile(r"[0-9]+")


def event_key(notification: Notification) -> EventKey:
    return round(notification.created_at_s * 1e6), notification.id


def id_of_key(key: EventKey) -> str:
    """The event id of ``key``, ``<created microseconds>.<notification id>``."""
    return f"{key[0]}.{key[1]}"


def event_id(notification: Notification) -> str:
    return id_of_key(event_key(notification))


def parse_event_id(text: str | None) -> EventKey | None:
    """The key of an event id (None for none); InvalidInput for anything else: its parts are
    what the store can compare (a 64-bit time, an id)."""
    if text is None or not text.strip():
        return None
    micros, dot, rest = text.strip().partition(".")
    if not dot or not _UNSIGNED.fullmatch(micros) or len(micros) > 19 or int(micros) > _MICROS_MAX:
        raise InvalidInput("not an event id of this stream")
    if not rest or len(rest) > 256 or not rest.isprintable():  # ids of older stores too
        raise InvalidInput("not an event id of this stream")
    return int(micros), rest


#: A notification's place in the store's order of a party's notifications: (created time, id).
#: Readers page by it; an event id keeps the time to the microsecond only, which is not enough
#: to find the place again (notifications of two passes can share a microsecond).
Position = tuple[float, str]


def resume_at(
    hub: Hub, party: str, key: EventKey | None
) -> tuple[Position | None, EventKey | None]:
    """Where ``party``'s reader resuming after the event ``key`` reads from, and the key
    :func:`next_page` leaves out what is at or before (None: nothing): right after the
    notification ``key`` names, if it is one of the party's with that time, which is exact
    whatever the order of that microsecond's ids and the database's collation; else (an id
    made up, another party's, of an older store) from a microsecond before its time, every id
    of that time."""
    if key is None:
        return None, None
    named = hub.get_notifications(party, [key[1]])
    if named and event_key(named[0]) == key:
        return (named[0].created_at_s, named[0].id), None
    return ((key[0] - 1) / 1e6, ""), key


def next_page(
    hub: Hub, party: str, after: Position | None, leave_out: EventKey | None, limit: int
) -> tuple[list[Notification], Position | None, int]:
    """``party``'s next ``limit`` notifications after the position ``after`` (None: from the
    first), in the store's order, those at or before the event ``leave_out`` left out; the
    position after them and how many rows were read (fewer than ``limit``: the end, for now)."""
    found = hub.store.notifications_after(party, after, limit)
    if not found:
        return [], after, 0
    kept = [n for n in found if leave_out is None or event_key(n) > leave_out]
    return kept, (found[-1].created_at_s, found[-1].id), len(found)


class NotificationOut(BaseModel):
    id: str
    recipient: str
    kind: str
    state: str
    notice_id: str | None
    notice_party: str | None = Field(
        None, description="Whose notice ``notice_id`` is (a notice's id is its party's own)."
    )
    conflict_id: str | None
    via: str | None
    created_at: str
    ack_deadline: str
    lead_time_s: float
    delivered_at: str | None
    acknowledged_at: str | None
    escalated_at: str | None


def notifications_seen(
    hub: Hub, party: str, notifications: Sequence[Notification]
) -> list[NotificationOut]:
    """``party``'s view of notifications (``hub.views``): a notice its agreements do not
    disclose is not named."""
    return [notification_out(n) for n in view_notifications(hub, party, notifications)]


def notification_out(notification: Notification) -> NotificationOut:
    """A notification as parties see it (as one party sees it: see ``notifications_seen``)."""
    n = notification
    return NotificationOut(
        id=n.id,
        recipient=n.recipient,
        kind=str(n.kind),
        state=str(n.state),
        notice_id=n.notice_id,
        notice_party=n.notice_party,
        conflict_id=n.conflict_id,
        via=n.via,
        created_at=epoch_to_rfc3339(n.created_at_s),
        ack_deadline=epoch_to_rfc3339(n.ack_deadline_s),
        lead_time_s=n.lead_time_s,
        delivered_at=_time(n.delivered_at_s),
        acknowledged_at=_time(n.acknowledged_at_s),
        escalated_at=_time(n.escalated_at_s),
    )


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else epoch_to_rfc3339(seconds)
