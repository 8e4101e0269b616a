"""Footprints: polygon, circle and corridor on the WGS84 ellipsoid, validated on construction.

Every footprint is a *core* (a point, a polyline or a filled polygon) grown by a *radius*: a circle
is a point grown by its radius, a corridor a polyline grown by its half-width, a polygon itself
(radius 0). The distance between two footprints is then the geodesic distance between their cores
minus both radii, which :mod:`deconflict.geo.separation` computes on the ellipsoid.

Polygon edges are geodesics. They are densified here once (points on the true geodesic, at most
``DENSIFY_M`` apart, computed the same way whichever direction an edge is walked), so that any
planar frame can join the points with straight chords and stay within millimetres of the geodesic.
A ring is taken to bound the smaller of the two regions it divides the globe into, so a ring around
a pole holds the pole, and orientation does not matter.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod

from deconflict.errors import InvalidGeometry
from deconflict.geo.sphere import MIN_CURVATURE_M, Frame, nvector, nvectors, to_lonlat

__all__ = [
    "DENSIFY_M",
    "GEOD",
    "Circle",
    "Corridor",
    "Footprint",
    "GeoLimits",
    "Polygon",
    "finite",
]

Array = NDArray[np.float64]
LonLat = tuple[float, float]

#: The WGS84 ellipsoid, for every geodesic computation.
GEOD = Geod(ellps="WGS84")
#: Longest chord between densified points of a geodesic edge.
DENSIFY_M = 10_000.0
#: Area of the WGS84 ellipsoid, for telling a ring's smaller side.
EARTH_AREA_M2 = 510_065_621_724_000.0
#: Largest angular radius of a footprint around its centre (about 3,300 km); the planar
#: approximations in the separation code are bounded for footprints within it.
MAX_EXTENT_DEG = 30.0
#: Most points a densified outline may have; past it, chords grow longer than ``DENSIFY_M``.
MAX_DENSIFIED = 100_000


@dataclass(frozen=True, slots=True)
class GeoLimits:
    """What a footprint may be: the caps that keep any input from exhausting time or memory."""

    max_vertices: int = 10_000
    max_area_m2: float = 5.0e12
    #: most points one record's footprints may have in all, as given and as densified: what
    #: validating it, detecting against it and drawing it cost grows with them
    max_record_points: int = 200_000

    def __post_init__(self) -> None:
        if self.max_vertices < 3 or not self.max_area_m2 > 0:
            raise InvalidGeometry("limits need max_vertices >= 3 and max_area_m2 > 0")
        if self.max_record_points < 3:
            raise InvalidGeometry("limits need max_record_points >= 3")


DEFAULT_LIMITS = GeoLimits()


def finite(value: object, what: str, part: str | None = None) -> float:
    """``value`` as a finite float, else InvalidGeometry naming ``what`` (and ``part``): also an
    integer too large for a float (JSON allows any number of digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidGeometry(f"{what} must be a number, got {value!r}", part)
    try:
        number = float(value)
    except OverflowError:
        raise InvalidGeometry(f"{what} is too large: {len(str(value))} digits", part) from None
    if not math.isfinite(number):
        raise InvalidGeometry(f"{what} must be finite, got {value!r}", part)
    return number


def _positions(points: object, what: str, limits: GeoLimits) -> list[LonLat]:
    """Validated (lon, lat) pairs, with repeated consecutive points dropped."""
    if isinstance(points, str | bytes) or not isinstance(points, Sequence):
        raise InvalidGeometry(f"{what} must be a list of [lon, lat] positions")
    # Checked before anything else is done per vertex, so a huge input costs nothing.
    if len(points) > limits.max_vertices + 1:
        raise InvalidGeometry(
            f"{what} has {len(points)} vertices, more than the limit of {limits.max_vertices}"
        )
    out: list[LonLat] = []
    for i, point in enumerate(points):
        if isinstance(point, str | bytes) or not isinstance(point, Sequence) or len(point) < 2:
            raise InvalidGeometry(f"{what} position {i} must be [lon, lat], got {point!r}")
        lon = finite(point[0], f"{what} position {i} longitude")
        lat = finite(point[1], f"{what} position {i} latitude")
        _check_lonlat(lon, lat, f"{what} position {i}")
        if not out or out[-1] != (lon, lat):
            out.append((lon, lat))
    return out


def _check_lonlat(lon: float, lat: float, what: str) -> None:
    if not -180.0 <= lon <= 180.0:
        raise InvalidGeometry(f"{what} longitude {lon} is out of range [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise InvalidGeometry(f"{what} latitude {lat} is out of range [-90, 90]")


def _densify(positions: Sequence[LonLat], closed: bool) -> tuple[Array, NDArray[np.intp] | None]:
    """Points along the geodesic edges, at most ``DENSIFY_M`` apart (further apart only when the
    whole outline would need more than ``MAX_DENSIFIED`` points), as rows (lon, lat); the last
    point is not repeated for a closed ring. Each edge is computed from its lexicographically
    smaller end, so an edge shared by two polygons yields the same points in both. Also which
    rows are the given positions: None when they all are (no edge was long enough to add any)."""
    edges = list(itertools.pairwise(positions))
    if closed:
        edges.append((positions[-1], positions[0]))
    firsts = [p if p <= q else q for p, q in edges]
    seconds = [q if p <= q else p for p, q in edges]
    lengths = np.asarray(
        GEOD.inv(
            [f[0] for f in firsts],
            [f[1] for f in firsts],
            [s[0] for s in seconds],
            [s[1] for s in seconds],
        )[2]
    )
    spacing = max(DENSIFY_M, float(lengths.sum()) / MAX_DENSIFIED)
    counts = np.ceil(lengths / spacing).astype(np.intp) - 1
    if not (counts > 0).any():
        return np.array(positions, dtype=np.float64), None
    rows: list[LonLat] = []
    given: list[int] = []
    for (p, _), first, second, count in zip(edges, firsts, seconds, counts.tolist(), strict=True):
        given.append(len(rows))
        rows.append(p)
        if count > 0:
            between = GEOD.npts(first[0], first[1], second[0], second[1], count)
            if first is not p:
                between.reverse()
            rows.extend(between)
    if not closed:
        given.append(len(rows))
        rows.append(positions[-1])
    return np.array(rows, dtype=np.float64), np.array(given, dtype=np.intp)


def cap_pads(widths_m: Array, points: NDArray[np.intp]) -> Array:
    """What a footprint's bounding cap adds to the spread of its core's points (radians), for
    many: its width, and for an outline 100 m, which a geodesic between densified points
    strays from their chord by far less than; a point core has no edge to stray, and a metre
    covers the rounding."""
    return np.asarray((widths_m + np.where(points == 1, 1.0, 100.0)) / MIN_CURVATURE_M)


def centres_and_spreads(
    vectors: Array, starts: NDArray[np.intp], counts: NDArray[np.intp]
) -> tuple[Array, Array, Array]:
    """For the cores whose n-vectors are ``vectors[start:start + count]``: each one's centre
    (its points' mean, normalised), the largest angle from it to a point (radians), and the
    mean's norm (under 0.2, the core spans too much of the globe to have a centre). A point
    is its own centre. One footprint's constructor and many read back at once
    (:mod:`deconflict.geo.bulk`) compute them here alike, to the last bit."""
    means = np.add.reduceat(vectors, starts, axis=0) / counts[:, None]
    norms = np.sqrt((means * means).sum(axis=1))
    centres = means / norms[:, None]
    owner = np.repeat(np.arange(len(counts)), counts)
    dots = (vectors * centres[owner]).sum(axis=1)
    spreads = np.maximum.reduceat(np.arccos(np.clip(dots, -1.0, 1.0)), starts)
    single = counts == 1
    centres[single] = vectors[starts[single]]
    spreads[single] = 0.0
    norms[single] = 1.0
    return centres, spreads, norms


class Footprint(ABC):
    """A 2D region on the ellipsoid: a core (point, polyline or polygon) grown by ``radius_m``.

    The core is kept once, as rows (lon, lat) and as their n-vectors: a polygon's or corridor's
    given positions are the rows named by ``_given`` (all of them, None, unless an edge was long
    enough to be densified). A hub holds a footprint for every volume it indexes, so nothing is
    kept twice and the area (intake's cap) is computed when it is first asked for.
    """

    kind: ClassVar[str]
    #: Whether the core's vertices form a closed ring (a polygon) rather than a path.
    closed: ClassVar[bool] = False
    __slots__ = ("_area_m2", "_given", "_planar_cache", "_points", "cap_rad", "centre", "radius_m")

    radius_m: float
    centre: Array
    cap_rad: float

    def _finish(
        self,
        radius_m: float,
        core: Array,
        limits: GeoLimits,
        vectors: Array | None = None,
        given: NDArray[np.intp] | None = None,
    ) -> None:
        """Set the derived fields and check extent and area; shared by every kind (``vectors``:
        the n-vectors of ``core``, when the caller has them)."""
        vectors = nvectors(core[:, 0], core[:, 1]) if vectors is None else vectors
        centre: Array | None = None  # a point is its own
        if len(vectors) == 1:  # as centres_and_spreads and cap_pads make it, without numpy
            cap_rad = (radius_m + 1.0) / MIN_CURVATURE_M
        else:
            count = np.array([len(vectors)])
            centres, spreads, norms = centres_and_spreads(vectors, np.zeros(1, np.intp), count)
            if norms[0] < 0.2:
                raise InvalidGeometry("footprint spans too much of the globe to have a centre")
            cap_rad = float(spreads[0] + cap_pads(np.array([radius_m]), count)[0])
            centre = centres[0]
        # One array for both (each small array costs some 150 bytes besides its numbers).
        points = np.concatenate((core, vectors), axis=1)
        self._set(radius_m, points, centre, cap_rad, given)
        if math.degrees(self.cap_rad) > MAX_EXTENT_DEG:
            raise InvalidGeometry(
                f"footprint reaches more than {MAX_EXTENT_DEG:g} degrees (about 3,300 km) "
                "from its centre"
            )
        if limits.max_area_m2 < math.inf and self.area_m2 > limits.max_area_m2:
            raise InvalidGeometry(
                f"area {self.area_m2 / 1e6:,.0f} km2 is over the cap of "
                f"{limits.max_area_m2 / 1e6:,.0f} km2"
            )

    def _set(
        self,
        radius_m: float,
        points: Array,
        centre: Array | None,
        cap_rad: float,
        given: NDArray[np.intp] | None,
    ) -> None:
        self.radius_m = radius_m
        self._points = points
        self.centre = points[0, 2:] if centre is None else centre  # a point is its own centre
        self.cap_rad = cap_rad
        self._given = given
        self._area_m2: float | None = None
        self._planar_cache: tuple[Frame, shapely.Geometry] | None = None

    @classmethod
    def assemble(
        cls,
        radius_m: float,
        points: Array,
        centre: Array | None,
        cap_rad: float,
        given: NDArray[np.intp] | None = None,
    ) -> Footprint:
        """A footprint of this kind from fields a builder has already derived and checked
        (:mod:`deconflict.geo.bulk`, many at once), as :meth:`_finish` sets them: ``points``
        n x 5 (longitude, latitude, then the n-vector), ``centre`` None for a point core."""
        footprint = cls.__new__(cls)
        footprint._set(radius_m, points, centre, cap_rad, given)
        return footprint

    def parts(self) -> tuple[float, Array, Array, float, NDArray[np.intp] | None]:
        """What :meth:`assemble` makes this footprint again from: its width, its points
        (n x 5), its centre (a point core's is its point's), its cap and its given rows."""
        return self.radius_m, self._points, self.centre, self.cap_rad, self._given

    @property
    def core(self) -> Array:
        """The core's points, n x 2: longitude and latitude in degrees."""
        return self._points[:, :2]

    @property
    def core_vectors(self) -> Array:
        """The n-vectors of the core's points, n x 3."""
        return self._points[:, 2:]

    @property
    def core_lons(self) -> Array:
        return self._points[:, 0]

    @property
    def core_lats(self) -> Array:
        return self._points[:, 1]

    @property
    def area_m2(self) -> float:
        """Area in square metres, computed when first asked for."""
        if self._area_m2 is None:
            self._area_m2 = self._area()
        return self._area_m2

    def given(self) -> list[LonLat]:
        """The core's positions as they were given (before densifying)."""
        rows = self.core if self._given is None else self.core[self._given]
        return [(lon, lat) for lon, lat in rows.tolist()]

    @abstractmethod
    def _area(self) -> float:
        """Area in square metres (exact for polygons, close for circles and corridors)."""

    @abstractmethod
    def core_geometry(self, xy: Array) -> shapely.Geometry:
        """The core as a shapely geometry, from its vertices projected to a planar frame."""

    @abstractmethod
    def to_geojson(self) -> dict[str, object]:
        """The footprint as it was given: a GeoJSON geometry plus the properties that size it."""

    def segments(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Start and end n-vector indices of the core's edges (a point is one empty edge)."""
        n = len(self.core_lons)
        starts = np.arange(n, dtype=np.intp)
        if n == 1:
            return starts, starts
        if self.closed:
            return starts, (starts + 1) % n
        return starts[:-1], starts[1:]

    def planar(self, frame: Frame) -> shapely.Geometry:
        """The core in ``frame``; remembered for the last frame asked for."""
        cached = self._planar_cache
        if cached is not None and cached[0] is frame:
            return cached[1]
        geometry = self.core_geometry(frame.project(self.core_vectors))
        self._planar_cache = (frame, geometry)
        return geometry

    def outline(self, points: int = 96) -> list[LonLat]:
        """A closed ring (lon, lat) around the whole footprint, for maps and GeoJSON output."""
        if self.radius_m == 0:
            ring = [(lon, lat) for lon, lat in self.core.tolist()]
            return [*ring, ring[0]]
        frame = Frame(self.centre)
        grown = self.core_geometry(frame.project(self.core_vectors)).buffer(
            self.radius_m, quad_segs=max(4, points // 4)
        )
        xy = np.asarray(shapely.get_coordinates(grown.exterior))
        lons, lats = to_lonlat(frame.unproject(xy))
        return list(zip(lons.tolist(), lats.tolist(), strict=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_geojson()!r})"


class Circle(Footprint):
    """A centre and a radius in metres (geodesic)."""

    kind = "circle"
    __slots__ = ()

    def __init__(
        self, centre: Sequence[float], radius_m: float, limits: GeoLimits = DEFAULT_LIMITS
    ) -> None:
        (position,) = _positions([centre], "circle centre", limits)
        radius = finite(radius_m, "circle radius_m", "radius_m")
        if radius <= 0:
            raise InvalidGeometry(f"circle radius_m must be > 0, got {radius:g}", "radius_m")
        lon, lat = position
        self._finish(radius, np.array([position]), limits, nvector(lon, lat))

    @property
    def lon(self) -> float:
        return float(self.core[0, 0])

    @property
    def lat(self) -> float:
        return float(self.core[0, 1])

    def _area(self) -> float:
        return math.pi * self.radius_m**2

    def core_geometry(self, xy: Array) -> shapely.Geometry:
        return shapely.Point(xy[0])

    def outline(self, points: int = 96) -> list[LonLat]:
        azimuths = np.linspace(0.0, 360.0, points, endpoint=False)
        lons, lats, _ = GEOD.fwd(
            np.full(points, self.lon),
            np.full(points, self.lat),
            azimuths,
            np.full(points, self.radius_m),
        )
        ring = list(zip(np.asarray(lons).tolist(), np.asarray(lats).tolist(), strict=True))
        return [*reversed(ring), ring[-1]]

    def to_geojson(self) -> dict[str, object]:
        return {
            "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "radius_m": self.radius_m,
        }


class Corridor(Footprint):
    """A polyline with geodesic legs and a half-width in metres on either side."""

    kind = "corridor"
    __slots__ = ()

    def __init__(
        self,
        path: Sequence[Sequence[float]],
        half_width_m: float,
        limits: GeoLimits = DEFAULT_LIMITS,
    ) -> None:
        positions = _positions(path, "corridor path", limits)
        if len(set(positions)) < 2:
            raise InvalidGeometry("corridor path needs at least 2 distinct positions")
        width = finite(half_width_m, "corridor half_width_m", "half_width_m")
        if width <= 0:
            raise InvalidGeometry(
                f"corridor half_width_m must be > 0, got {width:g}", "half_width_m"
            )
        core, given = _densify(positions, closed=False)
        self._finish(width, core, limits, given=given)

    @property
    def path(self) -> list[LonLat]:
        return self.given()

    def _area(self) -> float:
        lons, lats = zip(*self.path, strict=True)
        length = GEOD.line_length(lons, lats)
        return 2.0 * self.radius_m * length + math.pi * self.radius_m**2

    def core_geometry(self, xy: Array) -> shapely.Geometry:
        return shapely.LineString(xy)

    def to_geojson(self) -> dict[str, object]:
        return {
            "geometry": {"type": "LineString", "coordinates": [list(p) for p in self.path]},
            "half_width_m": self.radius_m,
        }


class Polygon(Footprint):
    """A simple ring of positions joined by geodesics, bounding the smaller side of the globe."""

    kind = "polygon"
    closed = True
    __slots__ = ()

    def __init__(
        self,
        ring: Sequence[Sequence[float]],
        limits: GeoLimits = DEFAULT_LIMITS,
        *,
        known_simple: bool = False,
    ) -> None:
        """``known_simple``: the ring was found simple when it was accepted (a record read back
        from the store), so it is not checked again: for some valid rings (a star's) the check
        costs the most of building the footprint, about a second at 10,000 vertices."""
        positions = _positions(ring, "polygon ring", limits)
        if len(positions) > 1 and positions[0] == positions[-1]:
            positions.pop()
        if len(set(positions)) < 3:
            raise InvalidGeometry(
                f"polygon ring has {len(set(positions))} distinct vertices; it needs at least 3"
            )
        if len(positions) > limits.max_vertices:
            raise InvalidGeometry(
                f"polygon ring has {len(positions)} vertices, more than the limit of "
                f"{limits.max_vertices}"
            )
        core, given = _densify(positions, closed=True)
        self._finish(0.0, core, limits, given=given)
        # Checked in a frame of its own, which no other computation shares: the geometry is
        # not kept (as :meth:`planar` would), since no one could reuse it.
        planar = self.core_geometry(Frame(self.centre).project(self.core_vectors))
        if planar.convex_hull.area < 1.0:
            raise InvalidGeometry("polygon ring is degenerate: its vertices enclose no area")
        if not known_simple and not planar.is_valid:
            raise InvalidGeometry(f"polygon ring is not simple: {shapely.is_valid_reason(planar)}")

    @property
    def ring(self) -> list[LonLat]:
        return self.given()

    def _area(self) -> float:
        lons, lats = zip(*self.ring, strict=True)
        area = abs(GEOD.polygon_area_perimeter(lons, lats)[0])
        return min(area, EARTH_AREA_M2 - area)

    def core_geometry(self, xy: Array) -> shapely.Geometry:
        return shapely.Polygon(xy)

    def to_geojson(self) -> dict[str, object]:
        ring = [list(p) for p in self.ring]
        return {"geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}}
