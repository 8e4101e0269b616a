"""The ledger in the SQL store: the read side, checkpoints, the registered key and the halt.

Entries are appended by :mod:`deconflict.store.ledger_append`, in the same transaction as the
change each records. :class:`SqlLedger` is the read side the hub uses (proofs in one query each,
entries, checkpoints, openings, the registered public key, the halt);
:class:`~deconflict.store.sql.SqlStore` inherits it. A root or proof that needs subtree hashes
not built yet builds them first (:mod:`deconflict.store.ledger_tree`, one write transaction),
then reads again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from deconflict.errors import NotFound, VerificationFailed
from deconflict.ledger import (
    Opening,
    consistency_proof,
    inclusion_proof,
    root_hash,
)
from deconflict.ledger.merkle import NodeKey
from deconflict.store import ledger_append
from deconflict.store import ledger_tables as lt
from deconflict.store import schema as t
from deconflict.store.bulk import driver_tuples
from deconflict.store.ledger_base import Halt, LedgerStore, Snapshot
from deconflict.store.ledger_entries import (
    NOTICE,
    NOTIFICATION,
    VERSION_ENTRIES,
    notice_content_object_of,
    subject_of,
)
from deconflict.store.ledger_tables import NODE_LEVEL_SHIFT
from deconflict.store.ledger_tree import (
    built_size,
    node_key,
    read_hashes,
    store_subtrees,
    subtree_rows,
)
from deconflict.store.records import rows_in
from deconflict.store.tx import Tx

if TYPE_CHECKING:
    import contextlib

    from deconflict.store.retry import RetryPolicy

__all__ = ["SqlLedger", "subject_of", "subtrees"]

_BUILD_LEAVES = 4096  # leaves whose subtree hashes one write transaction stores

T = TypeVar("T")


# Statements are built once: building Core statements per call costs more than running them.
_e, _n = lt.ledger_entries.c, lt.ledger_nodes.c
_LEVEL_1 = 1 << NODE_LEVEL_SHIFT
_SIZE = sa.select(sa.func.max(_e.idx))
# The whole log with its leaf hashes, in one scan (the start-up check reads it: 10^6 rows).
_ENTRIES_AND_LEAVES = sa.select(_e.idx, _e.body, _e.leaf).order_by(_e.idx)
_SUBTREES = sa.select(_n.node, _n.hash).where(_n.node >= sa.bindparam("level_1"))
_k = lt.ledger_public_keys.c
_FIRST_KEY = sa.select(_k.verifier_key).order_by(_k.created_at_s, _k.name).limit(1)
_h = lt.ledger_halt.c
_HALT = sa.select(_h.reason, _h.at_s)


# The entry that records a notification's delivery, by its link (migration 0012).
# The subject and version of an entry, by its index.
_MADE_AT = sa.select(_e.subject, _e.version).where(_e.idx == sa.bindparam("idx"))
_DELIVERY_ENTRY = (
    sa.select(_e.idx, _e.type)
    .select_from(
        t.notifications.join(lt.ledger_entries, _e.idx == t.notifications.c.delivery_ledger_idx)
    )
    .where(t.notifications.c.id == sa.bindparam("id"))
)


class _Unbuilt(VerificationFailed):
    """A subtree hash a root or proof needs is not stored (not built yet, or removed)."""


class _Reader:
    """Perfect-subtree hashes read in one query per call (leaves from ``ledger_entries``, the
    subtrees above from ``ledger_nodes``)."""

    def __init__(self, c: Tx) -> None:
        self._c = c

    def perfect_hashes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        if not keys:
            return {}
        found = read_hashes(self._c, keys)
        if len(found) != len(set(keys)):
            missing = sorted(set(keys) - set(found))[0]
            raise _Unbuilt(
                f"ledger: the stored log is inconsistent (subtree hash {missing} is missing): "
                "run `deconflict ledger verify`"
            )
        return found


def _size(c: Tx) -> int:
    last = c.execute(_SIZE).scalar()
    return 0 if last is None else int(last) + 1


def _nodes(c: Tx) -> dict[NodeKey, bytes]:
    leaves = c.execute(sa.select(_e.idx, _e.leaf).where(_e.leaf.is_not(None))).all()
    found = {(0, int(row.idx)): bytes(row.leaf) for row in leaves}
    found.update(subtrees(c))
    return found


def subtrees(c: Tx) -> dict[NodeKey, bytes]:
    """Every stored subtree hash above the leaves (the leaves are kept with their entries)."""
    rows = c.execute(sa.select(_n.node, _n.hash).where(_n.node >= _LEVEL_1)).all()
    return {node_key(row.node): bytes(row.hash) for row in rows}


def _halt(c: Tx) -> Halt | None:
    row = c.execute(_HALT).first()
    return None if row is None else Halt(str(row.reason), float(row.at_s))


_ENTRIES_AT = sa.select(lt.ledger_entries.c.idx, lt.ledger_entries.c.body).where(
    lt.ledger_entries.c.idx.in_(sa.bindparam("ids", expanding=True))
)


class SqlLedger(LedgerStore):
    """The ledger's read side and checkpoint/key storage, for :class:`SqlStore`."""

    if TYPE_CHECKING:
        retry: RetryPolicy

        def read_connection(self, doing: str) -> contextlib.AbstractContextManager[Tx]: ...

        def write_connection(self, doing: str) -> contextlib.AbstractContextManager[Tx]: ...

    def _reading(self, doing: str, work: Callable[[Tx], T]) -> T:
        def run() -> T:
            with self.read_connection(doing) as c:
                ledger_append.flush(c)  # a unit of work's own entries, not written yet
                return work(c)

        return self.retry.run(run)

    def ledger_size(self) -> int:
        return self._reading("reading the ledger size", _size)

    def _tree_reading(self, doing: str, size: int, work: Callable[[Tx], T]) -> T:
        """``work`` (a root or proof over the first ``size`` leaves), once the subtree hashes
        it needs are built: built first if one was missing, then read again."""
        try:
            return self._reading(doing, work)
        except _Unbuilt:
            self.ledger_build_subtrees(size)
        return self._reading(doing, work)

    def ledger_build_subtrees(self, size: int) -> int:
        """Build the subtree hashes of the first ``size`` entries not built yet (how many), at
        most ``_BUILD_LEAVES`` leaves a write transaction, each chunk hashed in a read first
        (see :mod:`deconflict.store.ledger_tree`): the write lock is held for the inserts
        only, however far behind the stored subtrees are."""
        added = 0
        while True:

            def plan(c: Tx) -> tuple[int, int, list[tuple[int, bytes]]]:
                start = built_size(c)  # even: stored subtrees cover pairs of leaves
                end = min(size, start + max(2, _BUILD_LEAVES & ~1))  # so each ends past one
                return start, end, subtree_rows(c, start, end) if start < end else []

            start, end, rows = self._reading("hashing the ledger's subtrees", plan)
            if start >= size:
                return added

            def store(start: int = start, rows: list[tuple[int, bytes]] = rows) -> int | None:
                with self.write_connection("storing the ledger's subtree hashes") as c:
                    return store_subtrees(c, start, rows)

            stored = self.retry.run(store)
            if stored is not None:  # else another build moved on meanwhile: read again
                added += stored
                if end >= size:
                    return added

    def ledger_root(self, size: int) -> bytes:
        return self._tree_reading(
            "reading a ledger root", size, lambda c: root_hash(_Reader(c), size)
        )

    def ledger_inclusion(self, index: int, size: int) -> list[bytes]:
        return self._tree_reading(
            "building an inclusion proof",
            size,
            lambda c: inclusion_proof(_Reader(c), index, size),
        )

    def ledger_consistency(self, first: int, second: int) -> list[bytes]:
        return self._tree_reading(
            "building a consistency proof",
            second,
            lambda c: consistency_proof(_Reader(c), first, second),
        )

    def ledger_entry(self, index: int) -> bytes:
        def work(c: Tx) -> bytes:
            e = lt.ledger_entries.c
            body = c.execute(sa.select(e.body).where(e.idx == index)).scalar()
            if body is None:
                raise NotFound(f"no ledger entry {index}")
            return str(body).encode()

        return self._reading(f"reading ledger entry {index}", work)

    def ledger_entries_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        wanted = sorted(set(indexes))

        def work(c: Tx) -> dict[int, bytes]:
            rows = rows_in(c, _ENTRIES_AT, wanted)
            return {int(row.idx): str(row.body).encode() for row in rows}

        return self._reading(f"reading {len(wanted)} ledger entries", work) if wanted else {}

    def ledger_entries(self) -> list[tuple[int, bytes]]:
        """Every stored entry, in index order (for a full audit)."""
        e = lt.ledger_entries.c

        def work(c: Tx) -> list[tuple[int, bytes]]:
            rows = c.execute(sa.select(e.idx, e.body).order_by(e.idx)).all()
            return [(int(row.idx), str(row.body).encode()) for row in rows]

        return self._reading("reading the ledger", work)

    def ledger_rehash(self, leaves: list[bytes]) -> int:
        def run() -> int:
            with self.write_connection("rehashing the ledger") as c:
                stored = dict(c.execute(sa.select(_e.idx, _e.leaf)).all())
                changed = [
                    {"i": index, "leaf": leaf}
                    for index, leaf in enumerate(leaves)
                    if stored.get(index) is None or bytes(stored[index]) != leaf
                ]
                if changed:
                    c.execute(
                        sa.update(lt.ledger_entries)
                        .where(_e.idx == sa.bindparam("i"))
                        .values(leaf=sa.bindparam("leaf")),
                        changed,
                    )
                c.execute(sa.delete(lt.ledger_nodes))
                return len(changed)

        changed = self.retry.run(run)
        self.ledger_build_subtrees(len(leaves))
        return changed

    def ledger_nodes(self) -> dict[NodeKey, bytes]:
        """Every stored perfect-subtree hash (for a full audit): the leaves kept with their
        entries, the subtrees above them in ``ledger_nodes``."""
        return self._reading("reading the ledger's hashes", _nodes)

    def ledger_snapshot(self) -> Snapshot:
        def work(c: Tx) -> Snapshot:
            # On the driver, entries and leaves in one scan: SQLAlchemy's rows, and a second
            # scan for the leaves, were half of serve's start-up check of the whole log.
            rows = driver_tuples(c, _ENTRIES_AND_LEAVES, {})
            entries = [(int(idx), str(body).encode()) for idx, body, _ in rows]
            nodes = {(0, int(idx)): bytes(leaf) for idx, _, leaf in rows if leaf is not None}
            del rows
            subtrees = driver_tuples(c, _SUBTREES, {"level_1": _LEVEL_1})
            nodes.update((node_key(node), bytes(value)) for node, value in subtrees)
            return entries, nodes, _size(c)

        return self._reading("reading the ledger", work)

    def ledger_find(
        self, subject: str, after: int = -1, limit: int | None = None
    ) -> list[tuple[int, str]]:
        """(index, type) of the entries about ``subject`` ("notice:RU-N3") after index
        ``after``, oldest first, at most ``limit``: by the subject index, a notice's versions'
        entries and a notification's delivery's (one for a batch) by their links. Each is read
        no further than ``limit``: a notice amended 100,000 times costs a page what it holds
        (a version's entry comes after the one before it's, so the versions' order is theirs)."""
        e = lt.ledger_entries.c
        v = t.notice_versions.c

        def work(c: Tx) -> list[tuple[int, str]]:
            query = (
                sa.select(e.idx, e.type)
                .where(e.subject == subject, lt.SUBJECT_INDEXED, e.idx > after)
                .order_by(e.idx)
                .limit(limit)
            )
            rows = list(c.execute(query).all())
            if subject.startswith(NOTICE):
                linked = (
                    sa.select(e.idx, e.type)
                    .select_from(VERSION_ENTRIES)
                    .where(v.notice_id == subject[len(NOTICE) :])
                    .order_by(v.version)
                    .limit(limit)
                )
                # After an entry of the notice's (a page's last, as a rule): the versions after
                # the one it was made at, a seek; after any other index, those whose entry is
                # after it, read in order from the first version.
                if after >= 0:
                    made_at = c.execute(_MADE_AT, {"idx": after}).one_or_none()
                    if made_at is not None and made_at.subject == subject and made_at.version:
                        linked = linked.where(v.version > made_at.version)
                    else:
                        linked = linked.where(v.ledger_idx > after)
                rows += c.execute(linked).all()
            elif subject.startswith(NOTIFICATION):
                notification_id = subject[len(NOTIFICATION) :]
                rows += [
                    r for r in c.execute(_DELIVERY_ENTRY, {"id": notification_id}) if r.idx > after
                ]
            return sorted((int(row.idx), str(row.type)) for row in rows)[:limit]

        return self._reading(f"finding ledger entries of {subject}", work)

    def ledger_opening(self, subject: str, version: int) -> Opening:
        """The opening of ``subject``'s commitment at ``version``: its salt, kept in the entry
        that made it, and its content, kept there too or, for a notice version, in the
        version's own row (category and volumes, the volumes as their canonical JSON)."""
        o, v, n = lt.ledger_entries.c, t.notice_versions.c, t.notices.c
        if subject.startswith(NOTICE):  # by the version's link
            query: sa.Select[Any] = (
                sa.select(o.commitment, o.salt, o.content, v.category, v.volumes, n.party_id)
                .select_from(VERSION_ENTRIES.join(t.notices, n.id == v.notice_id))
                .where(v.notice_id == subject[len(NOTICE) :], v.version == version)
            )
        else:
            query = sa.select(o.commitment, o.salt, o.content).where(
                o.subject == subject, o.version == version, lt.SUBJECT_INDEXED
            )
        query = query.where(o.salt.is_not(None)).limit(1)

        def work(c: Tx) -> Opening:
            row = c.execute(query).first()
            if row is None:
                raise NotFound(f"no commitment to {subject} version {version}")
            if row.content is not None:
                content = json.loads(row.content)
            else:  # a notice version's: its row
                content = notice_content_object_of(
                    subject[len(NOTICE) :], row.party_id, version, row.category, row.volumes
                )
            return Opening(row.commitment, bytes(row.salt), content)

        return self._reading(f"reading the opening of {subject}", work)

    def ledger_public_key(self) -> str | None:
        def work(c: Tx) -> str | None:
            known = c.execute(_FIRST_KEY).scalar()
            return None if known is None else str(known)

        return self._reading("reading the ledger key", work)

    def ledger_register_key(self, name: str, verifier_key: str, at_s: float) -> str:
        def run() -> str:
            with self.write_connection("registering the ledger key") as c:
                known = c.execute(_FIRST_KEY).scalar()
                if known is not None:
                    return str(known)
                c.execute(
                    sa.insert(lt.ledger_public_keys).values(
                        name=name, verifier_key=verifier_key, created_at_s=at_s
                    )
                )
                return verifier_key

        return self.retry.run(run)

    def ledger_legacy_key(self) -> tuple[str, bytes] | None:
        k = lt.ledger_keys.c

        def work(c: Tx) -> tuple[str, bytes] | None:
            row = c.execute(
                sa.select(k.name, k.private_key).order_by(k.created_at_s).limit(1)
            ).first()
            return None if row is None else (str(row.name), bytes(row.private_key))

        return self._reading("reading the legacy ledger key", work)

    def ledger_forget_legacy_key(self, name: str) -> None:
        def run() -> None:
            with self.write_connection("erasing the legacy ledger key") as c:
                c.execute(sa.delete(lt.ledger_keys).where(lt.ledger_keys.c.name == name))

        self.retry.run(run)

    def ledger_add_checkpoint(self, size: int, note: str, at_s: float) -> None:
        def run() -> None:
            with self.write_connection("storing a checkpoint") as c:
                c.execute(sa.insert(lt.ledger_checkpoints).values(size=size, note=note, at_s=at_s))

        self.retry.run(run)

    def ledger_latest_checkpoint(self) -> tuple[int, str] | None:
        p = lt.ledger_checkpoints.c

        def work(c: Tx) -> tuple[int, str] | None:
            row = c.execute(sa.select(p.size, p.note).order_by(p.id.desc()).limit(1)).first()
            return None if row is None else (int(row.size), str(row.note))

        return self._reading("reading the last checkpoint", work)

    def ledger_checkpoints(self) -> list[tuple[int, str]]:
        """(size, signed note) of every stored checkpoint, oldest first."""
        p = lt.ledger_checkpoints.c

        def work(c: Tx) -> list[tuple[int, str]]:
            rows = c.execute(sa.select(p.size, p.note).order_by(p.id)).all()
            return [(int(row.size), str(row.note)) for row in rows]

        return self._reading("reading the checkpoints", work)

    def ledger_checkpoints_page(self, since_size: int, limit: int) -> list[tuple[int, str]]:
        p = lt.ledger_checkpoints.c

        def work(c: Tx) -> list[tuple[int, str]]:
            rows = c.execute(
                sa.select(p.size, p.note).where(p.size >= since_size).order_by(p.id).limit(limit)
            ).all()
            return [(int(row.size), str(row.note)) for row in rows]

        return self._reading("reading the checkpoints", work)

    def ledger_halt(self) -> Halt | None:
        return self._reading("reading whether the hub is halted", _halt)

    def ledger_record_halt(self, reason: str, at_s: float) -> Halt:
        def run() -> Halt:
            with self.write_connection("halting the hub") as c:
                held = _halt(c)
                if held is not None:
                    return held
                c.execute(sa.insert(lt.ledger_halt).values(id=1, reason=reason, at_s=at_s))
                return Halt(reason, at_s)

        return self.retry.run(run)

    def ledger_lift_halt(self) -> Halt | None:
        if self.ledger_halt() is None:  # nothing to write: a read-only store is served
            return None

        def run() -> Halt | None:
            with self.write_connection("lifting the hub's halt") as c:
                held = _halt(c)
                if held is not None:
                    c.execute(sa.delete(lt.ledger_halt))
                return held

        return self.retry.run(run)
