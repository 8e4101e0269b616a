"""Appending to the ledger in the caller's transaction, many entries per statement.

:func:`record_changes` is called by the store with the change-log rows a write appends, on the same
connection and so in the same transaction, after the log mutex (:mod:`deconflict.store.order`) is
taken: ledger appends are serialised exactly as change-log rows are. On PostgreSQL at SERIALIZABLE
a writer that read the ledger's end from a stale snapshot would insert an index that exists; the
primary keys turn that into a serialization failure, and the store's retry runs it again.

The ledger's end is read once per transaction: the size (the largest index + 1) and the hashes of
the perfect subtrees on the tree's right edge (one per bit of the size), which is all that
appending needs. From there each append is computed here: the leaf hash, the perfect subtrees it
completes (amortised two rows), the new right edge. The rows are written in two statements
(:mod:`deconflict.store.bulk`): at once, or, in a unit of work, all of the unit's at its end
(:func:`flush`, called by the store before the commit and before any read inside the unit). A
savepoint marks where the end stood and goes back to it when rolled back (:func:`mark`,
:func:`restore`), unwritten rows included. The end is kept with the connection for the rest of
the transaction; the end a commit left is kept too, and the connection's next transaction starts
from it after one query shows the log has the same size and last leaf (nobody appended since),
else it reads the right edge again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from deconflict.errors import VerificationFailed
from deconflict.ledger import canonical, leaf_hash, new_perfect_nodes
from deconflict.ledger.merkle import NodeKey
from deconflict.store import ledger_tables as lt
from deconflict.store.bulk import insert_many
from deconflict.store.ledger_entries import (
    Commitments,
    Private,
    Record,
    build_entry,
    notice_subjects,
    subject_of,
)
from deconflict.store.ledger_tables import NODE_LEVEL_SHIFT

__all__ = ["LogItem", "Mark", "edge_keys", "flush", "mark", "record_changes", "restore", "watch"]

#: One change-log row as the store appends it: (kind, entity id, time, the record if at hand).
LogItem = tuple[str, str, float, Record]

_END = "deconflict.ledger_end"  # key of the ledger's end in ``Connection.info``
_COMMITTED = "deconflict.ledger_committed"  # the end as this connection's last commit left it

_e, _n = lt.ledger_entries.c, lt.ledger_nodes.c
# The last entry's index and leaf hash (level 0: node id = index), in one query.
_LAST = (
    sa.select(_e.idx, _n.hash)
    .select_from(lt.ledger_entries.outerjoin(lt.ledger_nodes, _n.node == _e.idx))
    .where(_e.idx == sa.select(sa.func.max(_e.idx)).scalar_subquery())
)
_READ_NODES = sa.select(_n.node, _n.hash).where(_n.node.in_(sa.bindparam("nodes", expanding=True)))


def _node_id(key: NodeKey) -> int:
    return (key[0] << NODE_LEVEL_SHIFT) | key[1]


def edge_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees a tree of ``size`` leaves is made of (its right edge): one per set
    bit of ``size``, the largest first. Appending needs no other hash."""
    return [
        (level, (size >> level) - 1)
        for level in range(size.bit_length() - 1, -1, -1)
        if (size >> level) & 1
    ]


@dataclass(slots=True)
class _End:
    """The ledger's end as one transaction sees it, and the rows appended but not yet written."""

    transaction: sa.RootTransaction | None
    size: int
    edge: dict[NodeKey, bytes]
    last: bytes | None  # the last entry's leaf hash
    known: Commitments = field(default_factory=Commitments)
    entries: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Mark:
    """Where the ledger's end stood (see :func:`mark`)."""

    size: int
    edge: dict[NodeKey, bytes]
    last: bytes | None
    known: dict[str, tuple[int | None, str | None]]
    entries: int
    nodes: int


def _forget(connection: sa.Connection, *_args: Any) -> None:
    connection.info.pop(_END, None)


def _committing(connection: sa.Connection, *_args: Any) -> None:
    """Keep the end this commit leaves, for the connection's next transaction to start from
    once it has checked that nobody appended since (see :func:`_end`)."""
    end: _End | None = connection.info.pop(_END, None)
    if end is not None and not end.entries:
        connection.info[_COMMITTED] = (end.size, end.edge, end.last)
    else:
        connection.info.pop(_COMMITTED, None)


def watch(engine: sa.Engine) -> None:
    """Follow each connection's transactions (call once per engine): the end is kept for the
    transaction and, checked, for the next one; a rollback forgets the transaction's (what was
    last committed stands: it is checked before use anyway)."""
    event.listen(engine, "commit", _committing)
    event.listen(engine, "rollback", _forget)


def _end(c: sa.Connection) -> _End:
    """The ledger's end in ``c``'s transaction: one query when the end this connection's last
    commit left is still the end (same size, same last leaf: nobody appended since), else two."""
    transaction = c.get_transaction()
    end: _End | None = c.info.get(_END)
    if end is not None and end.transaction is transaction:
        return end
    row = c.execute(_LAST).first()
    size = 0 if row is None else int(row.idx) + 1
    last = None if row is None or row.hash is None else bytes(row.hash)
    if size and last is None:
        raise VerificationFailed(
            f"ledger: the stored log is inconsistent (leaf hash {size - 1} is missing): "
            "run `deconflict ledger verify`"
        )
    kept = c.info.get(_COMMITTED)
    if kept is not None and kept[0] == size and kept[2] == last:
        end = _End(transaction, size, kept[1], last)
        c.info[_END] = end
        return end
    keys = edge_keys(size)
    edge: dict[NodeKey, bytes] = {}
    if keys:
        found = c.execute(_READ_NODES, {"nodes": [_node_id(k) for k in keys]}).all()
        by_id = {int(row.node): bytes(row.hash) for row in found}
        for key in keys:
            if _node_id(key) not in by_id:
                raise VerificationFailed(
                    f"ledger: the stored log is inconsistent (subtree hash {key} is missing): "
                    "run `deconflict ledger verify`"
                )
            edge[key] = by_id[_node_id(key)]
    end = _End(transaction, size, edge, last)
    c.info[_END] = end
    return end


def mark(c: sa.Connection) -> Mark | None:
    """Where the ledger's end stands now in ``c``'s transaction (None: not read yet), to go back
    to with :func:`restore` if what follows is undone (a savepoint rolled back)."""
    end: _End | None = c.info.get(_END)
    if end is None or end.transaction is not c.get_transaction():
        return None
    return Mark(
        end.size, end.edge, end.last, end.known.snapshot(), len(end.entries), len(end.nodes)
    )


def restore(c: sa.Connection, to: Mark | None) -> None:
    """Undo the appends made since :func:`mark` gave ``to`` (the rows not yet written go too)."""
    end: _End | None = c.info.get(_END)
    if to is None or end is None:
        _forget(c)
        return
    end.size, end.edge, end.last = to.size, to.edge, to.last
    end.known.restore(to.known)
    del end.entries[to.entries :]
    del end.nodes[to.nodes :]


def flush(c: sa.Connection) -> None:
    """Write the appended entries and subtree hashes not yet written (two statements)."""
    end: _End | None = c.info.get(_END)
    if end is None or not end.entries:
        return
    insert_many(c, lt.ledger_entries, end.entries)
    insert_many(c, lt.ledger_nodes, end.nodes)
    end.entries, end.nodes = [], []


def record_changes(c: sa.Connection, items: Sequence[LogItem], defer: bool = False) -> None:
    """Append the ledger entries of these change-log rows (those the ledger keeps), in order.
    With ``defer`` the rows are written at the next :func:`flush` (the caller's, before its
    commit or before it reads the ledger), so a unit of work writes them all at once."""
    end = _end(c)
    before = mark(c)
    try:
        end.known.fetch(c, notice_subjects(record for *_, record in items))
        built: list[tuple[dict[str, Any], str, float, Private | None]] = []
        for kind, entity_id, at_s, record in items:
            found = build_entry(c, kind, entity_id, at_s, record, end.known)
            if found is None:
                continue
            entry, private = found
            subject = subject_of(kind.split(".", 1)[0], entity_id)
            built.append((entry, subject, at_s, private))
            if private is not None:  # a later entry of this call may refer to it
                end.known.made(subject, private.version, private.commitment)
        _append(end, built)
        if not defer:
            flush(c)
    except BaseException:
        restore(c, before)  # what it noted may not be written
        raise


def _append(end: _End, built: list[tuple[dict[str, Any], str, float, Private | None]]) -> None:
    size, edge, last = end.size, end.edge, end.last
    for entry, subject, at_s, private in built:
        body = canonical(entry)
        last = leaf_hash(body)
        completed = new_perfect_nodes(size, last, edge)
        end.entries.append(
            {
                "idx": size,
                "type": entry["type"],
                "subject": subject,
                "body": body.decode(),
                "at_s": at_s,
                "version": None if private is None else private.version,
                "commitment": None if private is None else private.commitment,
                "salt": None if private is None else private.salt,
                "content": None if private is None else private.content,
            }
        )
        end.nodes.extend({"node": _node_id(key), "hash": value} for key, value in completed)
        edge = {**edge, **dict(completed)}
        size += 1
        edge = {key: edge[key] for key in edge_keys(size)}
    end.size, end.edge, end.last = size, edge, last
