"""The ledger's entries as the store makes them: what each is built from, read where it is not
at hand, and the commitments entries refer to, as one transaction sees them.

The entries themselves (what each names in the clear and the commitment it makes or refers to)
are built by :mod:`deconflict.ledger.entries`, from plain values; this module gives it those
values: the record the store is writing (a notice, a conflict, a notification), as a mapping,
when it has it, so appending reads nothing back, else the row (an agreement's document, a
party's name, a notification or conflict not at hand); and the commitments an entry refers to,
looked up once per transaction (:class:`Commitments`), many at a time. A commitment's salt and
content stay private (in the columns of the entry that made it, never in its public body; a
notice version's content is the version's own row). A plan's changes are its owner's private
entries (never in the shared log: a plan is private even as metadata), so that ``ledger verify``
finds a plan deleted or changed too. What each entry commits to is written in docs/ledger.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa

from deconflict.geo.units import rfc3339_micro
from deconflict.ledger import entries
from deconflict.ledger.entries import Built, Told, subject_of
from deconflict.model import Conflict, Notice, Notification, Plan, RecordKind
from deconflict.model.ids import split_key
from deconflict.store import ledger_tables as lt
from deconflict.store import schema as t
from deconflict.store.codec import volume_to_dict
from deconflict.store.rows import conflict_values, notification_values
from deconflict.store.tx import Tx

__all__ = [
    "DELIVERED",
    "DELIVERIES",
    "DIGEST",
    "NOTICE",
    "NOTIFICATION",
    "PRIVATE",
    "VERSION_ENTRIES",
    "Built",
    "Commitments",
    "Delivered",
    "Digest",
    "Record",
    "build_entry",
    "notice_content_object_of",
    "notice_entry_of",
    "notice_values",
    "private_owner",
    "rfc3339",
    "subject_of",
]


class Delivered(NamedTuple):
    """The record of a ``notifications.delivered`` change: notifications delivered to one
    recipient (through one relay, or none) in one write, recorded by one entry, which each of
    them links (``notifications.delivery_ledger_idx``, migration 0012)."""

    recipient: str
    via: str | None
    notifications: tuple[Notification, ...]


class Digest(NamedTuple):
    """The record of a ``private.digest`` change: the leaf hashes (hex) of ``party``'s private
    entries since its last digest, in order (maybe none), for period ``period``, but those
    withheld from it, committed to in ``withheld`` (``ledger.entries.withheld_commitment``)."""

    party: str
    period: int
    leaves: tuple[str, ...]
    withheld: str


#: What a change-log row may carry about its record (None: read it from its table).
Record = Notice | Plan | Conflict | Notification | Delivered | Digest | None

#: The entity of a party's digest of its private entries: type ``private.digest``, subject
#: ``private:<party>``, version the period (see :mod:`deconflict.store.ledger_private`).
PRIVATE = "private"
DIGEST = f"{PRIVATE}.digest"


def private_owner(record: Record) -> str | None:
    """The party whose private entries an entry of ``record`` belongs with, if any: what
    concerns a party's own plan (a conflict with it, the notifications of that conflict, their
    deliveries) is its alone, kept out of the shared log (security.md §3.4)."""
    if isinstance(record, Conflict):
        for side in (record.a, record.b):
            if side.kind is RecordKind.PLAN:
                return side.party
        return None
    if isinstance(record, Notification):
        return record.recipient if record.private else None
    if isinstance(record, Plan):
        return record.party
    if (
        isinstance(record, Delivered)
        and record.notifications
        and all(n.private for n in record.notifications)
    ):
        return record.recipient
    return None


_LOOKUP_CHUNK = 500  # subjects per IN (...) lookup

#: The entity of a batch of deliveries' entry: type ``notifications.delivered``, subject
#: ``notifications:<recipient>``.
DELIVERIES = "notifications"
DELIVERED = f"{DELIVERIES}.delivered"


def rfc3339(at_s: float | None) -> str | None:
    """An entry's time: ``2015-11-16T20:00:00Z``, microseconds only when there are any."""
    return None if at_s is None else rfc3339_micro(at_s)


_e = lt.ledger_entries.c
_v = t.notice_versions.c
NOTICE = "notice:"
NOTIFICATION = "notification:"
#: Each notice version beside the ledger entry that commits to it (its link, migration 0009).
VERSION_ENTRIES = t.notice_versions.join(lt.ledger_entries, _e.idx == _v.ledger_idx)
# A notice version's commitment: from the version's link to its entry.
_LINKED_NEWEST = (
    sa.select(_v.notice_id, _v.version, _e.commitment)
    .select_from(VERSION_ENTRIES)
    .where(_v.notice_id.in_(sa.bindparam("ids", expanding=True)), _e.salt.is_not(None))
    .order_by(_v.version)
)
_LINKED_AT_VERSION = (
    sa.select(_e.commitment)
    .select_from(VERSION_ENTRIES)
    .where(
        _v.notice_id == sa.bindparam("id"),
        _v.version == sa.bindparam("version"),
        _e.salt.is_not(None),
    )
)
# Any other subject's (a conflict's, an agreement's): by the subject index.
_NEWEST = (
    sa.select(_e.subject, _e.version, _e.commitment, _e.idx)
    .where(
        _e.subject.in_(sa.bindparam("subjects", expanding=True)),
        _e.salt.is_not(None),
        lt.SUBJECT_INDEXED,
    )
    .order_by(_e.idx)
)
_AT_VERSION = (
    sa.select(_e.commitment)
    .where(
        _e.subject == sa.bindparam("subject"),
        _e.version == sa.bindparam("version"),
        _e.salt.is_not(None),
        lt.SUBJECT_INDEXED,
    )
    .limit(1)
)


#: (version, commitment) of a subject's newest commitment; (None, None) if it has none.
Newest = tuple[int | None, str | None]


class Commitments:
    """The newest commitment to each subject as one transaction sees it: read from the ledger
    once, then kept up to date by the appends the transaction makes (which may not be written
    yet: every commitment they made is kept too, by version). Each change is logged, so going
    back to a savepoint's :meth:`snapshot` costs what was done since, not the whole."""

    def __init__(self) -> None:
        self._newest: dict[str, tuple[int | None, str | None]] = {}
        self._made: dict[tuple[str, int], str] = {}
        self._undo: list[tuple[dict[Any, Any], Any, Any]] = []
        #: the newest commitment of each subject as read from the store (not as made since)
        self.read: dict[str, Newest] = {}

    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        self._undo.append((table, key, table.get(key)))
        table[key] = value

    def fetch(self, c: Tx, subjects: Iterable[str]) -> None:
        """Read the newest commitments of ``subjects`` not known yet, in a few queries."""
        missing = sorted({s for s in subjects if s not in self._newest})
        for lo in range(0, len(missing), _LOOKUP_CHUNK):
            chunk = missing[lo : lo + _LOOKUP_CHUNK]
            for subject in chunk:
                self._set(self._newest, subject, (None, None))
            notices = [s[len(NOTICE) :] for s in chunk if s.startswith(NOTICE)]
            others = [s for s in chunk if not s.startswith(NOTICE)]
            if notices:  # oldest first: newest wins
                for linked in c.execute(_LINKED_NEWEST, {"ids": notices}):
                    self._newest[NOTICE + linked.notice_id] = (linked.version, linked.commitment)
            if others:
                for row in c.execute(_NEWEST, {"subjects": others}):
                    self._newest[row.subject] = (row.version, row.commitment)
            self.read.update((subject, self._newest[subject]) for subject in chunk)

    def still_newest(self, c: Tx, read: Mapping[str, Newest]) -> bool:
        """Whether the newest commitment of each subject of ``read`` (what another transaction
        read, see :func:`~deconflict.store.ledger_append.prebuild`) is what this one sees."""
        self.fetch(c, read)
        return all(self._newest[subject] == seen for subject, seen in read.items())

    def newest(self, c: Tx, subject: str) -> tuple[int | None, str | None]:
        """(version, commitment) of the newest commitment to ``subject``, (None, None) if none."""
        self.fetch(c, (subject,))
        return self._newest[subject]

    def at(self, c: Tx, subject: str, version: int) -> str | None:
        """The commitment to ``subject`` at ``version``, if one was made."""
        newest_version, commitment = self.newest(c, subject)
        if newest_version == version:
            return commitment
        made = self._made.get((subject, version))
        if made is not None or newest_version is None:  # made here, or none ever stored
            return made
        if subject.startswith(NOTICE):
            query = _LINKED_AT_VERSION
            found = c.execute(query, {"id": subject[len(NOTICE) :], "version": version}).scalar()
        else:
            found = c.execute(_AT_VERSION, {"subject": subject, "version": version}).scalar()
        return None if found is None else str(found)

    def made(self, subject: str, version: int, commitment: str) -> None:
        """Note a commitment appended by this transaction (the newest to its subject)."""
        self._set(self._newest, subject, (version, commitment))
        self._set(self._made, (subject, version), commitment)

    def snapshot(self) -> int:
        """Where things stand now (to :meth:`restore` when appends after it are undone)."""
        return len(self._undo)

    def restore(self, snapshot: int) -> None:
        while len(self._undo) > snapshot:
            table, key, value = self._undo.pop()
            if value is None:
                del table[key]
            else:
                table[key] = value


class _Refs(NamedTuple):
    """The commitments an entry refers to, as ``known`` finds them in ``c``
    (:class:`deconflict.ledger.entries.Refs`)."""

    c: Tx
    known: Commitments

    def at(self, subject: str, version: int) -> str | None:
        return self.known.at(self.c, subject, version)

    def told(self, key: str) -> Told:
        version, commitment = self.known.newest(self.c, subject_of("notice", key))
        party, notice_id = split_key(key)
        return Told(party, notice_id, version, commitment)


def notice_values(notice: Notice) -> dict[str, Any]:
    """A notice as its entry and the content its version commits to are built from
    (:func:`deconflict.ledger.entries.notice`): its volumes as the store keeps them."""
    return {
        "id": notice.id,
        "key": notice.key,
        "party": notice.party,
        "version": notice.version,
        "state": str(notice.state),
        "category": notice.category,
        "volumes": [volume_to_dict(v) for v in notice.volumes],
    }


def notice_content_object_of(
    key: str, party: str, version: int, category: str, volumes: str
) -> dict[str, Any]:
    """What a notice version's commitment is to
    (:func:`~deconflict.ledger.entries.notice_content_object`) of the version as the store keeps
    it (its record key, the party its row names, and its volumes as the JSON text of its row):
    what the ledger's opening of a notice version holds."""
    return entries.notice_content_object(
        {
            "id": split_key(key)[1],
            "party": party,
            "version": version,
            "category": category,
            "volumes": json.loads(volumes),
        }
    )


def notice_entry_of(
    c: Tx,
    kind: str,
    notice: Notice,
    at_s: float,
    known: Commitments,
    salt: bytes | None = None,
) -> Built:
    """A notice change's entry (:func:`deconflict.ledger.entries.notice`): a new version
    commits to its content (salted with ``salt``, if given, else a fresh one), any other change
    refers to the version's commitment."""
    return entries.notice(kind, notice_values(notice), rfc3339_micro(at_s), _Refs(c, known), salt)


def notice_subjects(records: Iterable[Record]) -> list[str]:
    """The notice subjects the entries of these notifications refer to (to fetch at once)."""
    found = []
    for r in records:
        for n in r.notifications if isinstance(r, Delivered) else (r,):
            if isinstance(n, Notification) and n.notice_key is not None:
                found.append(subject_of("notice", n.notice_key))
    return found


def _row(c: Tx, table: sa.Table, entity_id: str) -> Mapping[str, Any]:
    """The stored row of ``entity_id`` in ``table`` (a record not at hand)."""
    return dict(c.execute(sa.select(table).where(table.c.id == entity_id)).one()._mapping)


def _delivered_values(n: Notification) -> dict[str, Any]:
    """A notification as a deliveries entry names it (:func:`deconflict.ledger.entries.deliveries`):
    what it reads of :func:`~deconflict.store.rows.notification_values`, alone (a batch may hold
    thousands)."""
    return {
        "id": n.id,
        "kind": str(n.kind),
        "notice_id": n.notice_key,
        "discloses_notice": n.discloses_notice,
        "conflict_id": n.conflict_id,
        "created_at_s": n.created_at_s,
        "delivered_at_s": n.delivered_at_s,
    }


def _plan_values(plan: Plan) -> dict[str, Any]:
    """A plan as its entry is built from (:func:`deconflict.ledger.entries.plan`)."""
    return {
        "id": plan.id,
        "key": plan.key,
        "party": plan.party,
        "version": plan.version,
        "state": str(plan.state),
        "volumes": [volume_to_dict(v) for v in plan.volumes],
    }


def build_entry(
    c: Tx,
    kind: str,
    entity_id: str,
    at_s: float,
    record: Record,
    known: Commitments | None = None,
) -> Built | None:
    """The ledger entry for change ``kind`` of ``entity_id`` (``record``, when the caller has
    it, is the record as written; else it is read): its type, canonical JSON and the opening it
    keeps (if it makes a new commitment), or None if the change is not recorded. ``known``: the
    commitments the transaction has seen so far."""
    entity = kind.split(".", 1)[0]
    refs = _Refs(c, known if known is not None else Commitments())
    at = rfc3339_micro(at_s)
    if entity == "notice" and isinstance(record, Notice):
        return entries.notice(kind, notice_values(record), at, refs)
    if entity == "notification":
        row: Mapping[str, Any]
        if isinstance(record, Notification):
            row = notification_values(record)
        else:
            row = _row(c, t.notifications, entity_id)
        return entries.notification(kind, row, at, rfc3339, refs)
    if entity == DELIVERIES:
        if not isinstance(record, Delivered):
            raise TypeError(f"a {kind} entry is built from its Delivered record")
        rows = [_delivered_values(n) for n in record.notifications]
        return entries.deliveries(kind, record.recipient, record.via, rows, at, rfc3339, refs)
    if entity == "conflict":
        if isinstance(record, Conflict):
            return entries.conflict(kind, conflict_values(record), at, refs)
        return entries.conflict(kind, _row(c, t.conflicts, entity_id), at, refs)
    if entity == "agreement":
        agreements = t.agreements.c
        body = c.execute(sa.select(agreements.body).where(agreements.id == entity_id)).scalar()
        content = json.loads(body) if body is not None else None
        return entries.agreement(kind, entity_id, content, at, refs)
    if entity == "party":
        name = c.execute(sa.select(t.parties.c.name).where(t.parties.c.id == entity_id)).scalar()
        return entries.party(kind, entity_id, name, at, refs)
    if entity == "plan" and isinstance(record, Plan):
        return entries.plan(kind, _plan_values(record), at, refs)
    if entity == PRIVATE and isinstance(record, Digest):
        return entries.digest(
            kind, record.party, record.period, record.leaves, record.withheld, at, refs
        )
    return None
