"""Horizontal separation of two footprints, exact on the WGS84 ellipsoid where it matters.

The separation of two footprints is ``D - r_a - r_b``, with ``D`` the geodesic distance between
their cores and ``r`` their radii (see :mod:`deconflict.geo.footprint`); it is negative when they
overlap with positive area, 0 when they only touch. Two polygons (both radius 0) that overlap have
no distance to subtract from, so their separation is ``-inf`` when their interiors overlap.

Two stages. A planar approximation in an azimuthal frame between the two footprints
decides every pair that is clearly on one side of the threshold; its error is bounded (see
``Frame.error``) and the margin covers it. Pairs within
the margin are computed again on the ellipsoid: the geodesic distance from each candidate vertex to
each candidate geodesic edge, minimised along the edge by a shrinking-bracket search on
``pyproj.Geod`` positions. Two cores that do not cross are closest at a vertex of one of them, so
that minimum is ``D``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import accumulate

import numpy as np
import shapely
from numpy.typing import NDArray

from deconflict.geo.footprint import GEOD, Footprint
from deconflict.geo.sphere import MAX_CURVATURE_M, Frame, Frames

__all__ = [
    "MAX_EDGE_PAIRS",
    "apart_many",
    "apart_pairs",
    "clearance_m",
    "core_distance_m",
    "exact_within_budget",
    "separated_by",
    "separated_by_many",
    "separation_m",
    "within_many",
    "within_reach",
]

Array = NDArray[np.float64]

_ABSOLUTE_MARGIN_M = 1.0
#: The group of each kind of footprint in :class:`_Cores`: the rings first, the points last.
_GROUP = {"polygon": 0, "corridor": 1, "circle": 2}
_LINESTRING = shapely.GeometryType.LINESTRING
_POLYGON = shapely.GeometryType.POLYGON
_SAMPLES = 9
_MAX_ROUNDS = 24
_BRACKET_M = 1e-4
#: Most vertex-edge pairs of two cores the exact stage compares. Its work (the ellipsoid's
#: vertex-edge distances; whether two polygons' interiors overlap, which for a star against a
#: star is a crossing per pair) grows with the product of the two outlines' points: two valid
#: 10,000-vertex stars took 10 s. Beyond it the answer is taken on the safe side: two cores
#: that meet overlap, and their distance is the planar stage's lower bound (a conflict may be
#: reported that the exact stage would have cleared, never one missed).
MAX_EDGE_PAIRS = 1_000_000


def _pair_frame(a: Footprint, b: Footprint) -> tuple[Frame, float]:
    """A frame midway between two footprints, and its relative error bound over both."""
    frame = Frame(a.centre + b.centre)
    half = 0.5 * math.acos(float(np.clip(a.centre @ b.centre, -1.0, 1.0)))
    theta = min(half + max(a.cap_rad, b.cap_rad), math.pi / 2)
    return frame, float(frame.error(theta))


def exact_within_budget(a: Footprint, b: Footprint) -> bool:
    """Whether the exact stage may compare ``a`` and ``b`` (see :data:`MAX_EDGE_PAIRS`)."""
    return len(a.core_lons) * len(b.core_lons) <= MAX_EDGE_PAIRS


def _interiors_overlap(
    a: Footprint, b: Footprint, pa: shapely.Geometry, pb: shapely.Geometry
) -> bool:
    """Whether two polygon cores that meet overlap with positive area (over the budget: yes)."""
    if not exact_within_budget(a, b):
        return True
    return bool(shapely.relate_pattern(pa, pb, "2********"))


def separated_by(a: Footprint, b: Footprint, threshold_m: float) -> bool:
    """Whether the separation of ``a`` and ``b`` is at least ``threshold_m`` (no conflict).

    With ``threshold_m == 0`` this is "they do not overlap with positive area": touching passes.
    """
    frame, error = _pair_frame(a, b)
    pa, pb = a.planar(frame), b.planar(frame)
    planar = float(shapely.distance(pa, pb))
    radii = a.radius_m + b.radius_m
    if planar == 0.0:
        # The cores meet in the frame (a crossing is not within a margin of anything): the
        # footprints overlap unless both are polygons that only touch.
        if radii > 0 or threshold_m > 0:
            return False
        return not _interiors_overlap(a, b, pa, pb)
    margin = planar * error + _ABSOLUTE_MARGIN_M
    if planar - radii - margin >= threshold_m:
        return True
    if planar - radii + margin < threshold_m:
        return False
    return core_distance_m(a, b, frame=frame, planar=planar, error=error) - radii >= threshold_m


class _Cores:
    """Many footprints' cores laid out for shapely's ragged-array constructors: their n-vectors
    in one array (``vectors``), grouped by kind (polygons, corridors, then points), each ring
    closed by its first point again; ``order`` the footprints in that grouping, ``lengths``
    their rows. Gathered in one pass in Python: for the handful of cores a query has, index
    arithmetic in numpy (a mask, a cumulative sum, a repeat a kind) cost more than all of it."""

    __slots__ = ("_corridors", "_polygons", "lengths", "order", "vectors")

    def __init__(self, footprints: Sequence[Footprint]) -> None:
        groups: tuple[list[int], list[int], list[int]] = ([], [], [])
        for i, footprint in enumerate(footprints):
            groups[_GROUP[footprint.kind]].append(i)
        polygons, corridors, points = groups
        parts: list[Array] = []
        for i in polygons:
            ring = footprints[i].core_vectors
            parts += (ring, ring[:1])
        parts += (footprints[i].core_vectors for i in (*corridors, *points))
        self.order = polygons + corridors + points
        self.lengths = [len(parts[2 * at]) + 1 for at in range(len(polygons))]
        self.lengths += [len(path) for path in parts[2 * len(polygons) :]]
        self.vectors = np.concatenate(parts)
        self._polygons, self._corridors = len(polygons), len(corridors)

    @property
    def all_points(self) -> bool:
        """Whether every core is a point (then in the footprints' own order)."""
        return self._polygons + self._corridors == 0

    def shapes(self, xy: Array) -> NDArray[np.object_]:
        """The cores as shapely geometries, in the footprints' order, from ``vectors``
        projected (``xy``, a row each)."""
        polygons, corridors = self._polygons, self._corridors
        rows = list(accumulate(self.lengths, initial=0))
        rings, paths = rows[: polygons + 1], rows[polygons : polygons + corridors + 1]
        made = []
        if polygons:
            made.append(
                shapely.from_ragged_array(_POLYGON, xy[: rings[-1]], (rings, range(polygons + 1)))
            )
        if corridors:
            offsets = [row - paths[0] for row in paths]
            made.append(
                shapely.from_ragged_array(_LINESTRING, xy[paths[0] : paths[-1]], (offsets,))
            )
        if paths[-1] < len(xy):
            made.append(shapely.points(xy[paths[-1] :]))
        out = np.empty(len(self.order), dtype=object)
        out[self.order] = made[0] if len(made) == 1 else np.concatenate(made)
        return out


def separated_by_many(
    a: Footprint, others: Sequence[Footprint], thresholds_m: Sequence[float]
) -> list[bool]:
    """:func:`separated_by` for ``a`` against each of ``others`` (with its own threshold). A
    pair surely closer than its threshold (see :func:`within_many`; in dense traffic, most of
    them) is decided at once; the rest in one frame centred on ``a`` (:func:`apart_many`)."""
    thresholds = np.asarray(thresholds_m, dtype=np.float64)
    if not others:
        return []
    firsts = np.stack([o.core_vectors[0] for o in others])
    radii = np.fromiter((o.radius_m for o in others), np.float64, len(others))
    close = within_many(a.core_vectors[0], firsts, a.radius_m + radii, thresholds)
    out = [False] * len(others)
    left = np.flatnonzero(~close).tolist()
    if left:
        apart = apart_many(a, [others[i] for i in left], thresholds[left])
        for i, verdict in zip(left, apart, strict=True):
            out[i] = verdict
    return out


def _within(a: Footprint, b: Footprint, threshold_m: float) -> bool:
    """Whether ``a`` and ``b`` surely come closer than ``threshold_m``, from a cheap bound: the
    geodesic between a vertex of each core is at most their n-vector angle times the largest
    radius of curvature, and the cores are no farther apart than that."""
    dot = float(a.core_vectors[0] @ b.core_vectors[0])
    reach_m = math.acos(max(-1.0, min(1.0, dot))) * MAX_CURVATURE_M + _ABSOLUTE_MARGIN_M
    return reach_m < a.radius_m + b.radius_m + threshold_m


def within_many(
    first_a: Array, first_b: Array, radii_m: Array, thresholds_m: Array | float
) -> NDArray[np.bool_]:
    """:func:`_within` over many pairs at once, from each pair's first core n-vectors (n x 3, or
    one of them 3), the sum of their radii and their thresholds. The bound has a metre's margin,
    so that the last bits of ``arccos`` (numpy's against ``math``'s) cannot decide a pair."""
    dot = np.einsum("...i,...i->...", first_a, first_b)
    return within_reach(np.arccos(np.clip(dot, -1.0, 1.0)), radii_m, thresholds_m)


def within_reach(
    angles: Array, radii_m: Array | float, thresholds_m: Array | float
) -> NDArray[np.bool_]:
    """:func:`within_many` from the angles between the first core n-vectors (radians)."""
    return np.asarray(angles * MAX_CURVATURE_M + _ABSOLUTE_MARGIN_M < radii_m + thresholds_m)


def apart_many(
    a: Footprint,
    others: Sequence[Footprint],
    thresholds_m: Array,
    *,
    centres: Array | None = None,
    caps: Array | None = None,
    radii: Array | None = None,
) -> list[bool]:
    """:func:`separated_by` for ``a`` against each of ``others``, in one frame centred on ``a``
    and with shapely's vectorised predicates; pairs within the error margin are decided one by
    one on the ellipsoid, as :func:`separated_by` does. ``centres``, ``caps`` and ``radii``:
    the others' (n x 3, n, n), when the caller holds them as arrays (else gathered here)."""
    count = len(others)
    frame = Frame(a.centre)
    cores = _Cores([*others, a])
    xy = frame.project(cores.vectors)  # one projection for all
    if cores.all_points:
        # Point cores (the busiest case: drones, orbits): their planar distance is that of the
        # projected points, without building shapely geometries for it.
        gap = xy[:-1] - xy[-1]
        planar = np.hypot(gap[:, 0], gap[:, 1])
    else:
        shapes = cores.shapes(xy)
        planar = np.asarray(shapely.distance(shapes[:-1], shapes[-1]), dtype=np.float64)
    thresholds = np.asarray(thresholds_m, dtype=np.float64)
    if radii is None:
        radii = np.fromiter((o.radius_m for o in others), np.float64, count)
    if centres is None:
        centres = np.stack([o.centre for o in others])
    if caps is None:
        caps = np.fromiter((o.cap_rad for o in others), np.float64, count)
    radii = a.radius_m + radii
    angles = np.arccos(np.minimum(np.maximum(centres @ frame.centre, -1.0), 1.0))
    theta = np.minimum(np.maximum(angles + caps, a.cap_rad), math.pi / 2)
    apart = _decided(
        planar, radii, np.asarray(frame.error(theta)), thresholds, lambda i: (a, others[i])
    )
    return list(apart.tolist())


def apart_pairs(
    firsts: Sequence[Footprint],
    seconds: Sequence[Footprint],
    thresholds_m: Array,
    centres: tuple[Array, Array],
    caps: tuple[Array, Array],
    radii: tuple[Array, Array],
) -> NDArray[np.bool_]:
    """:func:`separated_by` for each pair (``firsts[i]``, ``seconds[i]``), all at once: each
    pair in a frame centred on its first footprint (:class:`Frames`), both cores projected and
    built in a few vectorised calls whatever the number of pairs, and measured pairwise; the
    pairs within the error margin decided one by one on the ellipsoid. ``centres``, ``caps``
    and ``radii``: the firsts' and the seconds' (n x 3, n, n each), as the caller holds them.
    The all-pairs sweep's exact stage, where :func:`apart_many` would be called once a first
    volume."""
    count = len(firsts)
    frames = Frames(centres[0])
    planar = np.empty(count)
    sides = []
    for footprints in (firsts, seconds):
        cores = _Cores(footprints)
        order, lengths = np.array(cores.order, dtype=np.intp), np.array(cores.lengths)
        xy = frames.project(cores.vectors, np.repeat(order, lengths))  # each in its pair's frame
        starts = np.empty(count, dtype=np.intp)
        starts[order] = np.cumsum(lengths) - lengths
        sides.append((cores, xy, starts, lengths[np.argsort(order)] == 1))
    (cores_a, xy_a, first_a, point_a), (cores_b, xy_b, first_b, point_b) = sides
    points = point_a & point_b  # two point cores: no geometry needed
    gap = xy_a[first_a[points]] - xy_b[first_b[points]]
    planar[points] = np.hypot(gap[:, 0], gap[:, 1])
    shaped = np.flatnonzero(~points)
    if shaped.size:
        planar[shaped] = shapely.distance(
            cores_a.shapes(xy_a)[shaped], cores_b.shapes(xy_b)[shaped]
        )
    thresholds = np.asarray(thresholds_m, dtype=np.float64)
    both = radii[0] + radii[1]
    angle = np.arccos(np.clip(np.einsum("ij,ij->i", centres[1], frames.centre), -1.0, 1.0))
    theta = np.minimum(np.maximum(angle + caps[1], caps[0]), math.pi / 2)
    return _decided(
        planar, both, frames.error(theta), thresholds, lambda i: (firsts[i], seconds[i])
    )


def _decided(
    planar: Array,
    radii: Array,
    errors: Array,
    thresholds: Array,
    pair: Callable[[int], tuple[Footprint, Footprint]],
) -> NDArray[np.bool_]:
    """Whether each pair is separated by its threshold, from its planar core distance and
    the sum of its radii: apart where the distance beats the threshold by its error margin
    (``errors``, relative, and a metre); else, where the margin leaves it open and the cores
    do not meet, decided on the ellipsoid (:func:`separated_by` of ``pair(i)``)."""
    margin = planar * errors + _ABSOLUTE_MARGIN_M
    out = planar - radii - margin >= thresholds
    unsure = np.flatnonzero((planar - radii + margin >= thresholds) & ~out)
    for i in unsure.tolist():
        if planar[i] == 0.0 and (radii[i] > 0 or thresholds[i] > 0):
            continue  # cores meet: the footprints overlap
        first, second = pair(i)
        out[i] = separated_by(first, second, float(thresholds[i]))
    return out


def separation_m(a: Footprint, b: Footprint) -> float:
    """The separation in metres, on the ellipsoid: ``D - r_a - r_b``, or ``-inf`` for two
    polygons whose interiors overlap."""
    frame, error = _pair_frame(a, b)
    pa, pb = a.planar(frame), b.planar(frame)
    planar = float(shapely.distance(pa, pb))
    radii = a.radius_m + b.radius_m
    if planar == 0.0:
        if radii == 0 and _interiors_overlap(a, b, pa, pb):
            return -math.inf
        return -radii
    return core_distance_m(a, b, frame=frame, planar=planar, error=error) - radii


def clearance_m(a: Footprint, b: Footprint) -> float:
    """``max(0, separation_m(a, b))``: how far apart two footprints are, 0 when they overlap or
    touch. Two cheap bounds settle most pairs that certainly overlap: the geodesic between a
    vertex of each core is at most their n-vector angle times the largest radius of curvature
    (and the cores are no farther apart), then the planar stage within its error margin; only
    pairs that may be apart are measured on the ellipsoid."""
    radii = a.radius_m + b.radius_m
    if radii > 0 and _within(a, b, 0.0):
        return 0.0
    frame, error = _pair_frame(a, b)
    pa, pb = a.planar(frame), b.planar(frame)
    planar = float(shapely.distance(pa, pb))
    if planar == 0.0 or planar - radii + planar * error + _ABSOLUTE_MARGIN_M < 0.0:
        return 0.0
    distance = core_distance_m(a, b, frame=frame, planar=planar, error=error)
    return max(0.0, distance - radii)


def core_distance_m(
    a: Footprint,
    b: Footprint,
    *,
    frame: Frame | None = None,
    planar: float | None = None,
    error: float | None = None,
) -> float:
    """Geodesic distance between the cores of two footprints that do not meet."""
    if frame is None or planar is None or error is None:
        frame, error = _pair_frame(a, b)
        planar = float(shapely.distance(a.planar(frame), b.planar(frame)))
        if planar == 0.0:
            return 0.0
    if not exact_within_budget(a, b):  # the planar stage's lower bound: on the safe side
        return max(0.0, planar * (1.0 - error) - _ABSOLUTE_MARGIN_M)
    # Any vertex-edge pair that can hold the minimum is within this planar distance.
    reach = planar * (1.0 + error) / (1.0 - error) + 2 * _ABSOLUTE_MARGIN_M
    xy_a = frame.project(a.core_vectors)
    xy_b = frame.project(b.core_vectors)
    best = math.inf
    for source, xy_source, target, xy_target in ((a, xy_a, b, xy_b), (b, xy_b, a, xy_a)):
        vertices, edges = _candidates(xy_source, target, xy_target, reach)
        if vertices.size:
            starts, ends = target.segments()
            distances = _vertex_edge_m(
                source.core_lons[vertices],
                source.core_lats[vertices],
                target.core_lons[starts[edges]],
                target.core_lats[starts[edges]],
                target.core_lons[ends[edges]],
                target.core_lats[ends[edges]],
            )
            best = min(best, float(distances.min()))
    return best


def _candidates(
    xy_source: Array, target: Footprint, xy_target: Array, reach: float
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(vertex, edge) index pairs whose planar distance is within ``reach``."""
    near = np.flatnonzero(
        shapely.dwithin(shapely.points(xy_source), target.core_geometry(xy_target), reach)
    )
    starts, ends = target.segments()
    p0, p1 = xy_target[starts], xy_target[ends]
    vertex_parts: list[NDArray[np.intp]] = []
    edge_parts: list[NDArray[np.intp]] = []
    chunk = max(1, 2_000_000 // max(1, len(starts)))
    for first in range(0, len(near), chunk):
        ids = near[first : first + chunk]
        d = _point_segment_planar(xy_source[ids], p0, p1)
        rows, cols = np.nonzero(d <= reach)
        vertex_parts.append(ids[rows])
        edge_parts.append(cols)
    if not vertex_parts:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    return np.concatenate(vertex_parts), np.concatenate(edge_parts)


def _point_segment_planar(points: Array, p0: Array, p1: Array) -> Array:
    """Planar distances (len(points) x len(p0)) from points to segments p0-p1."""
    d = p1 - p0
    length2 = np.einsum("ij,ij->i", d, d)
    rel = points[:, None, :] - p0[None, :, :]
    t = np.divide(
        np.einsum("kij,ij->ki", rel, d), length2, out=np.zeros(rel.shape[:2]), where=length2 > 0
    )
    t = np.clip(t, 0.0, 1.0)
    nearest = p0[None, :, :] + t[:, :, None] * d[None, :, :]
    return np.asarray(np.hypot(*(points[:, None, :] - nearest).transpose(2, 0, 1)))


def _vertex_edge_m(
    plon: Array, plat: Array, alon: Array, alat: Array, blon: Array, blat: Array
) -> Array:
    """Geodesic distance from each point P to the geodesic edge A-B, on the ellipsoid.

    Each round samples ``_SAMPLES`` points across the current bracket in one vectorised call and
    keeps the two intervals around the closest, shrinking the bracket fourfold, until it is under
    ``_BRACKET_M`` (a tenth of a millimetre) for every pair.
    """
    azimuth, _, length = GEOD.inv(alon, alat, blon, blat)
    azimuth, length = np.asarray(azimuth), np.asarray(length)
    n = len(plon)
    fractions = np.linspace(0.0, 1.0, _SAMPLES)
    repeat = lambda values: np.repeat(values, _SAMPLES)  # noqa: E731 - local shorthand
    a_lon, a_lat, a_az, p_lon, p_lat = map(repeat, (alon, alat, azimuth, plon, plat))
    low, high = np.zeros(n), length.copy()
    best = np.full(n, np.inf)
    for _ in range(_MAX_ROUNDS):
        positions = low[:, None] + (high - low)[:, None] * fractions[None, :]
        lon, lat, _ = GEOD.fwd(a_lon, a_lat, a_az, positions.ravel())
        sampled = np.asarray(GEOD.inv(p_lon, p_lat, lon, lat)[2]).reshape(n, _SAMPLES)
        best = np.minimum(best, sampled.min(axis=1))
        nearest = sampled.argmin(axis=1)
        step = (high - low) / (_SAMPLES - 1)
        low, high = (
            low + np.maximum(nearest - 1, 0) * step,
            low + np.minimum(nearest + 1, _SAMPLES - 1) * step,
        )
        if float((high - low).max(initial=0.0)) < _BRACKET_M:
            break
    return np.asarray(best, dtype=np.float64)
