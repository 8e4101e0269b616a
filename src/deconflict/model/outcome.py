"""What the detector produces: conflicts, and the notifications that tell parties about things.

A conflict joins one volume of a record (notice or plan) of one party to one volume of another
party's record, at given versions; it is open until either side changes or goes away:

    open -> resolved

A notification tells one recipient party about a notice, a conflict or a change, possibly routed
through a relay party:

    pending -> delivered -> acknowledged
    pending | delivered -> escalated        (its acknowledgement deadline passed)
    pending | escalated -> acknowledged     (acknowledging also counts as receipt)

Lead time is how long before the conflict (or the notice's activity) starts the recipient was
told; it is negative when the recipient was told late.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from deconflict.engine import ConflictDetail
from deconflict.errors import InvalidInput, InvalidTransition
from deconflict.model.ids import record_key

__all__ = [
    "Conflict",
    "ConflictState",
    "Notification",
    "NotificationKind",
    "NotificationState",
    "RecordKind",
    "Side",
]


class RecordKind(StrEnum):
    NOTICE = "notice"
    PLAN = "plan"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a conflict: which party's record, at which version, and which volume."""

    kind: RecordKind
    record_id: str
    version: int
    volume_id: str
    party: str

    @property
    def record_key(self) -> str:
        """The hub-wide key of the record (``model.ids.record_key``)."""
        return record_key(self.party, self.record_id)

    @property
    def key(self) -> str:
        """The engine index key of this volume (version-free)."""
        return f"{self.kind}:{self.party}/{self.record_id}:{self.volume_id}"


class ConflictState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Conflict:
    """Side ``a`` (the change that revealed it) meets side ``b`` closer than the agreed minima.

    ``a_unlocks`` (``b_unlocks``) says whether side a's (b's) volume discloses the other under
    a "conflicts-only" agreement (``policy.need_to_know.unlocks``), as decided at detection;
    ``a_masked`` (``b_masked``) is what side a's (b's) party is told of the conflict when it may
    not see the other side, at the agreement's resolution (``policy.need_to_know``).
    ``more_pairs``: the two records met in more pairs of volumes than their conflicts list when
    it was found (``hub.pairs``: at most ``PAIRS_LISTED`` a pair of records)."""

    id: str
    a: Side
    b: Side
    detail: ConflictDetail
    detected_at_s: float
    state: ConflictState = ConflictState.OPEN
    resolved_at_s: float | None = None
    a_unlocks: bool = True
    b_unlocks: bool = True
    a_masked: ConflictDetail | None = None
    b_masked: ConflictDetail | None = None
    more_pairs: bool = False

    @property
    def parties(self) -> tuple[str, str]:
        return (self.a.party, self.b.party)

    @property
    def sides(self) -> tuple[Side, Side]:
        return (self.a, self.b)

    @property
    def lead_time_s(self) -> float:
        """Conflict start minus when the parties were told (at detection); negative when late."""
        return self.detail.start_s - self.detected_at_s

    def side_of(self, party: str) -> Side | None:
        """The side that belongs to ``party``, if any."""
        if self.a.party == party:
            return self.a
        if self.b.party == party:
            return self.b
        return None

    def other_side(self, party: str) -> Side | None:
        if self.a.party == party:
            return self.b
        if self.b.party == party:
            return self.a
        return None

    def masked_for(self, party: str) -> ConflictDetail | None:
        """What ``party`` is told of the conflict when it may not see the other side (None
        where the conflict was recorded without it)."""
        if self.a.party == party:
            return self.a_masked
        if self.b.party == party:
            return self.b_masked
        return None

    def told_until(self, party: str) -> float:
        """Until when ``party`` is shown the conflict open when it may not see the other side,
        at most: the end of the window it is told (never before detection); for ever where
        none was recorded (``policy.need_to_know.seen_conflict``)."""
        masked = self.masked_for(party)
        return math.inf if masked is None else max(masked.end_s, self.detected_at_s)

    def unlocks(self, party: str) -> bool:
        """Whether ``party``'s side discloses the other side under "conflicts-only"."""
        if self.a.party == party:
            return self.a_unlocks
        if self.b.party == party:
            return self.b_unlocks
        return False

    def resolve(self, at_s: float) -> Conflict:
        if self.state is not ConflictState.OPEN:
            raise InvalidTransition(f"conflict {self.id!r} is already resolved")
        return replace(self, state=ConflictState.RESOLVED, resolved_at_s=at_s)


class NotificationKind(StrEnum):
    NOTICE = "notice"
    CONFLICT = "conflict"
    CHANGE = "change"


class NotificationState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"


@dataclass(frozen=True, slots=True)
class Notification:
    """What the hub tells ``recipient``, about ``notice_party``'s notice ``notice_id`` and/or
    ``conflict_id``.

    ``via`` is the relay party it was routed through (None when sent directly).
    ``ack_deadline_s`` is absolute (epoch seconds); ``lead_time_s`` is the recipient's lead time.
    ``discloses_notice`` says whether the recipient could see the notice when told (else the
    notification is shown, and recorded in the ledger, without naming it); ``private`` that it
    is about the recipient's own plan (never relayed: plans are private, see security.md §3).
    """

    id: str
    recipient: str
    kind: NotificationKind
    created_at_s: float
    ack_deadline_s: float
    lead_time_s: float
    notice_id: str | None = None
    conflict_id: str | None = None
    via: str | None = None
    notice_party: str | None = None
    discloses_notice: bool = True
    private: bool = False
    state: NotificationState = NotificationState.PENDING
    delivered_at_s: float | None = None
    acknowledged_at_s: float | None = None
    escalated_at_s: float | None = None

    def __post_init__(self) -> None:
        if (self.notice_id is None) != (self.notice_party is None):
            raise InvalidInput(
                f"notification {self.id!r}: a notice is named by its party and its id, both"
            )

    @property
    def notice_key(self) -> str | None:
        """The hub-wide key of the notice it tells of, if any."""
        if self.notice_id is None or self.notice_party is None:
            return None
        return record_key(self.notice_party, self.notice_id)

    @property
    def undelivered(self) -> bool:
        """Not received yet: never delivered, nor acknowledged (which counts as received)."""
        return self.delivered_at_s is None and self.state is not NotificationState.ACKNOWLEDGED

    def deliver(self, at_s: float) -> Notification:
        """Mark as received; an escalated notification stays escalated but records receipt."""
        if not self.undelivered:
            raise InvalidTransition(f"notification {self.id!r} was already delivered")
        state = self.state
        if state is NotificationState.PENDING:
            state = NotificationState.DELIVERED
        return replace(self, state=state, delivered_at_s=at_s)

    def acknowledge(self, at_s: float) -> Notification:
        if self.state is NotificationState.ACKNOWLEDGED:
            raise InvalidTransition(f"notification {self.id!r} was already acknowledged")
        delivered = self.delivered_at_s if self.delivered_at_s is not None else at_s
        return replace(
            self,
            state=NotificationState.ACKNOWLEDGED,
            delivered_at_s=delivered,
            acknowledged_at_s=at_s,
        )

    def escalate(self, at_s: float) -> Notification:
        if self.state not in (NotificationState.PENDING, NotificationState.DELIVERED):
            raise InvalidTransition(f"notification {self.id!r} is {self.state}: cannot escalate")
        if at_s < self.ack_deadline_s:
            raise InvalidTransition(f"notification {self.id!r}: its deadline has not passed")
        return replace(self, state=NotificationState.ESCALATED, escalated_at_s=at_s)
