"""Unit-sphere helpers: n-vectors, bounding caps and a local azimuthal frame.

Positions are turned into n-vectors (the unit normal of the WGS84 ellipsoid at the point), which
makes the antimeridian and the poles ordinary places. The angle between two n-vectors bounds the
geodesic distance between the points: along any path the normal turns by at most ``ds / rho``
with ``rho`` the smallest radius of curvature of the ellipsoid, so
``angle <= distance / MIN_CURVATURE_M``. That is what makes the coarse stage conservative.
The frame is an azimuthal equidistant projection scaled to the local radii of curvature, used
for planar approximations; every decision near a threshold is made again on the ellipsoid
(see :mod:`deconflict.geo.separation`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_CURVATURE_M",
    "MEAN_RADIUS_M",
    "MIN_CURVATURE_M",
    "Frame",
    "Frames",
    "cap_box",
    "metres_to_angle",
    "nvector",
    "nvectors",
    "to_lonlat",
]

Array = NDArray[np.float64]

#: Mean Earth radius (IUGG), for the planar approximation only.
MEAN_RADIUS_M = 6_371_008.8
#: Smallest radius of curvature of WGS84 (meridian at the equator, a(1 - e^2)).
MIN_CURVATURE_M = 6_335_439.327
#: Largest radius of curvature of WGS84 (at the poles, a^2 / b). The other way round from the
#: bound above: the path on the ellipsoid whose normal sweeps the great-circle arc between two
#: n-vectors is at most ``angle * MAX_CURVATURE_M`` long, so the geodesic is no longer.
MAX_CURVATURE_M = 6_399_593.626


def metres_to_angle(distance_m: float) -> float:
    """An upper bound of the n-vector angle (radians) spanned by a geodesic distance."""
    return distance_m / MIN_CURVATURE_M


def nvectors(lons: Array, lats: Array) -> Array:
    """Unit normals (n x 3) of geodetic longitudes and latitudes in degrees."""
    lon = np.radians(lons)
    lat = np.radians(lats)
    cos_lat = np.cos(lat)
    return np.column_stack((cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)))


def nvector(lon: float, lat: float) -> Array:
    """:func:`nvectors` of one point (1 x 3), computed with ``math``: numpy's cost per call is
    most of what one point's costs, and every circle has one."""
    lon_rad, lat_rad = math.radians(lon), math.radians(lat)
    cos_lat = math.cos(lat_rad)
    return np.array([[cos_lat * math.cos(lon_rad), cos_lat * math.sin(lon_rad), math.sin(lat_rad)]])


def to_lonlat(vectors: Array) -> tuple[Array, Array]:
    """Longitudes and latitudes (degrees) of n-vectors (n x 3)."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    return np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))


def cap_box(centre: Array, radius_rad: Array | float) -> tuple[Array, Array]:
    """The axis-aligned box (in n-vector space) that holds a spherical cap: of one centre (3) and
    radius, or of many (n x 3, and n radii).

    For each axis k the cap's coordinate ranges over cos(alpha_k +- radius), where alpha_k is the
    angle between the centre and the axis; clamped at 0 and pi where the cap holds the axis point.
    """
    alpha = np.arccos(np.clip(centre, -1.0, 1.0))
    radius = np.asarray(radius_rad, dtype=np.float64)[..., None]
    high = np.cos(np.maximum(alpha - radius, 0.0))
    low = np.cos(np.minimum(alpha + radius, math.pi))
    return low, high


#: Smaller than any sine of an angle between two distinct n-vectors: a divisor never zero.
_TINY = 1e-300
#: WGS84 semi-major axis and first eccentricity squared.
_A_M = 6_378_137.0
_E2 = 6.69437999014e-3


class Frame:
    """An azimuthal equidistant projection of n-vectors, centred on one, scaled to the ellipsoid's
    radii of curvature there: east-west by the prime-vertical radius N, north-south by the meridian
    radius M. Near the centre, planar distances are then right to first order; further out they
    are off by at most :meth:`error` (relative), which the separation code's margins use.
    """

    __slots__ = ("_axes", "_scales", "anisotropy", "centre", "east", "east_m", "north", "north_m")

    def __init__(self, centre: Array) -> None:
        x, y, z = (float(v) for v in centre)
        norm = math.sqrt(x * x + y * y + z * z)
        x, y, z = x / norm, y / norm, z / norm
        w = 1.0 - _E2 * z * z  # z is the sine of the geodetic latitude
        prime_vertical = _A_M / math.sqrt(w)
        meridian = _A_M * (1.0 - _E2) / (w * math.sqrt(w))
        # east = axis x centre, with the z axis (or the x axis near the poles), normalised;
        # north = centre x east. Written out: numpy's cross costs more than the whole frame.
        if abs(z) < 0.9:
            ex, ey, ez = -y, x, 0.0
            self.east_m, self.north_m, self.anisotropy = prime_vertical, meridian, 0.0
        else:
            # Near a pole the axes are not east and north; N and M differ there by < 0.14 %.
            ex, ey, ez = 0.0, -z, y
            mean = math.sqrt(prime_vertical * meridian)
            self.east_m = self.north_m = mean
            self.anisotropy = prime_vertical / meridian - 1.0
        scale = math.sqrt(ex * ex + ey * ey + ez * ez)
        ex, ey, ez = ex / scale, ey / scale, ez / scale
        north = (y * ez - z * ey, z * ex - x * ez, x * ey - y * ex)
        axes = np.array(((x, y, z), (ex, ey, ez), north))  # one array: a query makes a frame
        self.centre, self.east, self.north = axes
        self._axes: Array = axes.T
        self._scales: Array = np.array((self.east_m, self.north_m))

    def error(self, theta: Array | float) -> Array | float:
        """Bound on the relative error of planar distances between points within ``theta``
        radians of the centre: the projection's stretch theta/sin(theta) - 1, the change of the
        radii of curvature over theta (dM/M <= 3 e^2 |dphi| / 2, doubled for margin), the
        anisotropy of the polar basis, and 0.02 % for what the first two leave out."""
        t = np.maximum(np.asarray(theta, dtype=np.float64), 1e-9)
        return t / np.sin(t) - 1.0 + 0.02 * t + self.anisotropy + 2e-4

    def project(self, vectors: Array) -> Array:
        """n-vectors (n x 3) to planar metres (n x 2). A vector's parts along the centre, east
        and north (one product with the three axes) are the cosine of its angle from the centre
        and its tangent part, whose length is the sine: a query's exact stage projects its
        candidates' cores in a handful of numpy calls."""
        parts = vectors @ self._axes
        tangent = parts[:, 1:]
        sin_t = np.hypot(tangent[:, 0], tangent[:, 1])
        theta = np.arctan2(sin_t, parts[:, 0])
        # theta / sin_t tends to 1; at the centre itself theta is 0, and so is the point.
        scale = theta / np.maximum(sin_t, _TINY)
        return tangent * (scale[:, None] * self._scales)

    def unproject(self, xy: Array) -> Array:
        """Planar metres (n x 2) back to n-vectors (n x 3)."""
        east = xy[:, 0] / self.east_m
        north = xy[:, 1] / self.north_m
        theta = np.hypot(east, north)
        safe = np.where(theta > 0, theta, 1.0)
        direction = (np.outer(east, self.east) + np.outer(north, self.north)) / safe[:, None]
        return np.outer(np.cos(theta), self.centre) + direction * np.sin(theta)[:, None]


class Frames:
    """:class:`Frame` for many centres at once (n x 3), as arrays: the same projection and the
    same error bound, each point projected in the frame its row names. The all-pairs sweep
    gives every pair its own frame (centred on its first volume) and judges them together."""

    __slots__ = ("anisotropy", "centre", "east", "east_m", "north", "north_m")

    def __init__(self, centres: Array) -> None:
        centre = centres / np.linalg.norm(centres, axis=1)[:, None]
        x, y, z = centre[:, 0], centre[:, 1], centre[:, 2]
        w = 1.0 - _E2 * z * z
        prime_vertical = _A_M / np.sqrt(w)
        meridian = _A_M * (1.0 - _E2) / (w * np.sqrt(w))
        polar = np.abs(z) >= 0.9
        zero = np.zeros_like(z)
        east = np.where(
            polar[:, None], np.column_stack((zero, -z, y)), np.column_stack((-y, x, zero))
        )
        east /= np.linalg.norm(east, axis=1)[:, None]
        mean = np.sqrt(prime_vertical * meridian)
        self.centre = centre
        self.east = east
        self.north = np.cross(centre, east)
        self.east_m = np.where(polar, mean, prime_vertical)
        self.north_m = np.where(polar, mean, meridian)
        self.anisotropy = np.where(polar, prime_vertical / meridian - 1.0, 0.0)

    def error(self, theta: Array) -> Array:
        """:meth:`Frame.error`, each row's bound in its own frame."""
        t = np.maximum(np.asarray(theta, dtype=np.float64), 1e-9)
        return np.asarray(t / np.sin(t) - 1.0 + 0.02 * t + self.anisotropy + 2e-4)

    def project(self, vectors: Array, rows: NDArray[np.intp]) -> Array:
        """n-vectors (n x 3) to planar metres (n x 2), each in the frame of its row."""
        centre = self.centre[rows]
        cos_t = np.einsum("ij,ij->i", vectors, centre)
        tangent = vectors - cos_t[:, None] * centre
        sin_t = np.linalg.norm(tangent, axis=1)
        theta = np.arctan2(sin_t, cos_t)
        scale = np.divide(theta, sin_t, out=np.ones_like(theta), where=sin_t > 0)
        return np.column_stack(
            (
                np.einsum("ij,ij->i", tangent, self.east[rows]) * (scale * self.east_m[rows]),
                np.einsum("ij,ij->i", tangent, self.north[rows]) * (scale * self.north_m[rows]),
            )
        )
