"""Appending to the ledger in the caller's transaction, many entries per statement.

Each entry is built by :func:`~deconflict.store.ledger_entries.build_entry`, which reads what the
entry is made of (when not at hand) and the commitments it refers to, and has
:mod:`deconflict.ledger.entries` make its bytes from those values, with no SQL; this module gives
each entry its index and writes it.

An entry about a party's own plan (``ledger_entries.private_owner``) is not appended to the
shared log but kept as that party's private entry, written beside it (``ledger_private``), and
committed to by the party's next digest (:mod:`deconflict.store.ledger_private`).

:func:`record_changes` is called by the store with the change-log rows a write appends, on the same
connection and so in the same transaction, after the log mutex (:mod:`deconflict.store.order`) is
taken: ledger appends are serialised exactly as change-log rows are. On PostgreSQL at SERIALIZABLE
a writer that read the ledger's end from a stale snapshot would insert an index that exists; the
primary keys turn that into a serialization failure, and the store's retry runs it again.

An append writes one row, the entry with its leaf hash, nothing else: the hashes of the perfect
subtrees above the leaves are derived data, built later, many at once, when a root or a proof first
needs them (:mod:`deconflict.store.ledger_tree`: at the tick's checkpoint, or a receipt's). So
appending needs only the ledger's size, read once per transaction (the largest index + 1). The rows
are written in one statement (:mod:`deconflict.store.bulk`): at once, or, in a unit of work, all of
the unit's at its end (:func:`flush`, called by the store before the commit and before the ledger is
read inside the unit). There a notice change's entry, made from the notice at hand alone, is built
at the flush too: the filing only notes it and its index, and the unit's entries are built in one
loop, which costs about half what building each amid its filing's SQL did. A savepoint marks where
the end stood and goes back to it when rolled back (:func:`mark`, :func:`restore`), what is not
written or built yet included. The end and what waits to be written are the transaction's
(:attr:`deconflict.store.tx.Tx.ledger_end`), gone with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard

from deconflict.ledger import leaf_hash
from deconflict.ledger.commit import SALT_BYTES
from deconflict.model import Notice
from deconflict.store import ledger_tables as lt
from deconflict.store.bulk import driver_scalar, insert_rows
from deconflict.store.codec import canonical_volumes
from deconflict.store.ledger_entries import (
    Built,
    Commitments,
    Newest,
    Record,
    build_entry,
    notice_entry_of,
    notice_subjects,
    private_owner,
    subject_of,
)

if TYPE_CHECKING:
    from deconflict.store.tx import Tx

__all__ = [
    "LAST_INDEX_SQL",
    "End",
    "LogItem",
    "Mark",
    "Prebuilt",
    "build_pending",
    "flush",
    "known_end",
    "mark",
    "prebuild",
    "record_changes",
    "restore",
]

#: One change-log row as the store appends it: (kind, entity id, time, the record if at hand).
LogItem = tuple[str, str, float, Record]

#: The ledger's last index (run on the driver's cursor: every transaction that appends).
LAST_INDEX_SQL = "SELECT max(idx) FROM ledger_entries"


@dataclass(slots=True)
class End:
    """The ledger's end as one transaction sees it, and what was appended but not yet written:
    the rows built (in index order), then the notice changes whose entries are built at the
    next flush (each with the index it was given)."""

    size: int
    known: Commitments = field(default_factory=Commitments)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    pending: list[tuple[int, str, str, float, Notice]] = field(default_factory=list)
    #: private entries built and not yet written (``ledger_private`` rows, see below)
    private: list[tuple[Any, ...]] = field(default_factory=list)


class Mark(NamedTuple):
    """Where the ledger's end stood (see :func:`mark`): made for every filing's savepoint."""

    size: int
    known: int  # the commitments' snapshot
    private: int = 0  # the private entries noted


def _end(tx: Tx) -> End:
    """The ledger's end in ``tx`` (one query, the first time)."""
    if tx.ledger_end is not None:
        return tx.ledger_end
    return known_end(tx, driver_scalar(tx, LAST_INDEX_SQL))


def known_end(tx: Tx, last: Any) -> End:
    """Note the ledger's end in ``tx``: ``last`` is what :data:`LAST_INDEX_SQL` gave, read by
    the caller in it (with other statements, in one round trip)."""
    tx.ledger_end = end = End(0 if last is None else int(last) + 1)
    return end


def mark(tx: Tx) -> Mark | None:
    """Where the ledger's end stands now in ``tx`` (None: not read yet), to go back to with
    :func:`restore` if what follows is undone (a savepoint rolled back)."""
    end = tx.ledger_end
    if end is None:
        return None
    return Mark(end.size, end.known.snapshot(), len(end.private))


def restore(tx: Tx, to: Mark | None) -> None:
    """Undo the appends made since :func:`mark` gave ``to`` (those not yet written go too)."""
    end = tx.ledger_end
    if to is None or end is None:
        tx.ledger_end = None
        return
    end.size = to.size
    end.known.restore(to.known)
    while end.pending and end.pending[-1][0] >= to.size:
        end.pending.pop()
    while end.entries and end.entries[-1][0] >= to.size:
        end.entries.pop()
    del end.private[to.private :]


# The columns every entry row has, shared or private, in the order :func:`_row` and
# :func:`_private_row` build them after the first (the index; the party).
_ENTRY_BODY_COLUMNS = (
    "type",
    "subject",
    "body",
    "at_s",
    "version",
    "commitment",
    "salt",
    "content",
    "leaf",
)
_ENTRY_COLUMNS = ("idx", *_ENTRY_BODY_COLUMNS)


def build_pending(tx: Tx) -> None:
    """Build the entries appended and not built yet (see :func:`record_changes`), which may
    read the ledger: so a :func:`flush` after it only writes (it may then be pipelined)."""
    end = tx.ledger_end
    if end is not None and end.pending:
        _build_pending(tx, end)


def flush(tx: Tx) -> None:
    """Write what was appended and not yet written (one statement), its entries built first."""
    end = tx.ledger_end
    if end is None:
        return
    if end.pending:
        _build_pending(tx, end)
    if end.entries:
        insert_rows(tx, lt.ledger_entries, _ENTRY_COLUMNS, end.entries)
        end.entries = []
    if end.private:
        insert_rows(tx, lt.ledger_private, _PRIVATE_COLUMNS, end.private)
        end.private = []


@dataclass(frozen=True, slots=True)
class Prebuilt:
    """Entries built before the write turn (:func:`prebuild`): each change's by (kind, entity
    id), and the newest commitments the building read, which must still be the newest under
    the turn for the entries to be used (:func:`record_changes`)."""

    built: dict[tuple[str, str], Built | None]
    read: dict[str, Newest]


def prebuild(tx: Tx, items: Sequence[LogItem]) -> Prebuilt:
    """Build the entries of ``items`` in ``tx``, a read outside the write turn, as
    :func:`record_changes` would in order (each commitment an entry makes is seen by the later
    ones). For writes whose entries are made from the records at hand and refer only to
    commitments already stored (the detector's conflicts and notifications): building them,
    canonical JSON and hashes, was about half of what the detector did holding the write turn
    that every filing waits for."""
    known = Commitments()
    # What the entries refer to, in a few queries: the conflicts resolved (each refers to its
    # detection) and the notices told of. One at a time, a plan withdrawn from 22,500
    # conflicts looked each up on its own (45,050 statements; a forty-fourth reader). Not a
    # conflict detected: its commitment is new.
    resolved = (
        subject_of("conflict", entity_id)
        for kind, entity_id, *_ in items
        if kind.startswith("conflict.") and kind != "conflict.detected"
    )
    known.fetch(tx, [*resolved, *notice_subjects(record for *_, record in items)])
    built: dict[tuple[str, str], Built | None] = {}
    for kind, entity_id, at_s, record in items:
        found = build_entry(tx, kind, entity_id, at_s, record, known)
        built[(kind, entity_id)] = found
        private = None if found is None else found[2]
        if private is not None and private_owner(record) is None:
            subject = subject_of(kind.split(".", 1)[0], entity_id)
            known.made(subject, private.version, private.commitment)
    return Prebuilt(built, dict(known.read))


def record_changes(
    tx: Tx,
    items: Sequence[LogItem],
    defer: bool = False,
    prebuilt: Prebuilt | None = None,
) -> list[int | None]:
    """Append the ledger entries of these change-log rows (those the ledger keeps), in order;
    the index each one's entry was given (None where the ledger keeps none). With ``defer``
    they are written at the next :func:`flush` (the store's, before its commit or before it
    reads the ledger), so a unit of work writes them all at once; a notice's entry (made from
    the notice at hand alone) is then also built there, all of the unit's in one loop, which
    costs half what building each amid the filing's SQL did. ``prebuilt``: the entries built
    before the turn (:func:`prebuild`), used if every commitment they read is still the
    newest and it built exactly these changes (else they are built here)."""
    end = _end(tx)
    if prebuilt is not None and (
        end.pending  # built here first, and they may make commitments the prebuilt did not see
        or set(prebuilt.built) != {(kind, entity_id) for kind, entity_id, *_ in items}
        or not end.known.still_newest(tx, prebuilt.read)
    ):
        prebuilt = None  # a change it built is not appended (e.g. a conflict already stored)
    if defer and len(items) == 1:  # a filing's: noted, its entry built at the flush
        kind, entity_id, at_s, record = items[0]
        if _later(record, kind):
            end.pending.append((end.size, kind, entity_id, at_s, record))
            end.size += 1
            return [end.size - 1]
    if end.pending:  # earlier calls' first (not undone with this call's if it fails)
        _build_pending(tx, end)
    before = Mark(end.size, end.known.snapshot(), len(end.private))
    indexes: list[int | None] = []
    try:
        subjects = notice_subjects(record for *_, record in items)
        if subjects:
            end.known.fetch(tx, subjects)
        for kind, entity_id, at_s, record in items:
            if defer and _later(record, kind):
                end.pending.append((end.size, kind, entity_id, at_s, record))
                indexes.append(end.size)
                end.size += 1
                continue
            if end.pending:  # built first: this entry may refer to their commitments
                _build_pending(tx, end)
            if prebuilt is not None:
                found = prebuilt.built[(kind, entity_id)]
            else:
                found = build_entry(tx, kind, entity_id, at_s, record, end.known)
            if found is None:
                indexes.append(None)
                continue
            owner = private_owner(record)
            if owner is not None:  # the party's own: kept out of the shared log
                end.private.append(_private_row(owner, kind, entity_id, at_s, found))
                indexes.append(None)
                continue
            end.entries.append(_row(end, end.size, kind, entity_id, at_s, found))
            indexes.append(end.size)
            end.size += 1
        if not defer:
            flush(tx)
    except BaseException:
        restore(tx, before)  # what it noted may not be written
        raise
    return indexes


def _later(record: Record, kind: str) -> TypeGuard[Notice]:
    """Whether the entry of this change can be built later, at the flush: a notice's, made
    from the notice at hand alone (``build_entry`` makes the same entry from it), unless it
    cannot be built at all. That one is built at once, so the write that made it fails alone
    (with the ledger's refusal), not the flush, which fails the whole unit."""
    return type(record) is Notice and kind.startswith("notice.") and _writable(record)


def _writable(notice: Notice) -> bool:
    """Whether the notice's entry and content have canonical JSON: no lone surrogate in its
    text (its volumes' text was written by the filing and is kept: not written again)."""
    text = notice.id + notice.party + notice.category
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return False
    return canonical_volumes(notice.volumes) is not None


def _build_pending(tx: Tx, end: End) -> None:
    """Build the entries of the notice changes appended since the last flush, in order; all or
    nothing (on an error the end is left as it was)."""
    snapshot = end.known.snapshot()
    rows = []
    salts = os.urandom(SALT_BYTES * len(end.pending))  # one system call for all
    try:
        for n, (index, kind, entity_id, at_s, record) in enumerate(end.pending):
            salt = salts[n * SALT_BYTES : (n + 1) * SALT_BYTES]
            built = notice_entry_of(tx, kind, record, at_s, end.known, salt)
            rows.append(_row(end, index, kind, entity_id, at_s, built))
    except BaseException:
        end.known.restore(snapshot)
        raise
    end.entries += rows
    end.pending = []


# The columns of a private entry row, in the order :func:`_private_row` builds them.
_PRIVATE_COLUMNS = ("party", *_ENTRY_BODY_COLUMNS)


def _private_row(
    owner: str, kind: str, entity_id: str, at_s: float, built: Built
) -> tuple[Any, ...]:
    """A private entry's row: as a shared one's, without an index (its party's next digest
    gives it one: ``store.ledger_private``)."""
    entry_type, body, private = built
    subject = subject_of(kind.split(".", 1)[0], entity_id)
    text, leaf = body.decode(), leaf_hash(body)
    if private is None:
        return (owner, entry_type, subject, text, at_s, None, None, None, None, leaf)
    version, commitment, salt, content = private
    return (owner, entry_type, subject, text, at_s, version, commitment, salt, content, leaf)


def _row(
    end: End, index: int, kind: str, entity_id: str, at_s: float, built: Built
) -> tuple[Any, ...]:
    """Entry ``index``'s row (with its leaf hash), its commitment noted as the transaction's
    newest to its subject (a later entry may refer to it)."""
    entry_type, body, private = built
    subject = subject_of(kind.split(".", 1)[0], entity_id)
    text, leaf = body.decode(), leaf_hash(body)
    if private is None:
        return (index, entry_type, subject, text, at_s, None, None, None, None, leaf)
    version, commitment, salt, content = private
    end.known.made(subject, version, commitment)
    return (index, entry_type, subject, text, at_s, version, commitment, salt, content, leaf)
