"""The Merkle tree of the log, exactly as RFC 9162 (Certificate Transparency v2) section 2.1.

Hashing: a leaf is ``SHA-256(0x00 || entry)``, an interior node ``SHA-256(0x01 || left || right)``;
the tree of n leaves splits at k, the largest power of two below n (2.1.1). Inclusion proofs are
``PATH`` (2.1.3.1) and consistency proofs ``PROOF``/``SUBPROOF`` (2.1.4.1); the two verifiers
follow 2.1.3.2 and 2.1.4.2 step by step.

Proofs are built from *perfect subtrees*: the hash of ``2**level`` leaves starting at
``index * 2**level``. Once complete such a subtree never changes, so a log keeps them (the store in
a table, :class:`MemoryTree` in lists), and any subtree hash a proof needs is a fold of at most
log2(n) of them along the right edge. Building a proof first lists the perfect subtrees it needs
(:func:`inclusion_keys`, :func:`consistency_keys`), reads them in one batch from a
:class:`NodeReader`, then assembles the proof: O(log n) reads and hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from deconflict.errors import InvalidInput, VerificationFailed

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "NodeKey",
    "NodeReader",
    "consistency_keys",
    "consistency_proof",
    "inclusion_keys",
    "inclusion_proof",
    "leaf_hash",
    "new_perfect_nodes",
    "node_hash",
    "reference_root",
    "root_hash",
    "root_keys",
    "sibling_keys",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: (level, index): the perfect subtree of 2**level leaves starting at leaf index * 2**level.
NodeKey = tuple[int, int]


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeReader(Protocol):
    """Where proofs read perfect-subtree hashes from (the store, or a :class:`MemoryTree`)."""

    def perfect_hashes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """The hashes of the perfect subtrees ``keys``; every one must exist."""
        ...


# Subtree ranges -------------------------------------------------------------------------------


def _cover(lo: int, hi: int) -> list[NodeKey]:
    """The perfect subtrees whose right-leaning fold is MTH(D[lo:hi]), left to right.

    Every range a proof asks for starts at a multiple of the largest power of two below its
    length, so it is one perfect subtree followed by the cover of the rest."""
    keys: list[NodeKey] = []
    while hi - lo > 0:
        n = hi - lo
        size = n if n & (n - 1) == 0 else _split(n)
        level = size.bit_length() - 1
        keys.append((level, lo >> level))
        lo += size
    return keys


def _fold(keys: Sequence[NodeKey], hashes: Mapping[NodeKey, bytes]) -> bytes:
    result = hashes[keys[-1]]
    for key in reversed(keys[:-1]):
        result = node_hash(hashes[key], result)
    return result


def _path_ranges(m: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """PATH(m, D[lo:hi]) as the ranges whose hashes it lists (RFC 9162 2.1.3.1)."""
    out: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m = lo + k, m - k
    out.reverse()
    return out


def _subproof_ranges(m: int, lo: int, hi: int, whole: bool) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[lo:hi], b) as the ranges whose hashes it lists (RFC 9162 2.1.4.1)."""
    out: list[tuple[int, int]] = []
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                out.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    out.reverse()
    return out


def _check_range(index: int, size: int, what: str) -> None:
    if not 0 <= index < size:
        raise InvalidInput(f"{what} {index} is not in a tree of size {size}")


def inclusion_keys(index: int, size: int) -> list[NodeKey]:
    """The perfect subtrees an inclusion proof of leaf ``index`` in a tree of ``size`` reads."""
    _check_range(index, size, "leaf index")
    return [key for lo, hi in _path_ranges(index, 0, size) for key in _cover(lo, hi)]


def consistency_keys(first: int, second: int) -> list[NodeKey]:
    """The perfect subtrees a consistency proof from size ``first`` to ``second`` reads."""
    if not 0 <= first <= second:
        raise InvalidInput(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    ranges = _subproof_ranges(first, 0, second, True)
    return [key for lo, hi in ranges for key in _cover(lo, hi)]


def root_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees whose fold is the root of a tree of ``size``."""
    return _cover(0, size)


def inclusion_proof(reader: NodeReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]): the audit path, leaf's sibling first."""
    _check_range(index, size, "leaf index")
    ranges = _path_ranges(index, 0, size)
    covers = [_cover(lo, hi) for lo, hi in ranges]
    hashes = reader.perfect_hashes(sorted({key for cover in covers for key in cover}))
    return [_fold(cover, hashes) for cover in covers]


def consistency_proof(reader: NodeReader, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]); empty when ``first`` is 0 or equals ``second``."""
    consistency_keys(first, second)  # validates
    if first in (0, second):
        return []
    covers = [_cover(lo, hi) for lo, hi in _subproof_ranges(first, 0, second, True)]
    hashes = reader.perfect_hashes(sorted({key for cover in covers for key in cover}))
    return [_fold(cover, hashes) for cover in covers]


def root_hash(reader: NodeReader, size: int) -> bytes:
    """MTH(D[size]); the hash of the empty string for the empty tree."""
    if size == 0:
        return EMPTY_ROOT
    keys = root_keys(size)
    return _fold(keys, reader.perfect_hashes(keys))


def new_perfect_nodes(
    index: int, leaf: bytes, siblings: Mapping[NodeKey, bytes]
) -> list[tuple[NodeKey, bytes]]:
    """The perfect subtrees completed by appending ``leaf`` at ``index`` (the leaf first), given
    the left siblings it completes them with (keys from :func:`sibling_keys`)."""
    out: list[tuple[NodeKey, bytes]] = [((0, index), leaf)]
    level, i, current = 0, index, leaf
    while i & 1:
        current = node_hash(siblings[(level, i - 1)], current)
        level, i = level + 1, i >> 1
        out.append(((level, i), current))
    return out


def sibling_keys(index: int) -> list[NodeKey]:
    """The left siblings that appending a leaf at ``index`` combines with."""
    keys: list[NodeKey] = []
    level, i = 0, index
    while i & 1:
        keys.append((level, i - 1))
        level, i = level + 1, i >> 1
    return keys


# Verification (RFC 9162 2.1.3.2 and 2.1.4.2) --------------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise VerificationFailed unless ``proof`` shows ``leaf`` at ``index`` under ``root``."""
    if not 0 <= index < size:
        raise VerificationFailed(f"inclusion: leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationFailed("inclusion: the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationFailed("inclusion: the proof is shorter than the tree is deep")
    if r != root:
        raise VerificationFailed(f"inclusion: leaf {index} does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise VerificationFailed unless ``proof`` shows the tree of ``second`` extends ``first``."""
    if not 0 <= first <= second:
        raise VerificationFailed(f"consistency: size {first} is above size {second}")
    if first == second or first == 0:
        if proof:
            raise VerificationFailed("consistency: expected an empty proof")
        if first == second and first_root != second_root:
            raise VerificationFailed(f"consistency: two different roots for size {first}")
        return
    if not proof:
        raise VerificationFailed("consistency: empty proof")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationFailed("consistency: the proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationFailed("consistency: the proof is too short")
    if fr != first_root:
        raise VerificationFailed(f"consistency: the proof does not lead to the size-{first} root")
    if sr != second_root:
        raise VerificationFailed(f"consistency: the proof does not lead to the size-{second} root")


# In memory --------------------------------------------------------------------------------------


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes by the RFC's recursive definition (slow; for tests and audits)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


class MemoryTree:
    """A Merkle tree in memory: every perfect subtree hash, level by level."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        # Level by level, each a pass over the one below (what appending the leaves one at a
        # time gives, at a third of the cost: a million at a hub's start).
        level = list(leaves)
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self.levels.append(level)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, entry: bytes) -> int:
        """Append an entry; its leaf index."""
        return self.append_leaf(leaf_hash(entry))

    def append_leaf(self, leaf: bytes) -> int:
        index = self.size
        for (level, i), value in new_perfect_nodes(index, leaf, self._lookup(sibling_keys(index))):
            if level == len(self.levels):
                self.levels.append([])
            if len(self.levels[level]) != i:  # pragma: no cover - appends complete in order
                raise RuntimeError("perfect subtrees out of order")
            self.levels[level].append(value)
        return index

    def _lookup(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        return {(level, i): self.levels[level][i] for level, i in keys}

    def perfect_hashes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        return self._lookup(keys)

    def root(self, size: int | None = None) -> bytes:
        return root_hash(self, self.size if size is None else size)

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self, index, self.size if size is None else size)

    def consistency(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(self, first, self.size if second is None else second)
