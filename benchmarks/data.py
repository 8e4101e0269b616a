"""Seeded, clustered synthetic airspace for the benchmarks.

Three kinds of places, as real traffic has them:

- hubs: about twenty busy points worldwide (one straddling the antimeridian, one polar), each a
  dense cluster of small circles and polygons (drones, helicopters, local activity), mostly low;
- corridors: legs along the great circles between neighbouring hubs (Corridor footprints), higher;
- sparse: uniform on the sphere elsewhere, larger and longer.

Parties are a handful; altitude bands lie within 0-15 km; time windows within one week. Everything
derives from the seed, so the same arguments always give the same volumes. Parameters are drawn
vectorised with numpy; only the Volume4D construction (which validates) is a Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from deconflict.engine import Entry, SeparationMinima
from deconflict.geo import GEOD, Circle, Corridor, Footprint, Polygon, Volume4D

__all__ = [
    "EPOCH_S",
    "HUBS",
    "MINIMA",
    "PARTIES",
    "REGIONS",
    "WEEK_S",
    "Query",
    "every_region",
    "generate",
    "queries",
]

#: Monday 2026-01-05 00:00 UTC: the start of the simulated week.
EPOCH_S = 1_767_571_200.0
WEEK_S = 7 * 86_400.0
PARTIES = ("p0", "p1", "p2", "p3", "p4", "p5")
#: One nautical mile, 1,000 ft, five minutes: the minima every query is checked under.
MINIMA = SeparationMinima(horizontal_m=1852.0, vertical_m=304.8, time_s=300.0)

#: (lon, lat) of the busy points; Suva-ish straddles the antimeridian, McMurdo is polar.
HUBS = (
    (-0.45, 51.47),  # London
    (2.55, 49.01),  # Paris
    (8.56, 50.04),  # Frankfurt
    (-73.78, 40.64),  # New York
    (-118.41, 33.94),  # Los Angeles
    (-87.90, 41.98),  # Chicago
    (139.78, 35.55),  # Tokyo
    (121.81, 31.14),  # Shanghai
    (103.99, 1.36),  # Singapore
    (55.36, 25.25),  # Dubai
    (51.61, 25.27),  # Qatar
    (38.99, 36.52),  # Raqqa
    (28.81, 41.00),  # Istanbul
    (-46.47, -23.43),  # Sao Paulo
    (151.18, -33.95),  # Sydney
    (18.60, -33.97),  # Cape Town
    (77.10, 28.56),  # Delhi
    (-99.07, 19.44),  # Mexico City
    (179.95, -17.76),  # near the antimeridian (Fiji)
    (166.67, -77.85),  # McMurdo, polar
)
#: Corridors join hubs closer than this (a leg's cap must stay small).
_CORRIDOR_MAX_M = 3_000_000.0
REGIONS = ("hub", "corridor", "sparse")
_REGION_SHARES = (0.6, 0.1, 0.3)  # of each of REGIONS


@dataclass(frozen=True, slots=True)
class Query:
    """A query volume with the party asking; ``kind`` is "sparse" or "dense"."""

    kind: str
    entry: Entry


def _hub_pairs() -> list[tuple[int, int]]:
    pairs = []
    for i, a in enumerate(HUBS):
        for j in range(i + 1, len(HUBS)):
            b = HUBS[j]
            if GEOD.inv(a[0], a[1], b[0], b[1])[2] < _CORRIDOR_MAX_M:
                pairs.append((i, j))
    return pairs


_PAIRS = _hub_pairs()


def _star_ring(
    rng: np.random.Generator, lon: float, lat: float, size_m: float
) -> list[list[float]]:
    """A star-shaped (hence simple) ring of 4 to 7 vertices around a centre."""
    k = int(rng.integers(4, 8))
    azimuths = (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * (360.0 / k)
    radii = size_m * rng.uniform(0.6, 1.0, k)
    lons, lats, _ = GEOD.fwd(np.full(k, lon), np.full(k, lat), azimuths, radii)
    return [[float(x), float(y)] for x, y in zip(lons, lats, strict=True)]


def _area_footprint(
    rng: np.random.Generator, lon: float, lat: float, size_m: float, polygon: bool
) -> Footprint:
    if polygon:
        return Polygon(_star_ring(rng, lon, lat, size_m))
    return Circle((float(lon), float(lat)), size_m)


def _hub_footprints(rng: np.random.Generator, n: int) -> Iterator[Footprint]:
    hubs = rng.integers(0, len(HUBS), n)
    sigma = rng.uniform(4_000.0, 15_000.0, len(HUBS))[hubs]
    hub_lon = np.array([h[0] for h in HUBS])[hubs]
    hub_lat = np.array([h[1] for h in HUBS])[hubs]
    lons, lats, _ = GEOD.fwd(
        hub_lon, hub_lat, rng.uniform(0, 360, n), np.abs(rng.normal(0, 1, n)) * sigma
    )
    sizes = rng.lognormal(math.log(400.0), 0.7, n).clip(60.0, 3_000.0)
    polygon = rng.random(n) < 0.35
    for i in range(n):
        yield _area_footprint(rng, lons[i], lats[i], sizes[i], bool(polygon[i]))


def _corridor_footprints(rng: np.random.Generator, n: int) -> Iterator[Footprint]:
    pairs = np.array(_PAIRS)[rng.integers(0, len(_PAIRS), n)]
    a = np.array(HUBS)[pairs[:, 0]]
    b = np.array(HUBS)[pairs[:, 1]]
    azimuth, _, distance = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    legs = rng.uniform(20_000.0, 150_000.0, n)
    start = rng.uniform(0.0, 1.0, n) * np.maximum(distance - legs, 0.0)
    lon0, lat0, heading = GEOD.fwd(a[:, 0], a[:, 1], azimuth, start)
    widths = rng.uniform(1_000.0, 5_000.0, n)
    for i in range(n):
        points = int(rng.integers(2, 5))
        along = np.linspace(0.0, legs[i], points)
        side = rng.uniform(-2_000.0, 2_000.0, points)
        lons, lats, _ = GEOD.fwd(
            np.full(points, lon0[i]), np.full(points, lat0[i]), np.full(points, heading[i]), along
        )
        lons, lats, _ = GEOD.fwd(lons, lats, np.full(points, heading[i] + 90.0), side)
        path = [[float(x), float(y)] for x, y in zip(lons, lats, strict=True)]
        yield Corridor(path, float(widths[i]))


def _sparse_footprints(rng: np.random.Generator, n: int) -> Iterator[Footprint]:
    lons = rng.uniform(-180.0, 180.0, n)
    lats = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n))).clip(-89.0, 89.0)
    sizes = rng.uniform(500.0, 10_000.0, n)
    polygon = rng.random(n) < 0.4
    for i in range(n):
        yield _area_footprint(rng, lons[i], lats[i], sizes[i], bool(polygon[i]))


def _bands(rng: np.random.Generator, region: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Altitude bands (lower, upper) in metres within 0-15 km, by region."""
    if region == "hub":
        thick = rng.uniform(60.0, 1_500.0, n)
        lower = np.minimum(rng.exponential(800.0, n), 15_000.0 - thick)
    elif region == "corridor":
        thick = rng.uniform(300.0, 2_000.0, n)
        lower = rng.uniform(3_000.0, 13_000.0 - thick)
    else:
        thick = rng.uniform(300.0, 5_000.0, n)
        lower = rng.uniform(0.0, 15_000.0 - thick)
    return np.round(lower), np.round(lower + thick)


def _windows(
    rng: np.random.Generator, region: str, n: int, span_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Time windows (start, end), whole seconds, within ``span_s`` from the epoch."""
    median = {"hub": 3_600.0, "corridor": 5_400.0, "sparse": 4 * 3_600.0}[region]
    duration = np.round(
        rng.lognormal(math.log(median), 0.6, n).clip(600.0, min(86_400.0, span_s / 2))
    )
    start = EPOCH_S + np.round(rng.uniform(0.0, 1.0, n) * (span_s - duration))
    return start, start + duration


_FOOTPRINTS = {
    "hub": _hub_footprints,
    "corridor": _corridor_footprints,
    "sparse": _sparse_footprints,
}


def region_entries(
    rng: np.random.Generator, region: str, n: int, prefix: str, span_s: float = WEEK_S
) -> Iterator[Entry]:
    """``n`` entries of one region, keyed ``{prefix}{i}``, active within ``span_s``."""
    lower, upper = _bands(rng, region, n)
    start, end = _windows(rng, region, n, span_s)
    parties = rng.integers(0, len(PARTIES), n)
    for i, footprint in enumerate(_FOOTPRINTS[region](rng, n)):
        key = f"{prefix}{i}"
        volume = Volume4D.build(
            key, footprint, float(lower[i]), float(upper[i]), float(start[i]), float(end[i])
        )
        yield Entry(key, PARTIES[parties[i]], volume)


def generate(n: int, seed: int = 1, span_s: float = WEEK_S) -> list[Entry]:
    """``n`` indexed volumes: 60 % in hubs, 10 % in corridors, 30 % sparse, shuffled."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, _REGION_SHARES)
    entries: list[Entry] = []
    for region, count in zip(REGIONS, counts, strict=True):
        entries.extend(region_entries(rng, region, int(count), f"{region[0]}{seed}-", span_s))
    order = rng.permutation(len(entries))
    return [entries[i] for i in order]


def every_region(seed: int, per_region: int) -> list[Entry]:
    """``per_region`` entries of each of :data:`REGIONS` in turn, keyed by region (tests'
    samples of the benchmark's airspace)."""
    rng = np.random.default_rng(seed)
    return [e for region in REGIONS for e in region_entries(rng, region, per_region, region)]


def queries(count: int, seed: int = 2, span_s: float = WEEK_S) -> list[Query]:
    """``count`` sparse then ``count`` dense query volumes (not indexed), with their parties."""
    rng = np.random.default_rng(seed)
    sparse = [Query("sparse", e) for e in region_entries(rng, "sparse", count, "qs-", span_s)]
    dense = [Query("dense", e) for e in region_entries(rng, "hub", count, "qd-", span_s)]
    return sparse + dense
