"""Every bad input listed in the foundation issue gets its own clear error naming the volume."""

from __future__ import annotations

import math
import time

import pytest

from deconflict.errors import InvalidGeometry, InvalidVolume
from deconflict.geo import Circle, Corridor, GeoLimits, Polygon, Volume4D
from deconflict.geo.units import altitude_to_m, flight_level_to_m, parse_rfc3339

SQUARE = [(38.9, 35.9), (39.1, 35.9), (39.1, 36.0), (38.9, 36.0)]
T0 = 1_447_740_000.0


def build(footprint, lower=0.0, upper=1000.0, start=T0, end=T0 + 3600):
    return Volume4D.build("vol-7", footprint, lower, upper, start, end)


@pytest.mark.parametrize(
    ("footprint", "reason"),
    [
        (lambda: Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "not simple"),
        (lambda: Polygon([(0, 0), (1, 0), (2, 0)]), "degenerate"),
        (lambda: Polygon([(0, 0), (1, 0), (0, 0), (1, 0)]), "2 distinct vertices"),
        (lambda: Polygon([(0, 0), (1, 1)]), "needs at least 3"),
        (lambda: Polygon([(0, 0), (1, math.nan), (1, 0)]), "finite"),
        (lambda: Polygon([(0, 0), (1, math.inf), (1, 0)]), "finite"),
        (lambda: Polygon([(0, 0), (181, 1), (1, 0)]), "longitude 181"),
        (lambda: Polygon([(0, 0), (1, 91), (1, 0)]), "latitude 91"),
        (lambda: Polygon([(0, 0), ("x", 1), (1, 0)]), "must be a number"),
        (lambda: Circle((0, 0), -5), "radius_m must be > 0"),
        (lambda: Circle((0, 0), math.nan), "finite"),
        (lambda: Corridor([(0, 0), (0, 0)], 100), "2 distinct"),
        (lambda: Corridor([(0, 0), (1, 0)], 0), "half_width_m must be > 0"),
        (lambda: Polygon([(-13, -13), (13, -13), (13, 13), (-13, 13)]), "over the cap"),
        (lambda: Corridor([(0, 0), (90, 0)], 10), "30 degrees"),
    ],
)
def test_bad_footprint_is_named(footprint, reason):
    """A bad footprint raises InvalidVolume naming the volume and the reason."""
    with pytest.raises(InvalidVolume, match=reason) as caught:
        build(footprint)
    assert caught.value.volume == "vol-7"
    assert "vol-7" in str(caught.value)


def test_too_many_vertices_is_refused_before_any_work():
    """A million-vertex ring is refused at once, not processed."""
    ring = [(i * 1e-6, 0.0) for i in range(1_000_000)]
    began = time.perf_counter()
    with pytest.raises(InvalidVolume, match="more than the limit of 10000"):
        build(lambda: Polygon(ring))
    assert time.perf_counter() - began < 1.0


def test_vertex_limit_is_configurable():
    """The vertex cap comes from GeoLimits."""
    with pytest.raises(InvalidGeometry, match="limit of 3"):
        Polygon(SQUARE, GeoLimits(max_vertices=3))


def test_area_cap_is_configurable():
    """The area cap comes from GeoLimits: a 200 km2 square passes at 1,000 km2, fails at 100."""
    assert Polygon(SQUARE, GeoLimits(max_area_m2=1e9)).area_m2 > 1e8
    with pytest.raises(InvalidGeometry, match="over the cap of 100 km2"):
        Polygon(SQUARE, GeoLimits(max_area_m2=1e8))


@pytest.mark.parametrize(
    ("lower", "upper", "start", "end", "reason"),
    [
        (1000.0, 1000.0, T0, T0 + 60, "lower_m 1000 must be below upper_m 1000"),
        (2000.0, 1000.0, T0, T0 + 60, "must be below"),
        (math.nan, 1000.0, T0, T0 + 60, "lower_m must be finite"),
        (0.0, math.inf, T0, T0 + 60, "upper_m must be finite"),
        (0.0, 1000.0, T0, T0, "end must be after start"),
        (0.0, 1000.0, T0, T0 - 1, "end must be after start"),
        (0.0, 1000.0, math.nan, T0, "start must be finite"),
        (0.0, 1000.0, T0, T0 + 400 * 86400, "longer than"),
        (0.0, 2e6, T0, T0 + 60, "beyond"),
    ],
)
def test_bad_band_or_window_is_named(lower, upper, start, end, reason):
    """Bad altitude bands and time windows are refused with the volume's name."""
    with pytest.raises(InvalidVolume, match=reason):
        build(Polygon(SQUARE), lower, upper, start, end)


def test_ring_with_closing_point_and_repeats_is_accepted():
    """A closed ring (first == last) with a repeated vertex is the same polygon."""
    a = Polygon(SQUARE)
    b = Polygon([SQUARE[0], *SQUARE, SQUARE[0]])
    assert a.area_m2 == pytest.approx(b.area_m2)


def test_polygon_around_a_pole_holds_the_pole():
    """A ring at 80N holds the pole: its area is the polar cap's, not the rest of the globe."""
    cap = Polygon([(0, 80), (90, 80), (180, 80), (-90, 80)])
    assert 2.0e12 < cap.area_m2 < 3.5e12


def test_polygon_across_the_antimeridian():
    """A 2x1 degree box across 180 has the area of a 2x1 degree box at the equator."""
    box = Polygon([(179, 0), (-179, 0), (-179, 1), (179, 1)])
    assert box.area_m2 == pytest.approx(2 * 111_319.5 * 110_574.3, rel=0.01)


def test_unit_conversions():
    """Feet and flight levels convert with the stated assumptions."""
    assert altitude_to_m(1000, "ft") == pytest.approx(304.8)
    assert flight_level_to_m(350) == pytest.approx(10_668.0)
    assert altitude_to_m(12.5, "m") == 12.5
    with pytest.raises(ValueError, match="unknown altitude unit"):
        altitude_to_m(1, "furlong")
    assert parse_rfc3339("2015-11-17T05:00:00Z") == 1447736400.0
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_rfc3339("2015-11-17T05:00:00")


@pytest.mark.parametrize(
    "text", ["20151117T050000Z", "2015-W47-2T05:00Z", "2015-321T05:00Z", "2015-11-17", "05:00Z"]
)
def test_iso_8601_forms_that_are_not_rfc_3339_are_refused(text: str) -> None:
    """Python's ``fromisoformat`` reads them (basic, week and ordinal dates; a date alone); the
    hub says what it reads instead (a thirtieth reader found the map's bounds took them)."""
    with pytest.raises(ValueError, match="is not RFC 3339"):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2015-11-17T05:00:00Z", 1447736400.0),
        ("2015-11-17t05:00:00z", 1447736400.0),
        ("2015-11-17 05:00:00+00:00", 1447736400.0),
        ("2015-11-17T05:00Z", 1447736400.0),
        ("2015-11-17T06:00:00.5+01:00", 1447736400.5),
        ("2015-11-17T00:00:00-0500", 1447736400.0),
    ],
)
def test_rfc_3339_forms_are_read(text: str, seconds: float) -> None:
    assert parse_rfc3339(text) == seconds
