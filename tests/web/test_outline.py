"""Outlines as the maps draw them: unwrapped, cut at the antimeridian, where two meet."""

from __future__ import annotations

import math

from shapely.geometry import shape

from deconflict.geo.footprint import Circle
from deconflict.geo.separation import MAX_EDGE_PAIRS
from deconflict.web.outline import outline_geometry, party_colours


def test_an_outline_across_the_antimeridian_is_cut_into_two_valid_halves():
    ring = Circle((179.95, 10.0), 20_000.0).outline()
    geometry = outline_geometry(ring)
    assert geometry["type"] == "MultiPolygon"
    drawn = shape(geometry)
    assert drawn.is_valid
    west, _, east, _ = drawn.bounds
    assert west >= -180.0
    assert east <= 180.0
    lons = sorted(p[0][0][0] for p in geometry["coordinates"])
    assert lons[0] < 0 < lons[1]


def test_where_two_outlines_meet_is_their_overlap_or_the_shortest_line():
    a = Circle((39.0, 36.0), 5_000.0).outline()
    b = Circle((39.05, 36.0), 5_000.0).outline()
    far = Circle((39.2, 36.0), 5_000.0).outline()
    overlap = shape(outline_geometry(a, b))
    assert overlap.geom_type == "Polygon"
    assert overlap.area > 0
    assert overlap.buffer(-1e-9).within(shape(outline_geometry(a)))
    line = shape(outline_geometry(a, far))
    assert line.geom_type == "LineString"
    assert 0.05 < line.length < 0.11  # degrees of longitude between the two circles' edges


def test_party_colours_are_fixed_for_the_demo_and_distinct_for_others():
    colours = party_colours(["US", "RU", "X", "Y"])
    assert colours["US"] == "#1f78b4"
    assert colours["RU"] == "#d95f02"
    assert len(set(colours.values())) == 4


def test_two_outlines_past_the_budget_are_drawn_as_the_first_alone():
    """Where two outlines meet costs in the product of their points: past the separation
    test's budget the first outline stands for it, so another party's outline of many points
    cannot make a map slow (security.md §4.2). Within it, where they meet is drawn."""
    a = Circle((39.0, 36.0), 5_000.0).outline()
    side = MAX_EDGE_PAIRS // len(a) + 1  # one point more than the budget allows beside ``a``
    ring = [(39.05 + 0.04 * math.cos(2 * math.pi * k / side),
             36.0 + 0.04 * math.sin(2 * math.pi * k / side)) for k in range(side)]  # fmt: skip
    assert len(a) * len(ring) > MAX_EDGE_PAIRS
    assert outline_geometry(a, ring) == outline_geometry(a)
    within = ring[: MAX_EDGE_PAIRS // len(a)]
    assert shape(outline_geometry(a, within)).geom_type == "Polygon"
    assert outline_geometry(a, within) != outline_geometry(a)
