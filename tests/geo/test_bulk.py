"""Footprints read back many at once are the constructors' own, to the last bit, and a shape the
fast path does not take is built (or refused) by the constructor."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import SITES
from tests.strategies import footprints as drawn_footprints

from benchmarks import data
from deconflict.errors import InvalidGeometry
from deconflict.geo import Circle, Corridor, Footprint, GeoLimits, Polygon
from deconflict.geo.bulk import Shape, _packed, footprints, footprints_summarised, summary

STORED = GeoLimits(max_vertices=sys.maxsize, max_area_m2=math.inf, max_record_points=sys.maxsize)


def shape_of(footprint: Footprint) -> Shape:
    """The shape a store keeps for ``footprint``, as its JSON text reads back (lists)."""
    document: dict[str, Any] = footprint.to_geojson()
    geometry = document["geometry"]
    if geometry["type"] == "Point":
        return Shape("circle", [geometry["coordinates"]], document["radius_m"])
    if geometry["type"] == "LineString":
        return Shape("corridor", geometry["coordinates"], document["half_width_m"])
    return Shape("polygon", geometry["coordinates"][0], 0.0)


def assert_summarised(shapes: list[Shape]) -> list[Footprint]:
    """The summary rows the bulk reader gives are each footprint's own, to the last bit."""
    built, rows = footprints_summarised(shapes, STORED)
    assert rows.shape == (len(built), 8)
    np.testing.assert_array_equal(rows, np.array([summary(f) for f in built]), strict=True)
    return built


def assert_same(built: Footprint, expected: Footprint) -> None:
    assert type(built) is type(expected)
    assert built.radius_m == expected.radius_m
    assert built.cap_rad == expected.cap_rad
    np.testing.assert_array_equal(built.core, expected.core, strict=True)
    np.testing.assert_array_equal(built.core_vectors, expected.core_vectors, strict=True)
    np.testing.assert_array_equal(built.centre, expected.centre, strict=True)
    assert built.given() == expected.given()
    assert built.to_geojson() == expected.to_geojson()
    assert built.area_m2 == expected.area_m2


def test_the_benchmark_airspace_reads_back_as_built() -> None:
    expected = [entry.volume.footprint for entry in data.every_region(7, 300)]
    built = assert_summarised([shape_of(f) for f in expected])
    assert len(built) == len(expected)
    for one, other in zip(built, expected, strict=True):
        assert_same(one, other)
    # Corridors of the benchmark have legs of 20-150 km: their edges were densified.
    assert any(f.given() != [tuple(p) for p in f.core.tolist()] for f in built)


def test_a_page_as_a_store_reads_it_is_checked_in_arrays() -> None:
    """Shapes of the types a store's JSON reads as (lists of numbers) are checked all at once;
    one of other types (a tuple of three) sends the page to the one-by-one checks."""
    rng = np.random.default_rng(8)
    shapes = [shape_of(e.volume.footprint) for e in data.region_entries(rng, "hub", 50, "h")]
    packed = _packed(shapes, sys.maxsize)
    assert packed is not None
    assert packed.taken.tolist() == list(range(len(shapes)))
    assert _packed([*shapes, Shape("polygon", [(0.0, 0.0, 1.0)] * 3, 0.0)], sys.maxsize) is None


def test_what_the_arrays_do_not_take_the_constructor_builds_or_refuses() -> None:
    """Within a page of the store's types, each shape the array checks leave (a vertex
    repeated, a ring closed twice, a ring whose first and third positions are one, a circle
    of two centres, a width that is not positive) is the constructor's."""
    repeated = [[10.0, 50.0], [10.0, 50.0], [11.0, 50.0], [11.0, 51.0]]
    closed_twice = [[10.0, 50.0], [11.0, 50.0], [11.0, 51.0], [10.0, 50.0], [10.0, 50.0]]
    first_is_third = [[10.0, 50.0], [11.0, 50.0], [10.0, 50.0], [11.0, 51.0], [10.5, 51.0]]
    shapes = [
        Shape("circle", [[10.0, 50.0]], 100),
        Shape("polygon", repeated, 0.0),
        Shape("polygon", closed_twice, 0.0),
        Shape("polygon", first_is_third, 0.0),
        Shape("corridor", [[10.0, 50.0], [10.5, 50.0]], 300.0),
    ]
    packed = _packed(shapes, sys.maxsize)
    assert packed is not None
    assert packed.taken.tolist() == [0, 1, 4]  # a repeated vertex: found as it is built
    built = assert_summarised(shapes)
    assert_same(built[1], Polygon(repeated))
    assert_same(built[2], Polygon(closed_twice))
    assert_same(built[3], Polygon(first_is_third, STORED, known_simple=True))  # not simple
    for wrong, message in (
        (Shape("circle", [[10.0, 50.0], [11.0, 50.0]], 100.0), "too many values"),
        (Shape("corridor", [[10.0, 50.0], [10.5, 50.0]], 0), "half_width_m must be > 0"),
        (Shape("polygon", [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]], 0.0), "distinct"),
    ):
        with pytest.raises((InvalidGeometry, ValueError), match=message):
            footprints([shapes[0], wrong], STORED)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(sorted(SITES)).flatmap(lambda s: drawn_footprints(SITES[s])),
        min_size=1,
        max_size=12,
    )
)
def test_any_footprint_reads_back_as_built(expected: list[Footprint]) -> None:
    """Around the antimeridian and the poles, 10 m to 1,000 km (long edges densified)."""
    for one, other in zip(
        assert_summarised([shape_of(f) for f in expected]), expected, strict=True
    ):
        assert_same(one, other)


def test_whole_numbers_and_closing_positions_read_back() -> None:
    ring = [[10, 50], [11, 50], [11, 51], [10, 50]]
    (polygon, circle, corridor) = footprints(
        [
            Shape("polygon", ring, 0),
            Shape("circle", [[10, 50]], 500),
            Shape("corridor", [[10, 50], [12, 50]], 1000),
        ],
        STORED,
    )
    assert_same(polygon, Polygon(ring))
    assert_same(circle, Circle((10, 50), 500))
    assert_same(corridor, Corridor([[10, 50], [12, 50]], 1000))


def test_what_the_fast_path_does_not_take_the_constructor_builds() -> None:
    repeated = [[10.0, 50.0], [10.0, 50.0], [11.0, 50.0], [11.0, 51.0]]
    three_d = [[10.0, 50.0, 100.0], [11.0, 50.0, 100.0], [11.0, 51.0, 100.0]]
    closed_twice = [[10.0, 50.0], [11.0, 50.0], [11.0, 51.0], [10.0, 50.0], [10.0, 50.0]]
    built = assert_summarised(
        [
            Shape("circle", [[10.0, 50.0]], 100.0),  # beside them, one the fast path takes
            Shape("polygon", repeated, 0.0),
            Shape("polygon", three_d, 0.0),
            Shape("polygon", closed_twice, 0.0),
        ]
    )[1:]
    assert_same(built[0], Polygon(repeated))
    assert_same(built[1], Polygon(three_d))
    assert_same(built[2], Polygon(closed_twice))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (Shape("circle", [[10.0, 95.0]], 100.0), "latitude 95.0 is out of range"),
        (Shape("circle", [[10.0, 50.0]], -1.0), "radius_m must be > 0"),
        (Shape("corridor", [[10.0, 50.0], [10.0, 50.0]], 5.0), "at least 2 distinct positions"),
        (Shape("polygon", [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]], 0.0), "distinct"),
        (Shape("polygon", [[0.0, 0.0], [float("nan"), 1.0], [1.0, 0.0]], 0.0), "finite"),
        (Shape("polygon", [[0.0, 0.0], [120.0, 0.0], [0.0, 60.0]], 0.0), "degrees"),
        (Shape("circle", [["10.5", 50.0]], 100.0), "must be a number"),
        (Shape("corridor", [[10.0, 50.0], [True, 50.0]], 5.0), "must be a number"),
        (Shape("circle", [[10.0, 50.0]], 10**400), "too large"),
    ],
)
def test_a_shape_that_is_wrong_is_refused_as_the_constructor_refuses_it(
    shape: Shape, message: str
) -> None:
    good = Shape("circle", [[10.0, 50.0]], 100.0)
    with pytest.raises(InvalidGeometry, match=message):
        footprints([good, shape, good], STORED)


def test_capped_limits_take_the_constructor() -> None:
    """Limits with an area cap are intake's: the constructor checks them."""
    with pytest.raises(InvalidGeometry, match="area"):
        footprints([Shape("circle", [[10.0, 50.0]], 50_000.0)], GeoLimits(max_area_m2=1e6))
