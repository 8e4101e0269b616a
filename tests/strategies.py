"""Hypothesis strategies shared by the geo and engine tests.

Volumes are drawn around a few sites chosen to be hard: the Raqqa area, the antimeridian, the north
pole and the south pole. Sizes run from 10 m to 1,000 km; altitudes and times are drawn from coarse
grids, so equal altitudes, touching bands and windows where one ends as the other starts are common.
"""

from __future__ import annotations

from hypothesis import strategies as st

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


__all__ = ["SITES", "entries", "entry_sets", "footprints", "metres_east", "square"]
