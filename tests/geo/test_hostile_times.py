"""Times and sizes at and past the edges of what intake accepts (security.md §4.1): intake
refuses what lies outside, naming the part; every formatter renders any finite time."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict import ranges
from deconflict.errors import InvalidVolume
from deconflict.geo import Circle, Corridor, Volume4D
from deconflict.geo.units import epoch_to_rfc3339, parse_rfc3339, rfc3339_micro
from deconflict.timefmt import format_clock, format_window

_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_YEAR_10000 = 253_402_315_200.0  # 10000-01-01T04:00:00Z, as 9999-12-31T23:00-05:00 reads


@settings(max_examples=300, deadline=None)
@given(_FINITE | st.sampled_from([_YEAR_10000, -62_135_614_800.0, -1e18, 1e18]))
def test_every_formatter_renders_any_finite_time(seconds):
    """security.md §4.1: the API's, the ledger's and people's time formats render every finite
    time (a year-10000 notice made every read of it 500), and what the API writes reads back."""
    text = epoch_to_rfc3339(seconds)
    assert rfc3339_micro(seconds)
    assert format_clock(seconds)
    assert format_window(seconds, seconds)
    if abs(seconds) < 1e15:  # past that a float has no millisecond to keep (truncated)
        assert math.isclose(parse_rfc3339(text), seconds, abs_tol=1e-3 + abs(seconds) * 1e-15)


@pytest.mark.parametrize(
    ("seconds", "text", "said"),
    [
        (_YEAR_10000, "+010000-01-01T04:00:00Z", "Sat 1 Jan +010000 04:00Z"),
        (-62_135_614_800.0, "0000-12-31T19:00:00Z", "Sun 31 Dec 0000 19:00Z"),
        (-62_167_219_201.0, "-000001-12-31T23:59:59Z", "Fri 31 Dec -000001 23:59:59Z"),
        (ranges.LATEST_S, "2200-01-01T00:00:00Z", "Wed 1 Jan 2200 00:00Z"),
    ],
)
def test_a_year_beyond_rfc3339_is_an_expanded_year(seconds, text, said):
    """security.md §4.1: a year RFC 3339 cannot write is ISO 8601's expanded year (as
    ECMAScript reads it), and the proleptic calendar and weekdays run on past datetime's."""
    assert epoch_to_rfc3339(seconds) == text
    assert parse_rfc3339(text) == seconds
    assert format_clock(seconds) == said


def _volume(start_s=1_447_736_400.0, end_s=1_447_740_000.0, lower_m=0.0, upper_m=100.0, fp=None):
    return Volume4D.build(
        "v", fp or Circle((39.0, 35.95), 5_000.0), lower_m, upper_m, start_s, end_s
    )


_EARLIEST, _LATEST, _LONGEST = ranges.EARLIEST_S, ranges.LATEST_S, ranges.MAX_WINDOW_S
_TOP = ranges.MAX_ALTITUDE_M


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_s": _EARLIEST, "end_s": _EARLIEST + 1e-6},
        {"start_s": _LATEST - 1e-6, "end_s": _LATEST},
        {"start_s": _LATEST - _LONGEST, "end_s": _LATEST},
        {"lower_m": -_TOP, "upper_m": _TOP},
        {"fp": Circle((0.0, 90.0), ranges.MIN_WIDTH_M)},
        {"fp": Corridor([(179.9, 0.0), (-179.9, 0.0)], ranges.MIN_WIDTH_M)},
    ],
)
def test_the_edges_of_each_range_are_accepted(kwargs):
    """security.md §4.1: each range includes its edges."""
    assert _volume(**kwargs).id == "v"


@pytest.mark.parametrize(
    ("kwargs", "part"),
    [
        ({"start_s": _EARLIEST - 1e-6, "end_s": _EARLIEST + 60}, "start"),
        ({"start_s": _YEAR_10000, "end_s": _YEAR_10000 + 3600}, "start"),
        ({"start_s": -62_135_614_800.0, "end_s": -62_135_611_200.0}, "start"),
        ({"start_s": _LATEST - 60, "end_s": _LATEST + 1e-6}, "end"),
        ({"start_s": 4e9, "end_s": 4e9 + _LONGEST + 1e-3}, "end"),
        ({"lower_m": -_TOP - 1}, "lower_m"),
        ({"upper_m": _TOP + 1}, "upper_m"),
        ({"fp": Circle((39.0, 35.95), ranges.MIN_WIDTH_M / 2)}, "radius_m"),
        ({"fp": Corridor([(39.0, 35.0), (39.1, 35.0)], 1e-300)}, "half_width_m"),
    ],
)
def test_a_value_past_its_range_is_refused_naming_its_part(kwargs, part):
    """security.md §4.1: intake refuses a time outside the span, a window longer than the
    longest, an altitude past 1,000 km or a width under a metre, naming the volume and part."""
    with pytest.raises(InvalidVolume) as refused:
        _volume(**kwargs)
    assert refused.value.volume == "v"
    assert refused.value.part == part


def test_the_store_reads_back_what_intake_now_refuses():
    """security.md §4.1: a volume read back (``intake=False``) keeps only its structure, so a
    record accepted before a range was narrowed is never locked out."""
    old = Volume4D.build(
        "v", Circle((39.0, 35.95), 0.5), 0.0, 100.0, _YEAR_10000, _YEAR_10000 + 3600, intake=False
    )
    assert old.window.start_s == _YEAR_10000
