"""The adjustment search finds the least shift that clears a volume, and it does clear it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import entry_sets

from deconflict.engine import (
    Entry,
    SeparationMinima,
    VolumeIndex,
    nearest_altitude,
    smallest_time_shift,
)
from deconflict.engine.adjust import _least_allowed
from deconflict.geo import Circle, Volume4D

T0 = 1.4e9
MINIMA = SeparationMinima(horizontal_m=9_260, vertical_m=300, time_s=600)


def vol(key, lower, upper, start, end, lon=39.0):
    return Volume4D.build(key, Circle((lon, 36.0), 10_000), lower, upper, T0 + start, T0 + end)


def index_of(*volumes, party="RU"):
    return VolumeIndex(Entry(v.id, party, v) for v in volumes)


def test_time_shift_is_least_and_exact():
    """Blocked 0-3600 s, a 1 h flight at 1800 s moves 2400 s later (3600 + 600 minimum)."""
    index = index_of(vol("ru", 0, 10_000, 0, 3_600))
    mine = vol("us", 5_000, 6_000, 1_800, 5_400)
    shift = smallest_time_shift(index, mine, "US", MINIMA)
    assert shift is not None
    assert shift.delta == 2_400
    assert index.conflicts_with(shift.volume, "US", MINIMA) == []


def test_time_shift_prefers_the_smaller_side():
    """When moving earlier is the smaller change, the shift is negative."""
    index = index_of(vol("ru", 0, 10_000, 3_000, 9_000))
    mine = vol("us", 0, 1_000, 0, 3_600)
    shift = smallest_time_shift(index, mine, "US", MINIMA)
    assert shift is not None
    assert shift.delta == -1_200


def test_time_shift_respects_earliest_start_and_gaps():
    """It skips a gap too short for the flight and never starts before the earliest start."""
    index = index_of(vol("a", 0, 10_000, 0, 3_600), vol("b", 0, 10_000, 5_000, 9_000))
    mine = vol("us", 0, 1_000, 1_000, 4_600)
    shift = smallest_time_shift(index, mine, "US", MINIMA, earliest_start_s=T0 + 1_000)
    assert shift is not None
    assert shift.volume.window.start_s == T0 + 9_600
    assert index.conflicts_with(shift.volume, "US", MINIMA) == []


def test_altitude_is_nearest_band_clear_of_all():
    """A 5-6 km flight in a 4-6 km block climbs 1,300 m to 6,300 m (300 m minimum), which is
    nearer than descending 2,300 m to a 3,700 m top."""
    index = index_of(vol("ru", 4_000, 6_000, 0, 3_600))
    mine = vol("us", 5_000, 6_000, 0, 3_600)
    band = nearest_altitude(index, mine, "US", MINIMA)
    assert band is not None
    assert band.delta == 1_300
    assert band.volume.altitude.lower_m == 6_300
    assert index.conflicts_with(band.volume, "US", MINIMA) == []


def test_no_altitude_fits_returns_none():
    """When the whole floor-to-ceiling range is blocked there is no band."""
    index = index_of(vol("ru", 0, 20_000, 0, 3_600))
    assert nearest_altitude(index, vol("us", 5_000, 6_000, 0, 3_600), "US", MINIMA) is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry_sets(max_size=12))
def test_suggestions_always_clear(entries):
    """Whatever the set, a suggested shift or band leaves no conflict for the adjusted volume."""
    index = VolumeIndex(entries)
    for entry in entries[:3]:
        for adjust in (smallest_time_shift, nearest_altitude):
            found = adjust(index, entry.volume, entry.party, MINIMA)
            if found is not None:
                assert index.conflicts_with(found.volume, entry.party, MINIMA) == []


def _least_allowed_by_every_end(forbidden, low, high):
    """The search as it was written first (every end checked against every interval, O(n^2)):
    the oracle of the one that sorts."""
    best = None
    for value in [0.0, low, high, *(v for interval in forbidden for v in interval)]:
        if not low <= value <= high or any(s < value < e for s, e in forbidden):
            continue
        if best is None or abs(value) < abs(best) or (abs(value) == abs(best) and value > best):
            best = value
    return best


_ENDS = st.sampled_from([-7.0, -5.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0])


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.tuples(_ENDS, _ENDS), max_size=8),
    _ENDS,
    _ENDS,
)
def test_the_sorted_search_finds_what_checking_every_end_found(forbidden, low, high):
    """Shared, touching, nested and empty intervals, ranges that hold zero or not: the value
    of least magnitude, the greater of two as near, or none."""
    assert _least_allowed(forbidden, low, high) == _least_allowed_by_every_end(forbidden, low, high)


def test_thousands_of_another_party_s_volumes_cost_a_sort_not_a_square():
    """A suggestion's search over n forbidden intervals compares their ends O(n log n) times
    (a thirty-fourth reader: checked against every interval, another party's 16,000 volumes
    near one of ours took 7 s of the hub thread, and each 1,000 more cost more than the last;
    here, the search as it was compared these ends three million times)."""
    compared = 0

    class Counted(float):
        def _count(self, other, op):
            nonlocal compared
            compared += 1
            return op(float(self), float(other))

        def __lt__(self, other):
            return self._count(other, float.__lt__)

        def __gt__(self, other):
            return self._count(other, float.__gt__)

        def __le__(self, other):
            return self._count(other, float.__le__)

        def __ge__(self, other):
            return self._count(other, float.__ge__)

        def __eq__(self, other):
            return self._count(other, float.__eq__)

        __hash__ = float.__hash__

    n = 1_000
    forbidden = [(Counted(2 * k), Counted(2 * k + 1.5)) for k in range(n)]
    assert _least_allowed(forbidden, 0.5, 3 * n) == 1.5
    assert compared < 100 * n
