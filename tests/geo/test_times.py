"""Times written for people and the API: as ``datetime`` writes them, however computed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.geo.units import epoch_to_rfc3339, parse_rfc3339

T0 = 1_447_736_400.0  # 2015-11-17T05:00:00Z


def reference(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds" if seconds % 1 else "seconds")[:-6] + "Z"


@settings(max_examples=500, deadline=None)
@given(
    st.floats(min_value=-2e9, max_value=4e9)
    | st.integers(-2_000_000_000, 4_000_000_000).map(float)
    | st.integers(-2_000_000_000, 4_000_000_000).map(lambda s: s + 0.5e-6)
    | st.integers(-2_000_000_000, 4_000_000_000).map(lambda s: s + 1 - 0.5e-6)
)
def test_a_time_is_written_as_datetime_writes_it(seconds):
    """To the second, or the millisecond when there is a fraction, before 1970 too."""
    assert epoch_to_rfc3339(seconds) == reference(seconds)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (T0, "2015-11-17T05:00:00Z"),
        (T0 + 0.25, "2015-11-17T05:00:00.250Z"),
        (T0 + 0.9999996, "2015-11-17T05:00:01.000Z"),  # rounds into the next second
        (T0 + 0.0004, "2015-11-17T05:00:00.000Z"),  # a fraction, under a millisecond
        (-0.5, "1969-12-31T23:59:59.500Z"),
        (951_782_400.0, "2000-02-29T00:00:00Z"),
    ],
)
def test_a_time_at_the_edges(seconds, text):
    assert epoch_to_rfc3339(seconds) == text
    assert epoch_to_rfc3339(seconds) == reference(seconds)


@settings(max_examples=200, deadline=None)
@given(st.integers(-2_000_000_000, 4_000_000_000).map(float))
def test_a_whole_second_reads_back_as_itself(seconds):
    assert parse_rfc3339(epoch_to_rfc3339(seconds)) == seconds
