"""What the ledger records for each change: the entry object and the commitment it holds.

An entry names who, what and when in the clear (ids, parties, the relay, RFC 3339 times) and holds
only a salted commitment to the content (a notice's category and volumes, a conflict's detail, an
agreement's terms); the salt and content stay here, private (in the columns of the entry that
made the commitment, never in its public body; a notice version's content is the version's own
row), so the party that holds them can open the commitment to an arbiter. A notice version's
commitment is made once and reused by every later entry about that version, so a delivery's
``notice_commitment`` is the filing's ``commitment``. A plan's changes are its owner's private
entries (never in the shared log: a plan is private even as metadata), each committing to the
plan version's volumes, so that ``ledger verify`` finds a plan deleted or changed too. What each
entry commits to, and why that is enough to find a deletion or an edit of anything a party was
told, is written in docs/ledger.md.

Entries are built from the records the store is writing (a conflict, a notification) when it
has them, so appending reads nothing back; the commitments an entry refers to are looked up once
per transaction (:class:`Commitments`), many at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa

from deconflict.geo.units import rfc3339_micro
from deconflict.ledger import canonical
from deconflict.ledger.commit import commit_canonical
from deconflict.model import Conflict, Notice, Notification, Plan, RecordKind
from deconflict.model.ids import split_key
from deconflict.store import ledger_tables as lt
from deconflict.store import schema as t
from deconflict.store.codec import volume_to_dict
from deconflict.store.ledger_json import notice_content, notice_entry
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
    "Private",
    "Record",
    "build_entry",
    "notice_entry_of",
    "plan_content",
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
    entries since its last digest, in order (maybe none), for period ``period``."""

    party: str
    period: int
    leaves: tuple[str, ...]


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


def subject_of(entity: str, entity_id: str) -> str:
    """The key entries and openings are found by: ``notice:RU/RU-N3`` (a notice's or plan's
    record key), ``notification:M-...``."""
    return f"{entity}:{entity_id}"


class Private(NamedTuple):
    """The opening an entry keeps beside its public body: the version committed to, the
    commitment, its salt and the canonical content; None for a notice version's, which is the
    version's row itself (category and volumes, kept as canonical JSON), read from there."""

    version: int
    commitment: str
    salt: bytes
    content: str | None


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
        if made is not None:  # by this transaction, maybe not written yet
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


class _Entry:
    """An entry being built, and the opening it will keep if it makes a new commitment."""

    def __init__(self, known: Commitments) -> None:
        self.known = known
        self.private: Private | None = None

    def commitment(
        self, c: Tx, subject: str, version: int, content: Any, fresh: bool = False
    ) -> str:
        """The commitment to ``subject`` at ``version``: the one already made, else a new one
        kept with this entry. ``fresh`` says the version is new, so there is nothing to look up."""
        if not fresh:
            existing = self.known.at(c, subject, version)
            if existing is not None:
                return existing
        raw = canonical(content)
        salt, digest = commit_canonical(raw)
        self.private = Private(version, digest, salt, raw.decode())
        return digest


#: A built entry: its type, its canonical JSON and the opening it keeps (if it makes a commitment).
Built = tuple[str, bytes, Private | None]

_NEW_VERSION = frozenset({"notice.filed", "notice.amended"})


def notice_entry_of(
    c: Tx,
    kind: str,
    notice: Notice,
    at_s: float,
    known: Commitments,
    salt: bytes | None = None,
) -> Built:
    """A notice change's entry (:mod:`deconflict.store.ledger_json`): a
    new version commits to its content (salted with ``salt``, if given, else a fresh one), any
    other change refers to the version's commitment."""
    private = None
    commitment = None
    if kind not in _NEW_VERSION:
        commitment = known.at(c, subject_of("notice", notice.key), notice.version)
    if commitment is None:
        raw = notice_content(notice)
        salt, commitment = commit_canonical(raw, salt)
        private = Private(notice.version, commitment, salt, None)  # the version's row has it
    return kind, notice_entry(kind, notice, rfc3339(at_s), commitment), private


def notice_subjects(records: Iterable[Record]) -> list[str]:
    """The notice subjects the entries of these notifications refer to (to fetch at once)."""
    found = []
    for r in records:
        for n in r.notifications if isinstance(r, Delivered) else (r,):
            if isinstance(n, Notification) and n.notice_key is not None:
                found.append(subject_of("notice", n.notice_key))
    return found


def _row(
    c: Tx,
    record: Record,
    kind: type[Any],
    values: Callable[[Any], dict[str, Any]],
    table: sa.Table,
    entity_id: str,
) -> dict[str, Any]:
    """The stored row of ``entity_id``: made from ``record`` when it is that record (as written
    in this transaction), else read from ``table``."""
    if isinstance(record, kind):
        return values(record)
    return dict(c.execute(sa.select(table).where(table.c.id == entity_id)).one()._mapping)


def _told_of(c: Tx, b: _Entry, key: str | None) -> tuple[int | None, str | None]:
    """(version, commitment) of the notice (by its record key) a notification told of: its
    newest (none if none)."""
    if key is None:
        return None, None
    return b.known.newest(c, subject_of("notice", key))


def _notice_named(key: str | None) -> tuple[str | None, str | None]:
    """(party, id) of the notice a notification told of, as its entry names them. An entry is
    read by the notification's recipient and relay: a notification whose recipient could not
    see the notice (``discloses_notice`` false) names neither it nor its version or commitment,
    only the conflict, whose entry commits to both sides under a salt (security.md §3.4)."""
    return (None, None) if key is None else split_key(key)


def _notification(
    c: Tx, b: _Entry, kind: str, entity_id: str, at_s: float, record: Record
) -> dict[str, Any]:
    row = _row(c, record, Notification, notification_values, t.notifications, entity_id)
    named = row["notice_id"] if row["discloses_notice"] else None  # see _named
    version, commitment = _told_of(c, b, named)
    notice_party, notice_id = _notice_named(named)
    return {
        "type": kind,
        "notification": row["id"],
        "kind": row["kind"],
        "recipient": row["recipient"],
        "via": row["via"],
        "notice": notice_id,
        "notice_party": notice_party,
        "notice_version": version,
        "notice_commitment": commitment,
        "conflict": row["conflict_id"],
        "created_at": rfc3339(row["created_at_s"]),
        "delivered_at": rfc3339(row["delivered_at_s"]),
        "acknowledged_at": rfc3339(row["acknowledged_at_s"]),
        "escalated_at": rfc3339(row["escalated_at_s"]),
        "ack_deadline": rfc3339(row["ack_deadline_s"]),
        "lead_time_s": row["lead_time_s"],
        "at": rfc3339(at_s),
    }


def _delivered(c: Tx, b: _Entry, kind: str, at_s: float, record: Record) -> dict[str, Any]:
    """One entry for a batch of deliveries to one recipient: each notification as its own
    entry would name it (the notice version and commitment it told of), in id order."""
    if not isinstance(record, Delivered):
        raise TypeError(f"a {kind} entry is built from its Delivered record")
    told = []
    for n in sorted(record.notifications, key=lambda n: n.id):
        named = n.notice_key if n.discloses_notice else None  # see _notice_named
        version, commitment = _told_of(c, b, named)
        notice_party, notice_id = _notice_named(named)
        told.append(
            {
                "notification": n.id,
                "kind": str(n.kind),
                "notice": notice_id,
                "notice_party": notice_party,
                "notice_version": version,
                "notice_commitment": commitment,
                "conflict": n.conflict_id,
                "created_at": rfc3339(n.created_at_s),
                "delivered_at": rfc3339(n.delivered_at_s),
            }
        )
    return {
        "type": kind,
        "recipient": record.recipient,
        "via": record.via,
        "notifications": told,
        "at": rfc3339(at_s),
    }


def _conflict(
    c: Tx, b: _Entry, kind: str, entity_id: str, at_s: float, record: Record
) -> dict[str, Any]:
    row = _row(c, record, Conflict, conflict_values, t.conflicts, entity_id)
    content = {name: value for name, value in row.items() if name not in ("state", "resolved_at_s")}
    return {
        "type": kind,
        "conflict": row["id"],
        "parties": sorted([row["a_party"], row["b_party"]]),
        "at": rfc3339(at_s),
        "commitment": b.commitment(
            c, subject_of("conflict", row["id"]), 0, content, fresh=kind == "conflict.detected"
        ),
    }


def _agreement(c: Tx, b: _Entry, kind: str, entity_id: str, at_s: float) -> dict[str, Any]:
    body = c.execute(sa.select(t.agreements.c.body).where(t.agreements.c.id == entity_id)).scalar()
    content = json.loads(body) if body is not None else None
    parties = content.get("parties", []) if isinstance(content, dict) else []
    return {
        "type": kind,
        "agreement": entity_id,
        "parties": sorted(parties),
        "at": rfc3339(at_s),
        "commitment": b.commitment(c, subject_of("agreement", entity_id), 0, content),
    }


def plan_content(plan: Plan) -> dict[str, Any]:
    """What a plan entry commits to: the plan version's volumes, as the store keeps them."""
    return {
        "plan": plan.id,
        "party": plan.party,
        "version": plan.version,
        "volumes": [volume_to_dict(v) for v in plan.volumes],
    }


def _plan(c: Tx, b: _Entry, kind: str, at_s: float, plan: Plan) -> dict[str, Any]:
    """A plan change: its owner's private entry (see :func:`private_owner`), committing afresh
    to the version's volumes (its salt and content kept with the private entry)."""
    return {
        "type": kind,
        "plan": plan.id,
        "party": plan.party,
        "version": plan.version,
        "state": str(plan.state),
        "at": rfc3339(at_s),
        "commitment": b.commitment(
            c, subject_of("plan", plan.key), plan.version, plan_content(plan), fresh=True
        ),
    }


def _party(c: Tx, b: _Entry, kind: str, entity_id: str, at_s: float) -> dict[str, Any]:
    """A party added: its id in the clear, its name (shown to every party it deals with)
    committed to, so a renamed party is found."""
    name = c.execute(sa.select(t.parties.c.name).where(t.parties.c.id == entity_id)).scalar()
    return {
        "type": kind,
        "party": entity_id,
        "at": rfc3339(at_s),
        "commitment": b.commitment(
            c, subject_of("party", entity_id), 0, {"party": entity_id, "name": name}, fresh=True
        ),
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
    known = known if known is not None else Commitments()
    if entity == "notice" and isinstance(record, Notice):
        return notice_entry_of(c, kind, record, at_s, known)
    b = _Entry(known)
    entry: dict[str, Any]
    if entity == "notification":
        entry = _notification(c, b, kind, entity_id, at_s, record)
    elif entity == DELIVERIES:
        entry = _delivered(c, b, kind, at_s, record)
    elif entity == "conflict":
        entry = _conflict(c, b, kind, entity_id, at_s, record)
    elif entity == "agreement":
        entry = _agreement(c, b, kind, entity_id, at_s)
    elif entity == "party":
        entry = _party(c, b, kind, entity_id, at_s)
    elif entity == "plan" and isinstance(record, Plan):
        entry = _plan(c, b, kind, at_s, record)
    elif entity == PRIVATE and isinstance(record, Digest):
        content = {"party": record.party, "period": record.period, "entries": list(record.leaves)}
        entry = {
            "type": kind,
            "party": record.party,
            "period": record.period,
            "at": rfc3339(at_s),
            "commitment": b.commitment(
                c, subject_of(PRIVATE, record.party), record.period, content, fresh=True
            ),
        }
    else:
        return None
    return kind, canonical(entry), b.private
