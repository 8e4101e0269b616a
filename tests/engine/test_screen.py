"""The rule judged over arrays (the index's screen, then the exact stage a query at once, or a
sweep's pairs, or ``conflicts_among`` for volumes held elsewhere) agrees with the rule judged pair
by pair, :func:`conflicts`: on random volumes and where a pair sits at the margin of a minimum,
in each dimension."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import SITES, square

from deconflict.engine import Entry, SeparationMinima, VolumeIndex, conflicts, conflicts_among
from deconflict.engine.rule import near_horizontally
from deconflict.geo import GEOD, Circle, Corridor, Footprint, Polygon, Volume4D, separated_by

MINIMA = SeparationMinima(horizontal_m=1_852.0, vertical_m=304.8, time_s=300.0)
T0 = 1_447_700_000.0


def volume(key: str, footprint: Footprint, lower=0.0, upper=1_000.0, start=0.0, end=3_600.0):
    return Volume4D.build(key, footprint, lower, upper, T0 + start, T0 + end)


def together(query: Volume4D, others: list[Volume4D], minima: SeparationMinima) -> list[bool]:
    """The verdicts of the index's query, one per other volume, in order."""
    index = VolumeIndex(Entry(f"o{i}", "B", v) for i, v in enumerate(others))
    found = {e.key for e in index.conflicts_with(query, "A", minima)}
    return [f"o{i}" in found for i in range(len(others))]


def swept(query: Volume4D, others: list[Volume4D], minima: SeparationMinima) -> list[bool]:
    """The verdicts of the index's sweep of all pairs, for the pairs (query, other)."""
    entries = [Entry("q", "A", query), *(Entry(f"o{i}", "B", v) for i, v in enumerate(others))]
    found = {b.key if a.key == "q" else a.key for a, b in VolumeIndex(entries).all_pairs(minima)}
    return [f"o{i}" in found for i in range(len(others))]


def among(query: Volume4D, others: list[Volume4D], minima: SeparationMinima) -> list[bool]:
    """The verdicts of :func:`conflicts_among`, which judges volumes held outside an index."""
    return conflicts_among(query, others, minima)


def alone(query: Volume4D, others: list[Volume4D], minima: SeparationMinima) -> list[bool]:
    return [conflicts(query, other, minima) for other in others]


def horizontally(query: Volume4D, others: list[Volume4D], minimum_m: float) -> None:
    """:func:`near_horizontally` (the adjustment search's, windows and bands aside) says what
    ``separated_by`` says of each pair, one by one; each pair under its own minimum too."""
    expected = [not separated_by(query.footprint, o.footprint, minimum_m) for o in others]
    same = np.full(len(others), minimum_m)
    assert near_horizontally(query, others, same) == expected
    mixed = np.array([minimum_m if k % 2 else minimum_m + 5_000.0 for k in range(len(others))])
    assert near_horizontally(query, others, mixed) == [
        not separated_by(query.footprint, o.footprint, float(m))
        for o, m in zip(others, mixed, strict=True)
    ]


#: Metres, seconds: from well inside a minimum to well outside, through its edge.
OFFSETS = [-150.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 150.0]


def at(site: tuple[float, float], azimuth: float, distance_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(site[0], site[1], azimuth, distance_m)
    return float(lon), float(lat)


@pytest.mark.parametrize("site", sorted(SITES))
@pytest.mark.parametrize("minimum_m", [0.0, 1_852.0])
def test_circles_at_the_horizontal_margin(site, minimum_m):
    """Circles whose gap is the horizontal minimum give or take a metre, a millimetre or
    nothing, in eight directions: the index and the pair rule say the same of each."""
    centre = SITES[site]
    minima = SeparationMinima(horizontal_m=minimum_m)
    query = volume("q", Circle(centre, 500.0))
    others = [
        volume(f"o{k}", Circle(at(centre, azimuth, 500.0 + 300.0 + minimum_m + offset), 300.0))
        for k, (azimuth, offset) in enumerate(
            (azimuth, offset) for azimuth in range(0, 360, 45) for offset in OFFSETS
        )
    ]
    expected = alone(query, others, minima)
    assert together(query, others, minima) == expected
    assert swept(query, others, minima) == expected
    assert among(query, others, minima) == expected
    assert any(expected)
    assert not all(expected)
    horizontally(query, others, minimum_m)


@pytest.mark.parametrize("site", sorted(SITES))
def test_outlines_at_the_horizontal_margin(site):
    """A polygon, a corridor and a circle at the minimum from a polygon's edge and from a
    corridor's side, give or take: the index and the pair rule agree."""
    lon, lat = SITES[site]
    query = volume("q", square(lon, lat, 0.02))
    east = (lon + 0.02, lat + 0.01)  # on the square's eastern edge, a meridian
    others: list[Volume4D] = []
    for k, offset in enumerate(OFFSETS):
        gap = MINIMA.horizontal_m + offset
        near = at(east, 90.0, gap + 400.0)
        others.append(volume(f"c{k}", Circle(near, 400.0)))
        start, end = at(east, 90.0, gap + 100.0), at(east, 60.0, gap + 5_000.0)
        others.append(volume(f"r{k}", Corridor([start, end], 100.0)))
        corner = at(east, 90.0, gap)
        others.append(
            volume(
                f"p{k}",
                Polygon([corner, at(corner, 45.0, 3e3), at(corner, 135.0, 3e3)]),
            )
        )
    expected = alone(query, others, MINIMA)
    assert together(query, others, MINIMA) == expected
    assert swept(query, others, MINIMA) == expected
    assert among(query, others, MINIMA) == expected
    horizontally(query, others, MINIMA.horizontal_m)


@pytest.mark.parametrize("offset", [-1.0, -1e-6, 0.0, 1e-6, 1.0])
def test_time_and_altitude_at_their_margins(offset):
    """A window that starts the time minimum after the query's end, and a band the vertical
    minimum above its top, give or take: the index and the pair rule agree (and touching with
    no minimum is no conflict)."""
    fp = Circle((39.0, 36.0), 1_000.0)
    query = volume("q", fp)
    gap_s, gap_m = MINIMA.time_s + offset, MINIMA.vertical_m + offset
    others = [
        volume("t", fp, start=3_600.0 + gap_s, end=7_200.0 + gap_s),
        volume("v", fp, lower=1_000.0 + gap_m, upper=2_000.0 + gap_m),
        volume("touch-t", fp, start=3_600.0, end=7_200.0),
        volume("touch-v", fp, lower=1_000.0, upper=2_000.0),
    ]
    for minima in (MINIMA, SeparationMinima()):
        expected = alone(query, others, minima)
        assert together(query, others, minima) == expected
        assert swept(query, others, minima) == expected
        assert among(query, others, minima) == expected
    assert among(query, others, minima) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(SITES)),
    st.lists(
        st.tuples(
            st.floats(0.0, 360.0),
            st.one_of(st.sampled_from(OFFSETS), st.floats(-2_000.0, 2_000.0)),
            st.sampled_from([10.0, 300.0, 5_000.0]),
            st.sampled_from([-MINIMA.time_s, 0.0, 1.0]),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_random_circles_near_every_margin(site, draws):
    """Circles drawn about the horizontal minimum's edge, some also at the time minimum's:
    the index's verdicts are the pair rule's."""
    centre = SITES[site]
    query = volume("q", Circle(centre, 1_000.0))
    others = []
    for k, (azimuth, offset, radius, shift_s) in enumerate(draws):
        distance = max(0.0, 1_000.0 + radius + MINIMA.horizontal_m + offset)
        start = 3_600.0 + MINIMA.time_s + shift_s
        others.append(
            volume(
                f"o{k}",
                Circle(at(centre, azimuth, distance), radius),
                start=start,
                end=start + 600.0,
            )
        )
    expected = alone(query, others, MINIMA)
    assert together(query, others, MINIMA) == expected
    assert swept(query, others, MINIMA) == expected
    assert among(query, others, MINIMA) == expected
    horizontally(query, others, MINIMA.horizontal_m)
