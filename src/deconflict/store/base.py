"""The store interface: everything the hub persists, as small protocols by concern (who uses
what: see :mod:`deconflict.store`), and ``Store``, their union, which the hub holds.

Every write of the detector's inputs (parties, agreements, notices, plans) appends a sequenced
row to the change log in the same transaction as the write itself, and every write appends to
the ledger. The detector reads the log in order and commits its outputs (new and resolved
conflicts, notifications: an outbox) together with its cursor, the last sequence number it
processed, so a restart resumes exactly after it; its outputs and their deliveries are not
inputs, so they are in the ledger only. Implementations translate their driver's errors into
:mod:`deconflict.errors` (``StoreError``; ``InvalidInput`` for a duplicate id; ``NotFound``;
``VersionConflict``); callers never see a driver exception.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from deconflict.geo import Volume4D
from deconflict.model import (
    Agreement,
    Conflict,
    ConflictState,
    Notice,
    NoticeState,
    Notification,
    Party,
    Plan,
    RecordKind,
    Side,
)
from deconflict.store.ledger_base import LedgerStore

T = TypeVar("T")

if TYPE_CHECKING:
    from deconflict.store.lease import LeaseHolder
    from deconflict.store.service_state import ServiceState
    from deconflict.store.wakeup import ChangeSignal

__all__ = [
    "Change",
    "ChangeLog",
    "Conflicts",
    "Detection",
    "Detections",
    "Lease",
    "LivePage",
    "LiveRecord",
    "Notices",
    "Notifications",
    "Parties",
    "Plans",
    "Secrets",
    "Seen",
    "ServiceStates",
    "Store",
    "Units",
    "Wakeups",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One change-log row: ``kind`` is "<entity>.<verb>", e.g. "notice.amended".

    For notices and plans the row also says which version the record was at and its state after
    the change, so the log alone says what the record was at that point (the detector replays it).
    """

    seq: int
    kind: str
    #: the record's id: for a notice or plan, its record key (``model.ids.record_key``)
    entity_id: str
    at_s: float
    version: int | None = None
    state: str | None = None

    @property
    def entity(self) -> str:
        return self.kind.split(".", 1)[0]

    @property
    def verb(self) -> str:
        return self.kind.split(".", 1)[1]


@dataclass(frozen=True, slots=True)
class LiveRecord:
    """A notice or plan that was live at a change-log position, as it stood there: its record
    key, party and version, and that version's volumes as the store keeps them (JSON text,
    :mod:`deconflict.store.codec`), for the detector's rebuild to decode in bulk."""

    kind: RecordKind
    key: str
    party: str
    version: int
    volumes: str


@dataclass(frozen=True, slots=True)
class LivePage:
    """One page of :meth:`ChangeLog.live_records`: the live records among the next records in
    (kind, key) order, and where the next page starts (None: this was the last). A page may
    hold none and still not be the last."""

    records: list[LiveRecord]
    after: tuple[RecordKind, str] | None


@dataclass(frozen=True, slots=True)
class Seen:
    """Whose notices a viewer may see, for the store to find them (``policy.need_to_know.Sight``
    decides): ``whole``, the owners it sees all of; ``unlocked_by``, for an owner it sees under
    "conflicts-only", the (party, record kind) whose open conflicts that unlock a notice's
    volume disclose it (the store finds those notices from the conflicts; the caller checks
    each volume and version: ``policy.need_to_know``)."""

    whole: frozenset[str]
    unlocked_by: Mapping[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Detection:
    """The detector's outputs for one change-log row, committed with the cursor moving to ``seq``.

    ``new_conflicts`` whose id is already stored are skipped (the detector may meet a conflict
    twice after a restart; its id is derived from what it joins)."""

    seq: int
    at_s: float
    new_conflicts: Sequence[Conflict] = ()
    resolved_conflicts: Sequence[Conflict] = ()
    notifications: Sequence[Notification] = ()


class Units(Protocol):
    """Transactions: the unit of work, read snapshots and savepoints, and the store's own life
    (another on the same database for another thread; closing). Whoever groups calls into one
    commit needs this, and only this."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def unit_of_work(self, doing: str = "a unit of work") -> AbstractContextManager[None]:
        """Every store call made inside runs in one transaction, committed on leaving (one
        commit, one fsync, for many writes); an error undoes all of it."""

    @property
    @abstractmethod
    def in_unit(self) -> bool:
        """Whether calls made now run inside an open :meth:`unit_of_work`."""

    @abstractmethod
    def in_snapshot(self, read: Callable[[], T], doing: str = "reading") -> T:
        """``read()``, whose store reads all see one snapshot, in one transaction (no write may
        be made in it), run again if the database asks."""

    @abstractmethod
    def savepoint(self) -> AbstractContextManager[None]:
        """Inside a unit of work: the calls made inside are undone alone if they raise (the
        error propagates; the unit goes on). Outside one it does nothing."""

    @abstractmethod
    def twin(self) -> Self:
        """Another store on the same database with state of its own (for another thread)."""


class Wakeups(Protocol):
    """Wake-ups between processes on one database (only wake-ups: the woken read the log)."""

    @abstractmethod
    def change_signal(self, *channels: str) -> ChangeSignal:
        """Wake-ups from other processes (only wake-ups: read the log after) on ``channels``:
        :data:`deconflict.store.wakeup.CHANNEL` (the default), a commit;
        :data:`~deconflict.store.wakeup.NOTIFICATIONS`, detections committed."""

    @abstractmethod
    def announce_notifications(self, payload: str) -> None:
        """Wake the listeners of other processes: notifications were created or changed
        (a wake-up only; nothing on SQLite, where the detections' commit is seen instead)."""


class Secrets(Protocol):
    """The secrets every hub process on the database shares."""

    @abstractmethod
    def hub_secret(self, name: str) -> bytes:
        """A secret every hub process on the store shares and no party may learn
        (:mod:`deconflict.store.secrets`)."""


class Parties(Protocol):
    """Parties and the agreements between them."""

    @abstractmethod
    def add_party(self, party: Party, at_s: float) -> None: ...

    @abstractmethod
    def get_party(self, party_id: str) -> Party: ...

    @abstractmethod
    def list_parties(self) -> list[Party]: ...

    @abstractmethod
    def add_agreement(
        self,
        agreement: Agreement,
        at_s: float,
        check: Callable[[list[Agreement]], None] | None = None,
    ) -> None:
        """Store ``agreement``, once ``check`` (given the agreements stored, read in the same
        write transaction) raised nothing."""

    @abstractmethod
    def list_agreements(self) -> list[Agreement]: ...


class Notices(Protocol):
    """Notices, their versions, and what the clock moves."""

    @abstractmethod
    def add_notice(self, notice: Notice) -> None:
        """Store version 1 of a new notice (change "notice.filed" at its filing time)."""

    @abstractmethod
    def update_notice(self, notice: Notice, *, expected_version: int, verb: str) -> None:
        """Replace the stored notice if its version is still ``expected_version``, else
        VersionConflict; a new version is also kept in the notice's history. ``verb`` names the
        change ("amended", "cancelled", "activated", "ended")."""

    @abstractmethod
    def get_notice(self, key: str) -> Notice:
        """The notice of record key ``key`` (``model.ids.record_key``: a notice's id is its
        party's own, so the store keys notices, as plans, by party and id)."""

    @abstractmethod
    def get_notices(self, keys: Sequence[str]) -> dict[str, Notice]:
        """The notices of ``keys`` that exist, by key (read at once)."""

    @abstractmethod
    def get_notice_version(self, key: str, version: int) -> Notice:
        """A past version (its volumes and category; state as now)."""

    @abstractmethod
    def notice_volumes_at(
        self, asked: Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], Volume4D]:
        """Each volume of ``asked`` (notice key, volume id, version: a version it is in, as a
        conflict names it) that is stored, as it was at that version, read at once (one
        statement a few hundred, whatever they are), one lookup a volume asked, a volume asked
        twice looked up twice, and only the volume asked read: the caller's count, not the
        distinct notices' nor their size, sets the cost (security.md §3.5, §4.2)."""

    @abstractmethod
    def notices_in_part(self, asked: Sequence[tuple[str, str, int]]) -> dict[str, Notice]:
        """The notices of ``asked`` (notice key, volume id, the version a conflict names) each
        holding only the volumes asked that its newest version holds unchanged since that
        version (in id order), those that hold any: what is told of a notice seen in part,
        read without its other volumes (security.md §3.5), one lookup a volume asked, a volume
        asked twice looked up twice."""

    @abstractmethod
    def list_notices(
        self,
        party: str | None = None,
        states: Sequence[NoticeState] | None = None,
        *,
        active: tuple[float, float] | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
        keys: Sequence[str] | None = None,
        seen: Seen | None = None,
    ) -> list[Notice]:
        """Notices in filing order (time, then key): ``party``'s, in ``states``, active at some
        moment of ``active`` (start, end), filed after ``after`` (a filing time and key), of
        record ``keys``, of the owners ``seen`` sees whole; at most ``limit``."""

    @abstractmethod
    def notices_moved_by_time(self, now_s: float) -> list[str]:
        """The keys of the filed notices whose first volume has started by ``now_s`` and of the
        filed or active ones whose last volume has ended by then, in the order of
        ``list_notices``: what a tick at ``now_s`` moves (found by index, not by a scan)."""


class Plans(Protocol):
    """A party's own plans and their versions."""

    @abstractmethod
    def add_plan(self, plan: Plan) -> None: ...

    @abstractmethod
    def update_plan(self, plan: Plan, *, expected_version: int, verb: str) -> None: ...

    @abstractmethod
    def get_plan(self, key: str) -> Plan:
        """The plan of record key ``key`` (as :meth:`get_notice`)."""

    @abstractmethod
    def get_plan_version(self, key: str, version: int) -> Plan:
        """A past version (its volumes; state as now)."""

    @abstractmethod
    def list_plans(
        self,
        party: str | None = None,
        current_only: bool = True,
        *,
        after: str | None = None,
        limit: int | None = None,
        active: tuple[float, float] | None = None,
    ) -> list[Plan]:
        """Plans (of ``party``; current ones only) in creation order, those after the plan of
        key ``after`` (NotFound if there is none), at most ``limit``, only those active in
        ``active`` (start, end) if given."""


class ChangeLog(Protocol):
    """The change log as the detector and its watchers read it: rows, stored cursor, lag."""

    @abstractmethod
    def changes_after(self, seq: int, limit: int | None = None) -> list[Change]:
        """Change-log rows with a sequence number above ``seq``, in order."""

    @abstractmethod
    def live_records(
        self, upto_seq: int, after: tuple[RecordKind, str] | None = None, limit: int = 10_000
    ) -> LivePage:
        """The notices and plans live as the log stood at ``upto_seq`` (each record's last row
        up to it names a live state: a notice filed or active, a current plan), at the versions
        those rows name: the records after ``after`` in (kind, key) order, notices first, as
        many as ``limit`` change-log rows hold (so at most ``limit``), those not live left out
        of the page. What the detector's index holds at that position, read a page a query
        (two: where it ends, then its records)."""

    @abstractmethod
    def detector_cursor(self) -> int:
        """The last change-log sequence number the detector processed (0 at first)."""

    @abstractmethod
    def last_change(self) -> int:
        """The change log's last sequence number (0 while it is empty)."""

    @abstractmethod
    def detection_lag(self) -> int:
        """How many change-log rows lie beyond the detector's stored cursor: written, not yet
        detected (or detected with no outputs, whose cursor is stored within a second)."""


class Detections(Protocol):
    """What the detector writes: its outputs together with its cursor, fenced by the lease."""

    @abstractmethod
    def detector_time(self) -> float:
        """The time of the latest detection committed with outputs (conflicts or
        notifications), by any process, rounded up to the microsecond (-inf if none): a
        process that takes the detector over detects no earlier, so a notification's creation
        time follows the order the notifications were committed in, whatever the processes'
        clocks."""

    @abstractmethod
    def commit_detection(self, detection: Detection, fence: int | None = None) -> None:
        """Write the detector's outputs and move its cursor to ``detection.seq``, atomically;
        with ``fence``, only if the detector lease is still held under that token (else
        ``LeaseLost``, and nothing is written)."""

    @abstractmethod
    def commit_detections(self, detections: Sequence[Detection], fence: int | None = None) -> None:
        """:meth:`commit_detection` of several detections, in change-log order, atomically (the
        cursor ends at the last), in a few statements."""


class Lease(Protocol):
    """The detector lease (:mod:`deconflict.store.lease`); the WAL checkpoint its holder runs."""

    @abstractmethod
    def acquire_lease(
        self,
        now_s: float,
        ttl_s: float,
        held: int | None = None,
        pid: int = 0,
        preferred: bool = False,
    ) -> int | None:
        """Take the detector lease until ``now_s + ttl_s`` if it has expired, or extend it if
        ``held`` is its current token; the token it is held under, or None if another holds it.
        ``now_s`` is wall-clock time (never a simulated clock: holders compare it). ``pid``
        names the holder; a ``preferred`` one (a detector process) asks a holder that is not
        to give the lease back, and such a holder is told so at its next renewal (None, the
        lease left to it to store its cursor and release): :mod:`deconflict.store.lease`."""

    @abstractmethod
    def extend_lease(self, now_s: float, ttl_s: float, held: int) -> bool:
        """Extend the detector lease held under ``held`` until ``now_s + ttl_s`` (never
        shortening it); False if ``held`` is no longer its token."""

    @abstractmethod
    def lease_holder(self, now_s: float) -> LeaseHolder:
        """The detector lease's token and its holder's process id (0 if none holds it)."""

    @abstractmethod
    def release_lease(self, held: int) -> None:
        """Give up the detector lease now if ``held`` is still its token."""

    @abstractmethod
    def checkpoint(self) -> None:
        """Fold the database's write-ahead log back, if it is time: called by the detector
        lease holder's tick (one process does it, not every one)."""


class Conflicts(Protocol):
    """The conflicts the detector found."""

    @abstractmethod
    def get_conflict(self, conflict_id: str) -> Conflict: ...

    @abstractmethod
    def seen_conflicts(
        self, party: str, *, after: tuple[float, str] | None = None, limit: int | None = None
    ) -> list[Conflict]:
        """``party``'s conflicts whose other side is a notice (the ones it is shown), whatever
        their state, in detection order (time, then id): those after ``after`` (detection
        time, id), at most ``limit``; read without touching any other, nor more than a page."""

    @abstractmethod
    def told_conflicts(self, party: str, *, after_s: float) -> list[Conflict]:
        """``party``'s conflicts with a notice that it is shown open past ``after_s`` at most
        (``Conflict.told_until``), whatever their state, in detection order: read without
        touching any other, nor one whose window as told ended before."""

    @abstractmethod
    def open_conflicts_with(self, party: str, owners: Collection[str]) -> list[Conflict]:
        """``party``'s conflicts open in the store with a notice of one of ``owners`` (parties
        it sees whole, itself included), in detection order: read without touching any other,
        nor a resolved one."""

    @abstractmethod
    def a_seen_conflict(self, party: str) -> str | None:
        """The id of one of ``party``'s conflicts with a notice (None if none), found at the
        same cost whichever it is."""

    @abstractmethod
    def unlocking_conflicts(self, seen: Seen, *, now_s: float) -> list[tuple[Conflict, Side]]:
        """The conflicts, whatever their state, by which a record of ``seen.unlocked_by[owner]``
        unlocks a volume of one of the owner's notices and that the owner is shown open past
        ``now_s`` at most (``Conflict.told_until``), each with the side it unlocks, in
        detection order; read without touching any other (the caller checks each as it is
        shown: ``hub.sight``)."""

    @abstractmethod
    def list_conflicts(
        self,
        party: str | None = None,
        state: ConflictState | None = None,
        record: tuple[RecordKind, str] | None = None,
        notices: Sequence[str] | None = None,
        resolved_after: float | None = None,
    ) -> list[Conflict]:
        """Conflicts with ``party`` on either side, in ``state`` (or, given ``resolved_after``,
        resolved after it), involving ``record`` (its kind and record key), involving one of
        the notices of record keys ``notices``."""


class Notifications(Protocol):
    """The outbox: notifications, their deliveries and acknowledgements."""

    @abstractmethod
    def get_notification(self, notification_id: str) -> Notification: ...

    @abstractmethod
    def list_notifications(
        self,
        party: str | None = None,
        *,
        include_relayed: bool = True,
        since_s: float | None = None,
        undelivered: bool = False,
        ack_due_by_s: float | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
    ) -> list[Notification]:
        """Notifications to ``party`` (and, with ``include_relayed``, those routed through it),
        oldest first (by creation time, then id); only those created at or after ``since_s``;
        with ``undelivered`` only those never delivered; with ``ack_due_by_s`` only those
        pending or delivered whose acknowledgement deadline is at or before it; with ``after``
        (a creation time and id) only those after it in that order; at most ``limit``."""

    @abstractmethod
    def get_notifications(self, ids: Sequence[str]) -> list[Notification]:
        """The notifications of ``ids`` that exist, oldest first (by creation time, then id)."""

    @abstractmethod
    def latest_notifications(
        self, party: str, conflicts: Sequence[str], notices: Sequence[str]
    ) -> list[Notification]:
        """The latest notification to ``party`` about each of ``conflicts`` (by id) and each of
        ``notices`` (by key, about the notice and no conflict), where there is one: what is
        about each, whatever else the party was told."""

    @abstractmethod
    def notifications_after(
        self, party: str, after: tuple[float, str] | None, limit: int
    ) -> list[Notification]:
        """The next ``limit`` notifications to ``party`` or relayed through it after the
        position ``after`` (a created time and an id; None: from the first) in the store's
        order, ``list_notifications``', in a query made for being asked very often (an event
        stream asks at every wake-up)."""

    @abstractmethod
    def undelivered_after(
        self, party: str, after: tuple[float, str] | None, limit: int
    ) -> list[Notification]:
        """The next ``limit`` notifications to ``party`` neither delivered nor queued as sent
        (see :meth:`queue_deliveries`) after the position ``after`` (None: from the first),
        in the store's order: a seek in an index that holds only those (a stream asks once
        caught up, a page at a time)."""

    @abstractmethod
    def queue_deliveries(self, sent: Sequence[tuple[str, float]]) -> None:
        """Record that each notification of ``sent`` (its id and when it was sent) was sent, for
        :meth:`mark_queued_deliveries` to mark delivered: a plain insert (one already queued
        keeps its first time), cheap enough to share the commit of a process's filings."""

    @abstractmethod
    def mark_queued_deliveries(self, limit: int) -> list[Notification]:
        """Mark delivered (as :meth:`mark_delivered`) at most ``limit`` of the queued
        notifications, oldest sent first, and take them off the queue, in one transaction;
        those it marked. No write at all when none is queued."""

    @abstractmethod
    def mark_delivered(self, sent: Sequence[tuple[str, float]]) -> list[Notification]:
        """Mark each notification of ``sent`` (its id and when it was sent) delivered at that
        time, in one transaction, unless it was delivered or acknowledged meanwhile (read in the
        same transaction, so a later acknowledgement is never overwritten); those it marked. The
        ledger records them in one ``notifications.delivered`` entry per recipient and relay,
        which each of them links."""

    @abstractmethod
    def update_notification(self, notification: Notification, verb: str) -> None:
        """Store a notification's new state ("acknowledged", "escalated"; "delivered" with an
        entry of its own, where :meth:`mark_delivered` writes one entry for a batch)."""

    @abstractmethod
    def update_notifications(self, notifications: Sequence[Notification], verb: str) -> None:
        """:meth:`update_notification` of each, atomically, in a few statements."""


class ServiceStates(Protocol):
    """The service state every hub process on the database shares (stored Idempotency-Key
    responses, webhooks): the runtime's, kept in the store's database and transactions."""

    @abstractmethod
    def service_state(self) -> ServiceState:
        """The shared service state, on this store's transactions (joining its unit of work)."""


class Store(
    Units,
    Wakeups,
    Secrets,
    Parties,
    Notices,
    Plans,
    ChangeLog,
    Detections,
    Lease,
    Conflicts,
    Notifications,
    ServiceStates,
    LedgerStore,
    Protocol,
):
    """Everything the hub persists: the union of the protocols above, which the hub, the one
    place that composes the store with the rest, holds. Every other user of the store takes the
    narrowest of them (or a union of a few) it needs."""
