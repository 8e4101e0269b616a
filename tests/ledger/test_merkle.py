"""The Merkle tree against RFC 9162's recursive definitions, known roots, and random proofs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.errors import InvalidInput, VerificationFailed
from deconflict.ledger import (
    MemoryTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# The eight leaves and roots of the Certificate Transparency reference tests (RFC 6962 hashing,
# which RFC 9162 keeps).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) written as RFC 9162 2.1.1 states it, over entries."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return leaf_hash(d[0])
    k = _k(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) as RFC 9162 2.1.3.1 states it."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) as RFC 9162 2.1.4.1 states it."""
    if m == len(d):
        return [] if b else [mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


ENTRIES = [f"entry {i}".encode() for i in range(9)]
SIZES = range(1, 10)


def test_roots_match_the_certificate_transparency_vectors():
    """The roots of the CT reference tree of 1..8 leaves."""
    tree = MemoryTree()
    for entry, expected in zip(CT_LEAVES, CT_ROOTS, strict=True):
        tree.append(entry)
        assert tree.root().hex() == expected


def test_empty_tree_root_is_the_hash_of_nothing():
    """MTH({}) = SHA-256()."""
    assert MemoryTree().root() == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", SIZES)
def test_root_matches_the_recursive_definition(size):
    """Non-power-of-two sizes split at the largest power of two below n."""
    assert MemoryTree(leaf_hash(e) for e in ENTRIES[:size]).root() == mth(ENTRIES[:size])


@pytest.mark.parametrize(("size", "index"), [(n, m) for n in SIZES for m in range(n)])
def test_inclusion_proofs_match_path_and_verify(size, index):
    """Every index of every tree of 1..9 leaves: PATH exactly, and it verifies."""
    tree = MemoryTree(leaf_hash(e) for e in ENTRIES)
    proof = tree.inclusion(index, size)
    assert proof == path(index, ENTRIES[:size])
    verify_inclusion(leaf_hash(ENTRIES[index]), index, size, proof, mth(ENTRIES[:size]))


@pytest.mark.parametrize(("first", "second"), [(m, n) for n in SIZES for m in range(1, n + 1)])
def test_consistency_proofs_match_proof_and_verify(first, second):
    """Every pair of sizes 1 <= m <= n <= 9: PROOF exactly, and it verifies."""
    tree = MemoryTree(leaf_hash(e) for e in ENTRIES)
    proof = tree.consistency(first, second)
    assert proof == subproof(first, ENTRIES[:second], True)
    verify_consistency(first, second, mth(ENTRIES[:first]), mth(ENTRIES[:second]), proof)


def test_inclusion_of_the_wrong_leaf_or_index_fails():
    """Another leaf, another index, a short or long proof: each fails."""
    tree = MemoryTree(leaf_hash(e) for e in ENTRIES[:7])
    root, proof = tree.root(), tree.inclusion(3)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf_hash(ENTRIES[4]), 3, 7, proof, root)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf_hash(ENTRIES[3]), 2, 7, proof, root)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf_hash(ENTRIES[3]), 3, 7, proof[:-1], root)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf_hash(ENTRIES[3]), 3, 7, [*proof, root], root)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf_hash(ENTRIES[3]), 7, 7, proof, root)


def test_proofs_outside_the_tree_are_refused():
    """An index past the end, or a first size above the second, is bad input."""
    tree = MemoryTree(leaf_hash(e) for e in ENTRIES[:3])
    with pytest.raises(InvalidInput):
        tree.inclusion(3)
    with pytest.raises(InvalidInput):
        tree.consistency(3, 2)


def test_consistency_edge_cases():
    """Equal sizes need equal roots and an empty proof; from 0 anything is consistent."""
    tree = MemoryTree(leaf_hash(e) for e in ENTRIES[:5])
    verify_consistency(5, 5, tree.root(), tree.root(), [])
    verify_consistency(0, 5, tree.root(0), tree.root(), [])
    with pytest.raises(VerificationFailed):
        verify_consistency(5, 5, tree.root(4), tree.root(), [])
    with pytest.raises(VerificationFailed):
        verify_consistency(3, 5, tree.root(3), tree.root(), [])
    with pytest.raises(VerificationFailed):
        verify_consistency(5, 3, tree.root(), tree.root(3), [])


def _mutate(proof: list[bytes], which: int, bit: int) -> list[bytes]:
    out = list(proof)
    item = bytearray(out[which])
    item[bit // 8] ^= 1 << (bit % 8)
    out[which] = bytes(item)
    return out


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(1, 300))
def test_every_inclusion_proof_verifies_and_a_mutated_one_does_not(data, size):
    """Random sizes and indices: the proof verifies; flipping one bit of it does not."""
    tree = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(size))
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion(index)
    leaf = leaf_hash(index.to_bytes(4, "big"))
    verify_inclusion(leaf, index, size, proof, tree.root())
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        bad = _mutate(proof, which, data.draw(st.integers(0, 255)))
        with pytest.raises(VerificationFailed):
            verify_inclusion(leaf, index, size, bad, tree.root())
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index)) if size > 1 else None
    if other is not None:
        with pytest.raises(VerificationFailed):
            verify_inclusion(leaf, other, size, proof, tree.root())


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(2, 300))
def test_every_consistency_proof_verifies_and_a_mutated_one_does_not(data, second):
    """Random size pairs: the proof verifies; one flipped bit, or another root, does not."""
    tree = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(second))
    first = data.draw(st.integers(1, second - 1))
    proof = tree.consistency(first, second)
    verify_consistency(first, second, tree.root(first), tree.root(second), proof)
    which = data.draw(st.integers(0, len(proof) - 1))
    bad = _mutate(proof, which, data.draw(st.integers(0, 255)))
    with pytest.raises(VerificationFailed):
        verify_consistency(first, second, tree.root(first), tree.root(second), bad)
    forked = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(second))
    forked.levels = MemoryTree(
        leaf_hash((i if i != first - 1 else 10**6).to_bytes(4, "big")) for i in range(second)
    ).levels
    with pytest.raises(VerificationFailed):
        verify_consistency(first, second, tree.root(first), forked.root(second), proof)


def test_a_tree_made_from_its_leaves_is_the_tree_appended_one_by_one():
    """The bulk constructor (a hub's whole-log check) and appending: the same perfect
    subtrees, for every size up to a few full levels past a power of two."""
    leaves = [leaf_hash(bytes([n % 256, n // 256])) for n in range(70)]
    for size in range(len(leaves) + 1):
        appended = MemoryTree()
        for leaf in leaves[:size]:
            appended.append_leaf(leaf)
        assert MemoryTree(leaves[:size]).levels == appended.levels
