"""Appending to the ledger in the caller's transaction, many entries per statement.

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
the unit's at its end (:func:`flush`, called by the store before the commit and before any read
inside the unit). A savepoint marks where the end stood and goes back to it when rolled back
(:func:`mark`, :func:`restore`), unwritten rows included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from deconflict.ledger import leaf_hash
from deconflict.store import ledger_tables as lt
from deconflict.store.bulk import driver_scalar, insert_rows
from deconflict.store.ledger_entries import (
    Commitments,
    Private,
    Record,
    build_entry,
    notice_subjects,
    subject_of,
)

__all__ = ["LogItem", "Mark", "flush", "mark", "record_changes", "restore", "watch"]

#: One change-log row as the store appends it: (kind, entity id, time, the record if at hand).
LogItem = tuple[str, str, float, Record]

_END = "deconflict.ledger_end"  # key of the ledger's end in ``Connection.info``

_SIZE = "SELECT max(idx) FROM ledger_entries"  # run on the driver's cursor: every transaction


@dataclass(slots=True)
class _End:
    """The ledger's end as one transaction sees it, and the rows appended but not yet written."""

    transaction: sa.RootTransaction | None
    size: int
    known: Commitments = field(default_factory=Commitments)
    entries: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Mark:
    """Where the ledger's end stood (see :func:`mark`)."""

    size: int
    known: int  # the commitments' snapshot
    entries: int


def _forget(connection: sa.Connection, *_args: Any) -> None:
    connection.info.pop(_END, None)


def watch(engine: sa.Engine) -> None:
    """Forget each connection's end when its transaction ends (call once per engine)."""
    event.listen(engine, "commit", _forget)
    event.listen(engine, "rollback", _forget)


def _end(c: sa.Connection) -> _End:
    """The ledger's end in ``c``'s transaction (one query, the first time)."""
    transaction = c.get_transaction()
    end: _End | None = c.info.get(_END)
    if end is not None and end.transaction is transaction:
        return end
    last = driver_scalar(c, _SIZE)
    end = _End(transaction, 0 if last is None else int(last) + 1)
    c.info[_END] = end
    return end


def mark(c: sa.Connection) -> Mark | None:
    """Where the ledger's end stands now in ``c``'s transaction (None: not read yet), to go back
    to with :func:`restore` if what follows is undone (a savepoint rolled back)."""
    end: _End | None = c.info.get(_END)
    if end is None or end.transaction is not c.get_transaction():
        return None
    return Mark(end.size, end.known.snapshot(), len(end.entries))


def restore(c: sa.Connection, to: Mark | None) -> None:
    """Undo the appends made since :func:`mark` gave ``to`` (the rows not yet written go too)."""
    end: _End | None = c.info.get(_END)
    if to is None or end is None:
        _forget(c)
        return
    end.size = to.size
    end.known.restore(to.known)
    del end.entries[to.entries :]


# The columns of an entry row, in the order :func:`_append` builds them.
_ENTRY_COLUMNS = (
    "idx",
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


def flush(c: sa.Connection) -> None:
    """Write the appended entries not yet written (one statement)."""
    end: _End | None = c.info.get(_END)
    if end is None or not end.entries:
        return
    insert_rows(c, lt.ledger_entries, _ENTRY_COLUMNS, end.entries)
    end.entries = []


def record_changes(c: sa.Connection, items: Sequence[LogItem], defer: bool = False) -> None:
    """Append the ledger entries of these change-log rows (those the ledger keeps), in order.
    With ``defer`` the rows are written at the next :func:`flush` (the caller's, before its
    commit or before it reads the ledger), so a unit of work writes them all at once."""
    end = _end(c)
    before = Mark(end.size, end.known.snapshot(), len(end.entries))
    try:
        subjects = notice_subjects(record for *_, record in items)
        if subjects:
            end.known.fetch(c, subjects)
        for kind, entity_id, at_s, record in items:
            found = build_entry(c, kind, entity_id, at_s, record, end.known)
            if found is None:
                continue
            entry_type, body, private = found
            subject = subject_of(kind.split(".", 1)[0], entity_id)
            if private is not None:  # a later entry of this call may refer to it
                end.known.made(subject, private.version, private.commitment)
            _append(end, entry_type, body, subject, at_s, private)
        if not defer:
            flush(c)
    except BaseException:
        restore(c, before)  # what it noted may not be written
        raise


def _append(
    end: _End, entry_type: str, body: bytes, subject: str, at_s: float, private: Private | None
) -> None:
    """Note entry ``body`` (canonical JSON) at the end: its row, with its leaf hash."""
    text, leaf = body.decode(), leaf_hash(body)
    row: tuple[Any, ...]
    if private is None:
        row = (end.size, entry_type, subject, text, at_s, None, None, None, None, leaf)
    else:
        version, commitment, salt, content = private
        row = (end.size, entry_type, subject, text, at_s, version, commitment, salt, content, leaf)
    end.entries.append(row)
    end.size += 1
