"""The ledger in the store: leaf-only appends, subtrees built lazily, what entries hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.errors import VerificationFailed
from deconflict.geo import Circle, Corridor, Polygon, Volume4D
from deconflict.ledger import MemoryTree, canonical, leaf_hash
from deconflict.model import Party
from deconflict.store import ledger_sql, ledger_tree, open_store
from deconflict.store import ledger_tables as lt
from deconflict.store.codec import volume_to_dict, volumes_to_json
from deconflict.store.ledger_entries import rfc3339

T0 = 1_447_000_000.0


@pytest.fixture
def store(store_target):
    s = open_store(store_target)
    yield s
    s.close()


def _append(store, count: int, first: int = 0) -> None:
    for i in range(first, first + count):
        store.add_party(Party(f"p{i}", f"party {i}"), T0 + i)


def _levels(store) -> set[int]:
    return {level for level, _ in store.ledger_nodes()}


def _reference(store) -> MemoryTree:
    return MemoryTree(leaf_hash(body) for _, body in store.ledger_entries())


def test_an_append_stores_its_entry_and_leaf_hash_only(store):
    """Five appends leave five leaf hashes, in the entries' own rows, and no subtree above them
    until a root is asked."""
    _append(store, 5)
    assert store.ledger_size() == 5
    assert _levels(store) == {0}
    with store._engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(lt.ledger_nodes)).scalar() == 0
        leaves = c.execute(sa.select(lt.ledger_entries.c.leaf).order_by("idx")).scalars().all()
    assert leaves == [leaf_hash(body) for _, body in store.ledger_entries()]
    assert store.ledger_root(5) == _reference(store).root()
    assert _levels(store) == {0, 1, 2}


@pytest.mark.parametrize("sizes", [[1, 2, 3], [7, 8, 13], [5, 16, 17, 33], [33]])
def test_builds_in_steps_give_the_reference_tree(store, sizes):
    """Roots and proofs asked at growing sizes, each building from where the last stopped,
    agree with an in-memory tree, and the stored subtrees are exactly the reference's."""
    done = 0
    for size in sizes:
        _append(store, size - done, done)
        done = size
        tree = _reference(store)
        assert store.ledger_root(size) == tree.root()
        for index in (0, size // 2, size - 1):
            assert store.ledger_inclusion(index, size) == tree.inclusion(index)
        assert store.ledger_consistency(1, size) == tree.consistency(1)
    expected = {
        (level, i): value
        for level, hashes in enumerate(tree.levels)
        for i, value in enumerate(hashes)
    }
    assert store.ledger_nodes() == expected


@pytest.mark.parametrize("chunk", [1, 3, 4])
def test_a_build_stores_a_chunk_of_leaves_a_transaction(store, monkeypatch, chunk):
    """A build far behind stores its subtrees a few leaves a write transaction (each hashed in
    a read first), and the outcome is the reference tree whatever the chunk."""
    monkeypatch.setattr(ledger_sql, "_BUILD_LEAVES", chunk)
    writes = []
    original = ledger_tree.store_subtrees

    def counted(c, start, rows):
        writes.append(start)
        return original(c, start, rows)

    monkeypatch.setattr(ledger_sql, "store_subtrees", counted)
    _append(store, 13)
    tree = _reference(store)
    assert store.ledger_root(13) == tree.root()
    step = max(2, chunk - chunk % 2)  # a chunk ends on a pair of leaves
    assert writes == list(range(0, 13, step))
    expected = {(lv, i): v for lv, hashes in enumerate(tree.levels) for i, v in enumerate(hashes)}
    assert store.ledger_nodes() == expected


def test_a_build_raced_by_another_reads_again(store, monkeypatch):
    """When another build stored subtrees between a chunk's read and its write, the write stores
    nothing and the build goes on from where the other stopped."""
    _append(store, 8)
    original = ledger_tree.store_subtrees
    raced = []

    def racing(c, start, rows):
        if not raced:  # another process builds the first 6 leaves' subtrees first
            raced.append(start)
            original(c, 0, ledger_tree.subtree_rows(c, 0, 6))
        return original(c, start, rows)

    monkeypatch.setattr(ledger_sql, "store_subtrees", racing)
    assert store.ledger_root(8) == _reference(store).root()
    assert raced == [0]
    tree = _reference(store)
    expected = {(lv, i): v for lv, hashes in enumerate(tree.levels) for i, v in enumerate(hashes)}
    assert store.ledger_nodes() == expected


def test_a_proof_at_an_older_size_builds_only_that_far(store):
    """An inclusion proof in the tree of 6 of 11 entries builds the subtrees of the first 6."""
    _append(store, 11)
    tree = MemoryTree(leaf_hash(body) for _, body in store.ledger_entries()[:6])
    assert store.ledger_inclusion(2, 6) == tree.inclusion(2)
    stored = store.ledger_nodes()
    assert (1, 2) in stored
    assert (1, 3) not in stored
    assert store.ledger_root(11) == _reference(store).root()


def test_a_missing_leaf_hash_is_reported_not_rebuilt(store):
    """A build never makes up a leaf hash: a removed one is a VerificationFailed."""
    _append(store, 4)
    e = lt.ledger_entries.c
    with store._engine.begin() as c:
        c.execute(lt.ledger_entries.update().where(e.idx == 2).values(leaf=None))
    with pytest.raises(VerificationFailed, match="leaf hash 2"):
        store.ledger_root(4)


@pytest.mark.parametrize(
    "footprint",
    [
        Circle((38.25, 35.0), 3_000.0),
        Corridor([(38.0, 35.0), (38.5, 35.25), (39.125, 35.5)], 1_500.5),
        Polygon([(38.0, 35.0), (38.5, 35.0), (38.5, 35.5), (38.0, 35.5)]),
    ],
    ids=["circle", "corridor", "polygon"],
)
def test_a_notice_commitment_holds_the_volumes_as_stored(footprint):
    """The committed content's volumes are the stored volumes JSON, canonicalised."""
    volume = Volume4D.build("v", footprint, 1_000.0, 8_000.5, T0 + 0.25, T0 + 3600)
    direct = canonical([volume_to_dict(volume)])
    assert direct == canonical(json.loads(volumes_to_json((volume,))))


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=0, max_value=4e9)
    | st.integers(0, 4_000_000_000).map(float)
    | st.integers(0, 4_000_000_000_000_000).map(lambda us: us / 1e6)
)
def test_entry_times_are_rfc3339_as_strftime_writes_them(at_s):
    """An entry's time is the UTC moment with microseconds only when there are any."""
    moment = datetime.fromtimestamp(at_s, UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    assert rfc3339(at_s) == moment.strftime(pattern)


@pytest.mark.parametrize(
    "at_s",
    [
        0.0,
        T0,
        T0 + 0.5,
        T0 + 0.9999995,
        T0 + 0.9999994,
        T0 + 0.0000005,
        T0 + 0.0000015,
        1e9 + 0.0000025,
        86_399.9999996,
        -1.5,
        -0.0000004,
        951_782_400.0,  # 2000-02-29
        4_102_444_799.999999,
    ],
)
def test_entry_times_round_their_microseconds_as_datetime_does(at_s):
    """At the microsecond's rounding edges (half to even, carried into the second, the day and
    the year) and before 1970, an entry's time is the moment ``datetime`` makes of it."""
    expected = datetime.fromtimestamp(at_s, UTC).isoformat()[:-6] + "Z"
    assert rfc3339(at_s) == expected


@settings(max_examples=500, deadline=None)
@given(
    st.floats(min_value=-2e9, max_value=4e9)
    | st.integers(-2_000_000_000, 4_000_000_000).map(lambda s: s + 0.5e-6)
    | st.integers(-2_000_000_000, 4_000_000_000).map(lambda s: s + 1 - 0.5e-6)
)
def test_entry_times_are_the_moments_datetime_makes_of_them(at_s):
    """Any time, before 1970 too, is written as ``datetime.fromtimestamp`` and ``isoformat``
    write it."""
    assert rfc3339(at_s) == datetime.fromtimestamp(at_s, UTC).isoformat()[:-6] + "Z"


def test_entries_removed_from_the_end_are_found_by_the_subtrees_over_them(store):
    """With the leaf hashes in the entries' rows, the last entries deleted take their leaves
    with them; the audit still finds them missing from the subtree hashes built over them."""
    from deconflict.ledger import Signer, verify_log

    _append(store, 8)
    assert store.ledger_root(8) == _reference(store).root()  # builds the subtrees over all 8
    e = lt.ledger_entries.c
    with store._engine.begin() as c:
        c.execute(lt.ledger_entries.delete().where(e.idx >= 6))
    key = Signer.generate("deconflict.hub/01020304").verifier()
    with pytest.raises(VerificationFailed, match="first bad index 6: entry 6 is missing"):
        verify_log(store.ledger_entries(), store.ledger_nodes(), 6, [], key)
