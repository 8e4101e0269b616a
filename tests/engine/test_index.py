"""The index agrees with the brute-force exact reference, and insert/remove keep it so."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import entry_sets, square

from deconflict.engine import (
    Entry,
    SeparationMinima,
    VolumeIndex,
    brute_conflicts_with,
    brute_pairs,
    conflicts,
)
from deconflict.geo import Circle, Volume4D

minima_strategy = st.sampled_from(
    [
        SeparationMinima(),
        SeparationMinima(9_260.0, 300.0, 600.0),
        SeparationMinima(50.0, 0.0, 0.0),
        SeparationMinima(0.0, 1_000.0, 0.0),
        SeparationMinima(0.0, 0.0, 1_800.0),
    ]
)


def keyed(pairs):
    return sorted(tuple(sorted((a.key, b.key))) for a, b in pairs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry_sets(), minima_strategy)
def test_all_pairs_match_brute_force(entries, minima):
    """All conflicting pairs from the index equal the brute-force pairs, at hard sites."""
    index = VolumeIndex(entries)
    assert keyed(index.all_pairs(minima)) == keyed(brute_pairs(entries, minima))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry_sets(), minima_strategy, st.data())
def test_incremental_index_matches_brute_force(entries, minima, data):
    """Built by inserts, with some removed, queries still equal brute force on what is left."""
    index = VolumeIndex()
    for entry in entries:
        index.insert(entry.key, entry.party, entry.volume)
    dropped = data.draw(st.sets(st.sampled_from([e.key for e in entries])))
    for key in dropped:
        assert index.remove(key)
    kept = [e for e in entries if e.key not in dropped]
    assert len(index) == len(kept)
    for query in entries:
        found = index.conflicts_with(query.volume, query.party, minima)
        expected = brute_conflicts_with(kept, query, minima)
        assert sorted(e.key for e in found if e.key != query.key) == sorted(e.key for e in expected)


@settings(max_examples=40, deadline=None)
@given(entry_sets(max_size=6), minima_strategy, st.floats(-1e6, 1e6))
def test_rule_is_symmetric_and_time_invariant(entries, minima, shift):
    """conflicts(a, b) == conflicts(b, a), and shifting both in time changes nothing."""
    for a in entries:
        for b in entries:
            forward = conflicts(a.volume, b.volume, minima)
            assert forward == conflicts(b.volume, a.volume, minima)
            moved_a = a.volume.with_window(a.volume.window.shifted(shift))
            moved_b = b.volume.with_window(b.volume.window.shifted(shift))
            assert forward == conflicts(moved_a, moved_b, minima)


def volume(key, footprint, lower=0.0, upper=1000.0, start=0.0, end=3600.0):
    return Volume4D.build(key, footprint, lower, upper, start + 1.4e9, end + 1.4e9)


def test_boundary_cases_are_not_conflicts():
    """Touching edges, equal-altitude touching bands and end == start are not conflicts."""
    base = volume("a", square(38.0, 35.0, 0.5))
    touching_edge = volume("b", square(38.5, 35.0, 0.5))
    band_on_top = volume("c", square(38.0, 35.0, 0.5), lower=1000.0, upper=2000.0)
    next_window = volume("d", square(38.0, 35.0, 0.5), start=3600.0, end=7200.0)
    for other in (touching_edge, band_on_top, next_window):
        assert not conflicts(base, other)
    assert conflicts(base, touching_edge, SeparationMinima(horizontal_m=1.0))
    assert conflicts(base, band_on_top, SeparationMinima(vertical_m=1.0))
    assert conflicts(base, next_window, SeparationMinima(time_s=1.0))


def test_same_party_never_conflicts():
    """Two overlapping volumes of one party are not reported; of two parties they are."""
    a = Entry("a", "US", volume("a", Circle((39.0, 36.0), 5_000)))
    b = Entry("b", "US", volume("b", Circle((39.0, 36.0), 5_000)))
    c = Entry("c", "RU", volume("c", Circle((39.0, 36.0), 5_000)))
    index = VolumeIndex([a, b, c])
    assert keyed(index.all_pairs()) == [("a", "c"), ("b", "c")]


def test_insert_replaces_and_remove_forgets():
    """Re-inserting a key moves it; removing it drops it from queries."""
    index = VolumeIndex()
    probe = volume("p", Circle((39.0, 36.0), 1_000))
    index.insert("x", "RU", volume("x", Circle((39.0, 36.0), 1_000)))
    assert [e.key for e in index.conflicts_with(probe, "US")] == ["x"]
    index.insert("x", "RU", volume("x", Circle((45.0, 36.0), 1_000)))
    assert index.conflicts_with(probe, "US") == []
    assert index.remove("x")
    assert not index.remove("x")
    assert len(index) == 0


def test_pair_minima_choose_per_pair():
    """With pair minima, each pair is judged by its own agreement's minima; None skips it."""
    near = volume("near", Circle((39.0, 36.0), 1_000))
    a = Entry("a", "RU", volume("a", Circle((39.05, 36.0), 1_000)))  # ~2.5 km gap
    b = Entry("b", "FR", volume("b", Circle((39.05, 36.0), 1_000)))
    index = VolumeIndex([a, b])
    wide = SeparationMinima(horizontal_m=5_000)

    def per_pair(one, other):
        return wide if {one, other} == {"US", "RU"} else None

    found = index.conflicts_with(near, "US", wide, per_pair)
    assert [e.key for e in found] == ["a"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry_sets())
def test_bulk_built_entries_can_be_removed(entries):
    """Entries bulk-loaded at construction are found and removed exactly like inserted ones."""
    index = VolumeIndex(entries)
    for entry in entries:
        assert entry.key in [e.key for e in index.candidates(entry.volume)]
    for entry in entries:
        assert index.remove(entry.key)
    assert len(index) == 0
    for entry in entries:
        assert index.candidates(entry.volume) == []


def test_a_reused_slot_keeps_no_trace_of_its_former_volume():
    """Removed volumes give their slots to the next ones inserted: a query where a removed
    volume was finds nothing, and one where its successor is finds it once."""
    first = [
        Entry(f"a{i}", "RU", volume(f"a{i}", Circle((39.0 + i, 36.0), 1_000))) for i in range(3)
    ]
    index = VolumeIndex(first)
    for entry in first:
        assert index.remove(entry.key)
    for i in range(3):
        index.insert(f"b{i}", "RU", volume(f"b{i}", Circle((45.0 + i, 36.0), 1_000)))
    for i in range(3):
        assert index.conflicts_with(volume("p", Circle((39.0 + i, 36.0), 1_000)), "US") == []
        found = index.conflicts_with(volume("p", Circle((45.0 + i, 36.0), 1_000)), "US")
        assert [e.key for e in found] == [f"b{i}"]
    assert sorted(e.key for e in index) == ["b0", "b1", "b2"]


def test_a_key_given_twice_to_a_new_index_is_refused():
    volume = Volume4D.build("v", Circle((10.0, 50.0), 100.0), 0.0, 100.0, 0.0, 60.0)
    with pytest.raises(KeyError, match="given twice"):
        VolumeIndex([Entry("k", "US", volume), Entry("j", "US", volume), Entry("k", "RU", volume)])
