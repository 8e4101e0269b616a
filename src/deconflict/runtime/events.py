"""A party's notifications as events: the document each carries and the id that orders them.

The event stream (``GET /v1/events``) and the webhooks send the same events: each a
notification as its party may see it (``hub.views``: a notice its agreements do not disclose is
not named), with the id ``<created microseconds>.<notification id>``, the store's order of a
party's notifications. A client resumes after an id (``Last-Event-ID``), a webhook's cursor is
one; either way a duplicate carries the same id.
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
    "event_id",
    "event_key",
    "id_of_key",
    "notification_out",
    "notifications_seen",
    "parse_event_id",
    "read_after",
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


#: The ids the hub gives notifications ("M-" and a keyed digest's hex digits): ordered alike by
#: code point and in any database collation.
_HUB_ID = re.compile(r"M-[0-9a-f]+")


def read_after(key: EventKey) -> tuple[float, tuple[float, str] | None]:
    """What a store read after ``key`` asks (``Store.notifications_since``): the time from a
    microsecond before it, and, for an id the hub gives, only those of its microsecond with an
    id after it (a pass's notifications share its time: read again at every wake-up, the
    whole pass was). The bounds are wide enough for the float's rounding either way: what
    they let through the reader drops by the exact key. For another id (an older store's, or
    made up), the time alone: the database compares ids in its collation, where such an id
    may order otherwise than by code point (an ICU database put "M-a" before "M-G"), and the
    stream lost the party's own notifications after it (a nineteenth reader)."""
    micros, after_id = key
    since_s = (micros - 1) / 1e6
    if not _HUB_ID.fullmatch(after_id):
        return since_s, None
    return since_s, ((micros + 0.25) / 1e6, after_id)


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
