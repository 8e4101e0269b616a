"""The ledger's subtree hashes, built lazily: many at once, when a root or a proof needs them.

An append writes only its entry's row, which holds its leaf hash
(:mod:`deconflict.store.ledger_append`); the hashes of the perfect subtrees above the leaves are
derived from the leaves alone and never change once complete, so they are built here when
:class:`SqlLedger <deconflict.store.ledger_sql.SqlLedger>` is asked for a root or a proof that
needs one not yet stored: at the tick's checkpoint, as a rule, and so off the write path. Each
build extends the stored subtrees from where the last one stopped to the size asked for, a chunk
of leaves at a time: reading the leaf hashes stored since (one query) and hashing every perfect
subtree they complete in a read transaction (:func:`subtree_rows`), then inserting them (one
statement) in a short write transaction (:func:`store_subtrees`), so writers never wait for the
hashing: amortised about one row and one hash per entry, and the proofs read O(log n) rows as
before.

Where the last build stopped is read from the stored level-1 subtrees: a build to size ``t``
stores every perfect subtree within the first ``t`` leaves, so if the last level-1 subtree is the
``j``-th, every subtree within the first ``2 (j + 1)`` leaves is stored. The write reads it again
and stores nothing if another build moved it meanwhile (the next chunk reads again); a build
only ever adds rows that any build would add (the hashes are determined by the leaves).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from deconflict.errors import VerificationFailed
from deconflict.ledger.merkle import NodeKey, node_hash
from deconflict.store import ledger_tables as lt
from deconflict.store.bulk import driver_tuples, insert_rows
from deconflict.store.ledger_tables import NODE_LEVEL_SHIFT
from deconflict.store.tx import Tx

__all__ = [
    "built_size",
    "edge_keys",
    "node_id",
    "node_key",
    "read_hashes",
    "store_subtrees",
    "subtree_rows",
]

_CHUNK = 50_000  # subtree rows per insert when a build is large
_n, _e = lt.ledger_nodes.c, lt.ledger_entries.c
_LEVEL_1 = 1 << NODE_LEVEL_SHIFT
_LAST_PAIR = sa.select(sa.func.max(_n.node)).where(_n.node >= _LEVEL_1, _n.node < 2 * _LEVEL_1)
# The perfect-subtree hashes asked for, in one query: leaves from their entries' rows (a leaf's
# node id is its index), the subtrees above from ledger_nodes.
_READ_HASHES = sa.union_all(
    sa.select(_n.node, _n.hash).where(_n.node.in_(sa.bindparam("nodes", expanding=True))),
    sa.select(_e.idx, _e.leaf).where(
        _e.idx.in_(sa.bindparam("leaves", expanding=True)), _e.leaf.is_not(None)
    ),
)
_LEAVES = (
    sa.select(_e.idx, _e.leaf)
    .where(_e.idx >= sa.bindparam("lo"), _e.idx < sa.bindparam("hi"))
    .order_by(_e.idx)
)


def node_id(key: NodeKey) -> int:
    """The key of ``key``'s hash: ``level << 48 | index`` (a leaf's is its index)."""
    return (key[0] << NODE_LEVEL_SHIFT) | key[1]


def node_key(node: int) -> NodeKey:
    """The (level, index) of the hash stored under ``node`` (see :func:`node_id`)."""
    return (node >> NODE_LEVEL_SHIFT, node & ((1 << NODE_LEVEL_SHIFT) - 1))


def read_hashes(c: Tx, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    """The stored hashes of the perfect subtrees ``keys`` (those stored), in one query."""
    nodes: list[int] = []
    leaves: list[int] = []
    for level, index in keys:
        (nodes if level else leaves).append(node_id((level, index)))
    if not nodes and not leaves:
        return {}
    rows = c.execute(_READ_HASHES, {"nodes": nodes, "leaves": leaves})
    return {node_key(int(node)): bytes(value) for node, value in rows}


def edge_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees a tree of ``size`` leaves is made of (its right edge): one per set
    bit of ``size``, the largest first. Extending the tree needs no other hash."""
    return [
        (level, (size >> level) - 1)
        for level in range(size.bit_length() - 1, -1, -1)
        if (size >> level) & 1
    ]


def _inconsistent(what: str) -> VerificationFailed:
    return VerificationFailed(
        f"ledger: the stored log is inconsistent ({what} is missing): "
        "run `deconflict ledger verify`"
    )


def built_size(c: Tx) -> int:
    """How many leaves the stored subtrees cover (every perfect subtree within them is stored)."""
    last = c.execute(_LAST_PAIR).scalar()
    return 0 if last is None else 2 * ((int(last) - _LEVEL_1) + 1)


def subtree_rows(c: Tx, start: int, size: int) -> list[tuple[int, bytes]]:
    """The (node id, hash) of every perfect subtree above the leaves that leaves ``start`` to
    ``size`` complete, given that every one within the first ``start`` is stored (``start``
    from :func:`built_size`): computed from the stored leaf hashes, which never change once
    written, so a read transaction will do."""
    keys = edge_keys(start)
    found = read_hashes(c, keys)
    # The right edge as a stack, the largest subtree at the bottom: a leaf at an index with k
    # trailing one bits completes k perfect subtrees, each with the subtree on top as its left.
    stack: list[bytes] = []
    for key in keys:
        if key not in found:
            raise _inconsistent(f"subtree hash {key}")
        stack.append(found[key])
    rows: list[tuple[int, bytes]] = []
    index = start
    for idx, leaf in driver_tuples(c, _LEAVES, {"lo": start, "hi": size}):
        if idx != index or leaf is None:
            raise _inconsistent(f"leaf hash {index}")
        value, level, i = bytes(leaf), 0, index
        while i & 1:
            value = node_hash(stack.pop(), value)
            level, i = level + 1, i >> 1
            rows.append((node_id((level, i)), value))
        stack.append(value)
        index += 1
    if index != size:
        raise _inconsistent(f"leaf hash {index}")
    return rows


def store_subtrees(c: Tx, start: int, rows: list[tuple[int, bytes]]) -> int | None:
    """Store ``rows`` (from :func:`subtree_rows` from ``start``), in a write transaction, unless
    another build stored subtrees since ``start`` was read (then None: read and build again);
    how many rows that added."""
    if built_size(c) != start:
        return None
    for lo in range(0, len(rows), _CHUNK):
        insert_rows(c, lt.ledger_nodes, ("node", "hash"), rows[lo : lo + _CHUNK])
    return len(rows)
