"""Appending to the ledger in the caller's transaction, many entries per statement.

:func:`record_changes` is called by the store with the change-log rows a write appends, on the same
connection and so in the same transaction, after the log mutex (:mod:`deconflict.store.order`) is
taken: ledger appends are serialised exactly as change-log rows are. On PostgreSQL at SERIALIZABLE
a writer that read the ledger's end from a stale snapshot would insert an index that exists; the
primary keys turn that into a serialization failure, and the store's retry runs it again.

The ledger's end is read once per transaction: the size (the largest index + 1) and the hashes of
the perfect subtrees on the tree's right edge (one per bit of the size), which is all that
appending needs. From there each append is computed here: the leaf hash, the perfect subtrees it
completes (amortised two rows), the new right edge. A call writes all its entries in one
statement and all their subtree hashes in another (:mod:`deconflict.store.bulk`). The end is
kept with the connection for the rest of the transaction and forgotten at its commit or
rollback, and at the rollback of a savepoint (what it knew may have been undone).
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

__all__ = ["LogItem", "edge_keys", "record_changes", "watch"]

#: One change-log row as the store appends it: (kind, entity id, time, the record if at hand).
LogItem = tuple[str, str, float, Record]

_END = "deconflict.ledger_end"  # key of the ledger's end in ``Connection.info``

_e, _n = lt.ledger_entries.c, lt.ledger_nodes.c
_SIZE = sa.select(sa.func.max(_e.idx))
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
    """The ledger's end as one transaction sees it."""

    transaction: sa.RootTransaction | None
    size: int
    edge: dict[NodeKey, bytes]
    known: Commitments = field(default_factory=Commitments)


def _forget(connection: sa.Connection, *_args: Any) -> None:
    connection.info.pop(_END, None)


def watch(engine: sa.Engine) -> None:
    """Forget a connection's ledger end when its transaction or a savepoint ends undone, and at
    every commit (call once per engine)."""
    for name in ("commit", "rollback", "rollback_savepoint"):
        event.listen(engine, name, _forget)


def _end(c: sa.Connection) -> _End:
    transaction = c.get_transaction()
    end: _End | None = c.info.get(_END)
    if end is not None and end.transaction is transaction:
        return end
    last = c.execute(_SIZE).scalar()
    size = 0 if last is None else int(last) + 1
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
    end = _End(transaction, size, edge)
    c.info[_END] = end
    return end


def record_changes(c: sa.Connection, items: Sequence[LogItem]) -> None:
    """Append the ledger entries of these change-log rows (those the ledger keeps), in order."""
    end = _end(c)
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
        if built:
            _append(c, end, built)
    except BaseException:
        _forget(c)  # what it noted may not be written: read the end again next time
        raise


def _append(
    c: sa.Connection, end: _End, built: list[tuple[dict[str, Any], str, float, Private | None]]
) -> None:
    size, edge = end.size, dict(end.edge)
    entries: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    for entry, subject, at_s, private in built:
        body = canonical(entry)
        completed = new_perfect_nodes(size, leaf_hash(body), edge)
        entries.append(
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
        nodes.extend({"node": _node_id(key), "hash": value} for key, value in completed)
        edge.update(completed)
        size += 1
        edge = {key: edge[key] for key in edge_keys(size)}
    insert_many(c, lt.ledger_entries, entries)
    insert_many(c, lt.ledger_nodes, nodes)
    end.size, end.edge = size, edge
