"""Hypothesis strategies shared by the geo, engine and API tests.

Volumes are drawn around a few sites chosen to be hard: the Raqqa area, the antimeridian, the north
pole and the south pole. Sizes run from 10 m to 1,000 km; altitudes and times are drawn from coarse
grids, so equal altitudes, touching bands and windows where one ends as the other starts are common.

The ``accepted_*`` strategies draw what intake accepts, over the whole of each range
(``deconflict.ranges``) with its edges drawn often: volumes as the API's GeoJSON features, and an
agreement's terms as the API's JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from deconflict import ranges
from deconflict.engine import Entry
from deconflict.geo import GEOD, Circle, Corridor, Polygon, Volume4D

SITES = {
    "raqqa": (39.0, 35.95),
    "antimeridian": (179.95, -16.5),
    "north-pole": (0.0, 89.95),
    "south-pole": (120.0, -89.9),
}

sizes_m = st.sampled_from([10.0, 150.0, 2_000.0, 30_000.0, 250_000.0, 1_000_000.0])


@st.composite
def places(draw: st.DrawFn, site: tuple[float, float]) -> tuple[float, float]:
    """A point within about 300 km of the site (by a geodesic step from it)."""
    azimuth = draw(st.floats(0, 360))
    distance = draw(st.sampled_from([0.0, 5.0, 50.0, 800.0, 20_000.0, 150_000.0, 300_000.0]))
    lon, lat, _ = GEOD.fwd(site[0], site[1], azimuth, distance)
    return (float(lon), float(lat))


@st.composite
def footprints(draw: st.DrawFn, site: tuple[float, float]) -> object:
    centre = draw(places(site))
    size = draw(sizes_m)
    kind = draw(st.sampled_from(["circle", "corridor", "polygon"]))
    if kind == "circle":
        return Circle(centre, size / 2)
    if kind == "corridor":
        azimuth = draw(st.floats(0, 360))
        end = GEOD.fwd(centre[0], centre[1], azimuth, size)
        return Corridor([centre, (float(end[0]), float(end[1]))], max(size / 20, 5.0))
    corners = draw(st.integers(3, 6))
    start = draw(st.floats(0, 360))
    ring = []
    for i in range(corners):
        lon, lat, _ = GEOD.fwd(centre[0], centre[1], start + 360.0 * i / corners, size / 2)
        ring.append((float(lon), float(lat)))
    return Polygon(ring)


@st.composite
def entries(draw: st.DrawFn, key: str) -> Entry:
    site = SITES[draw(st.sampled_from(sorted(SITES)))]
    footprint = draw(footprints(site))
    lower = draw(st.sampled_from([0.0, 300.0, 1_000.0, 3_000.0]))
    thickness = draw(st.sampled_from([300.0, 700.0, 2_000.0]))
    start = draw(st.sampled_from([0.0, 600.0, 1_800.0, 3_600.0])) + 1_447_700_000.0
    duration = draw(st.sampled_from([600.0, 1_200.0, 3_600.0]))
    volume = Volume4D.build(key, footprint, lower, lower + thickness, start, start + duration)
    return Entry(key, draw(st.sampled_from(["RU", "US", "FR"])), volume)


@st.composite
def entry_sets(draw: st.DrawFn, max_size: int = 24) -> list[Entry]:
    count = draw(st.integers(2, max_size))
    return [draw(entries(f"v{i:03d}")) for i in range(count)]


def square(west: float, south: float, side_deg: float) -> Polygon:
    """A lon/lat square (geodesic edges) with its south-west corner at (west, south)."""
    return Polygon(
        [
            (west, south),
            (west + side_deg, south),
            (west + side_deg, south + side_deg),
            (west, south + side_deg),
        ]
    )


def metres_east(lon: float, lat: float, metres: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, metres)
    return (float(lon2), float(lat2))


# what intake accepts ----------------------------------------------------------------------------

_MICRO = 1_000_000
#: Largest circle radius the default area cap (5e12 m2) lets through, and a margin under it.
_WIDEST_M = 1_260_000.0


def _edged(edges: list[float], low: float, high: float) -> st.SearchStrategy[float]:
    """A float in [low, high], its edges (and ``edges``) drawn often."""
    return st.one_of(
        st.sampled_from([low, high, *edges]),
        st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


def rfc3339(micros: int, offset_min: int = 0) -> str:
    """``micros`` microseconds after the Unix epoch as RFC 3339 at a UTC offset of
    ``offset_min`` minutes (written by ``datetime``, not by the code under test)."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    return moment.astimezone(timezone(timedelta(minutes=offset_min))).isoformat()


@st.composite
def accepted_windows(draw: st.DrawFn) -> tuple[int, int]:
    """A window within the accepted span and length, in whole microseconds (so that its text
    is exact): the span's first and last moments and the longest window drawn often."""
    longest = round(ranges.MAX_WINDOW_S * _MICRO)
    duration = draw(
        st.one_of(
            st.sampled_from([1, _MICRO, 600 * _MICRO, longest - _MICRO, longest]),
            st.integers(1, longest),
        )
    )
    earliest = round(ranges.EARLIEST_S * _MICRO)
    latest = round(ranges.LATEST_S * _MICRO) - duration
    start = draw(
        st.one_of(
            st.sampled_from([earliest, latest, 1_447_700_000 * _MICRO]),
            st.integers(earliest, latest),
        )
    )
    return start, start + duration


@st.composite
def accepted_bands(draw: st.DrawFn) -> tuple[float, float]:
    """An altitude band within the accepted range, its edges drawn often."""
    top = ranges.MAX_ALTITUDE_M
    lower = draw(_edged([0.0, 1_000.0, top - 1.0], -top, top - 1e-3))
    upper = draw(_edged([min(lower + 300.0, top)], lower + 1e-3, top))
    return lower, upper


_FEATURE_SITES = [*SITES.values(), (180.0, 0.0), (-180.0, 10.0), (0.0, 90.0), (45.0, -90.0)]


@st.composite
def accepted_geometries(draw: st.DrawFn) -> dict[str, Any]:
    """A footprint as a feature's geometry and sizing properties: a circle, corridor or
    polygon at a hard site, from the narrowest accepted width to about the largest area."""
    centre = draw(places(draw(st.sampled_from(_FEATURE_SITES))))
    kind = draw(st.sampled_from(["circle", "corridor", "polygon"]))
    if kind == "circle":
        radius = draw(_edged([ranges.MIN_WIDTH_M, 5_000.0], ranges.MIN_WIDTH_M, _WIDEST_M))
        return {"geometry": {"type": "Point", "coordinates": list(centre)}, "radius_m": radius}
    length = draw(_edged([1.0, 30_000.0], 1.0, 1_000_000.0))
    end = GEOD.fwd(centre[0], centre[1], draw(st.floats(0, 360)), length)[:2]
    path = [list(centre), [float(end[0]), float(end[1])]]
    if kind == "corridor":
        width = draw(_edged([ranges.MIN_WIDTH_M], ranges.MIN_WIDTH_M, 500_000.0))
        return {"geometry": {"type": "LineString", "coordinates": path}, "half_width_m": width}
    corners = draw(st.integers(3, 8))
    radius = draw(_edged([10.0], 10.0, _WIDEST_M))
    turn = draw(st.floats(0, 360))
    ring = []
    for i in range(corners):
        lon, lat, _ = GEOD.fwd(centre[0], centre[1], turn + 360.0 * i / corners, radius)
        ring.append([float(lon), float(lat)])
    return {"geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}}


@st.composite
def accepted_features(draw: st.DrawFn, volume_id: str) -> dict[str, Any]:
    """One volume as the API takes it: a GeoJSON Feature, times at a drawn UTC offset."""
    shape = draw(accepted_geometries())
    lower, upper = draw(accepted_bands())
    start, end = draw(accepted_windows())
    offset = draw(st.sampled_from([0, 300, -300, 14 * 60, -12 * 60]))
    properties = {k: v for k, v in shape.items() if k != "geometry"}
    properties.update(
        id=volume_id,
        lower_m=lower,
        upper_m=upper,
        start=rfc3339(start, offset),
        end=rfc3339(end, offset),
    )
    return {"type": "Feature", "geometry": shape["geometry"], "properties": properties}


@st.composite
def accepted_terms(draw: st.DrawFn) -> dict[str, Any]:
    """An agreement's numbers as the API takes them, each over its whole accepted range."""
    return {
        "min_lead_time_s": draw(_edged([21_600.0], 0.0, ranges.MAX_LEAD_TIME_S)),
        "ack_deadline_s": draw(_edged([1_800.0], 0.0, ranges.MAX_ACK_DEADLINE_S)),
        "separation": {
            "horizontal_m": draw(_edged([9_260.0], 0.0, ranges.MAX_HORIZONTAL_M)),
            "vertical_m": draw(_edged([300.0], 0.0, ranges.MAX_VERTICAL_M)),
            "time_s": draw(_edged([600.0], 0.0, ranges.MAX_TIME_SEPARATION_S)),
        },
    }


__all__ = [
    "SITES",
    "accepted_bands",
    "accepted_features",
    "accepted_geometries",
    "accepted_terms",
    "accepted_windows",
    "entries",
    "entry_sets",
    "footprints",
    "metres_east",
    "rfc3339",
    "square",
]
