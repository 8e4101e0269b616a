"""Horizontal separation agrees with an independent computation on the ellipsoid.

The reference here shares no code with deconflict.geo.separation: it samples both cores densely
along their geodesic edges with pyproj and takes the least geodesic distance between the samples.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import SITES, footprints, metres_east, places, square

from deconflict.geo import GEOD, Circle, Corridor, Polygon, separated_by, separation_m
from deconflict.geo.separation import _pair_frame, clearance_m, separated_by_many
from deconflict.geo.sphere import MAX_CURVATURE_M, nvector, nvectors


def core_edges(footprint):
    """(lon, lat, azimuth, length) of each geodesic edge of the core, from the input vertices."""
    if isinstance(footprint, Circle):
        return [(footprint.lon, footprint.lat, 0.0, 0.0)]
    ring = (
        [*footprint.ring, footprint.ring[0]] if isinstance(footprint, Polygon) else footprint.path
    )
    edges = []
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(ring):
        azimuth, _, length = GEOD.inv(lon1, lat1, lon2, lat2)
        edges.append((lon1, lat1, azimuth, length))
    return edges


def sample(edges, spans, count):
    """``count`` points along each (edge, from_m, to_m) span: edge ids, offsets, lons, lats."""
    ids, offsets = [], []
    for edge, low, high in spans:
        ids.extend([edge] * count)
        offsets.extend(np.linspace(low, high, count))
    ids, offsets = np.array(ids), np.array(offsets)
    table = np.array(edges)
    lons, lats, _ = GEOD.fwd(table[ids, 0], table[ids, 1], table[ids, 2], offsets)
    return ids, offsets, np.asarray(lons), np.asarray(lats)


def vertex_to_edge(lon, lat, edge, levels=9):
    """Least geodesic distance from a point to one geodesic edge: 201 samples along the edge,
    then zooming on the closest one forty-fold per level (sub-millimetre after a few)."""
    lo, hi, count, best = 0.0, edge[3], 201, math.inf
    for _ in range(levels):
        offsets = np.linspace(lo, hi, count)
        lons, lats, _ = GEOD.fwd(
            np.full(count, edge[0]), np.full(count, edge[1]), np.full(count, edge[2]), offsets
        )
        d = np.asarray(GEOD.inv(np.full(count, lon), np.full(count, lat), lons, lats)[2])
        i = int(d.argmin())
        best = min(best, float(d[i]))
        step = (hi - lo) / (count - 1)
        lo, hi, count = max(0.0, offsets[i] - 2 * step), min(edge[3], offsets[i] + 2 * step), 41
    return best


def vertices(footprint):
    if isinstance(footprint, Circle):
        return [(footprint.lon, footprint.lat)]
    return list(footprint.ring if isinstance(footprint, Polygon) else footprint.path)


def reference_distance(a, b):
    """Least geodesic distance between two cores that do not meet, minus both radii.

    Two geodesic paths that do not cross are closest at a vertex of one of them, so this is the
    least distance from each input vertex of one core to each edge of the other, each found by
    sampling the edge and zooming: no densifying, no planar frame, no code shared with the
    library's search.
    """
    best = math.inf
    for source, target in ((a, b), (b, a)):
        edges = core_edges(target)
        for lon, lat in vertices(source):
            if len(edges) == 1 and edges[0][3] == 0.0:  # a circle's centre
                best = min(best, GEOD.inv(lon, lat, edges[0][0], edges[0][1])[2])
                continue
            best = min(best, min(vertex_to_edge(lon, lat, e) for e in edges))
    return best - a.radius_m - b.radius_m


def test_two_circles_are_exact():
    """Circle to circle is the centre distance minus both radii, to the millimetre."""
    a, b = Circle((39.0, 35.95), 5_000), Circle((39.3, 36.2), 7_500)
    expected = GEOD.inv(39.0, 35.95, 39.3, 36.2)[2] - 12_500
    assert separation_m(a, b) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (square(38.0, 35.0, 0.5), Circle((39.0, 35.3), 2_000)),
        (square(38.0, 35.0, 0.5), Corridor([(38.7, 34.0), (39.5, 36.5)], 3_000)),
        (
            Corridor([(36.0, 35.0), (40.0, 36.0)], 2_000),
            Corridor([(36.0, 35.8), (40.0, 36.9)], 2_000),
        ),
        (square(179.5, 10.0, 0.4), square(-179.95, 10.1, 0.3)),
        (Polygon([(0, 85), (120, 85), (-120, 85)]), Circle((60.0, 83.0), 10_000)),
        (Polygon([(10, -88), (130, -88), (-110, -88)]), Corridor([(0, -86), (90, -86.5)], 5_000)),
    ],
)
def test_separation_matches_dense_reference(a, b):
    """Separation equals the dense-sampling reference within a metre (the sampling's own error)."""
    exact = separation_m(a, b)
    reference = reference_distance(a, b)
    assert exact > 0
    assert exact == pytest.approx(reference, abs=0.05)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_separation_random_pairs_match_reference(data):
    """On random non-overlapping pairs at hard sites, separation matches the reference."""
    site = SITES[data.draw(st.sampled_from(sorted(SITES)))]
    a = data.draw(footprints(site))
    b = data.draw(footprints(site))
    exact = separation_m(a, b)
    if exact <= 0 or exact == -math.inf:
        return
    reference = reference_distance(a, b)
    assert exact == pytest.approx(reference, abs=0.05)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_clearance_is_the_separation_floored_at_zero(data):
    """clearance_m (which skips the ellipsoid when the planar stage proves an overlap) equals
    max(0, separation_m) on random pairs at hard sites, overlapping ones included."""
    site = SITES[data.draw(st.sampled_from(sorted(SITES)))]
    a = data.draw(footprints(site))
    b = data.draw(footprints(site))
    assert clearance_m(a, b) == max(0.0, separation_m(a, b))


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-180, 180),
    st.floats(-90, 90),
    st.floats(0, 360),
    st.sampled_from([0.0, 1.0, 50.0, 3_000.0, 400_000.0, 5_000_000.0, 19_000_000.0]),
)
def test_nvector_angle_bounds_the_geodesic_from_above(lon, lat, azimuth, distance):
    """The geodesic between two points is at most their n-vector angle times the largest radius
    of curvature (the bound clearance_m uses to prove an overlap without the ellipsoid), up to
    the rounding of acos near 0 (centimetres), which its 1 m margin covers."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, distance)
    _, _, geodesic = GEOD.inv(lon, lat, lon2, lat2)
    va, vb = nvectors(np.array([lon, lon2]), np.array([lat, lat2]))
    angle = math.acos(max(-1.0, min(1.0, float(va @ vb))))
    assert geodesic <= angle * MAX_CURVATURE_M + 0.25


def test_touching_polygons_do_not_conflict():
    """Two squares sharing an edge touch: separation 0 is no conflict at a 0 m minimum."""
    a, b = square(38.0, 35.0, 0.5), square(38.5, 35.0, 0.5)
    assert separated_by(a, b, 0.0)
    assert not separated_by(a, b, 1.0)
    assert separation_m(a, b) == 0.0


def test_overlapping_polygons_conflict():
    """Squares overlapping by a sliver conflict; their separation is -inf (overlap)."""
    a, b = square(38.0, 35.0, 0.5), square(38.4999, 35.0, 0.5)
    assert not separated_by(a, b, 0.0)
    assert separation_m(a, b) == -math.inf


def test_polygon_touching_at_antimeridian():
    """Squares either side of 180 that share the meridian touch and do not overlap."""
    a, b = square(179.5, 0.0, 0.5), Polygon([(-180, 0), (-179.5, 0), (-179.5, 0.5), (-180, 0.5)])
    assert separated_by(a, b, 0.0)
    assert not separated_by(a, b, 10.0)


@pytest.mark.parametrize("gap_m", [0.5, 3.0, 100.0, 9_260.0])
def test_threshold_is_exact_near_the_minimum(gap_m):
    """Two circles ``gap_m`` apart are separated by gap_m but not by gap_m + 0.01."""
    a = Circle((39.0, 35.95), 1_000)
    centre = metres_east(39.0, 35.95, 1_000 + 2_000 + gap_m)
    b = Circle(centre, 2_000)
    assert separated_by(a, b, gap_m - 0.01)
    assert not separated_by(a, b, gap_m + 0.01)


@pytest.mark.parametrize("gap_m", [2.0, 50.0, 5_000.0])
def test_threshold_is_exact_for_polygon_edges(gap_m):
    """A circle ``gap_m`` north of a square's geodesic north edge, mid-edge, is judged exactly."""
    sq = square(38.0, 35.0, 1.0)
    mid_lon, mid_lat = GEOD.npts(38.0, 36.0, 39.0, 36.0, 1)[0]
    azimuth = GEOD.inv(mid_lon, mid_lat, 39.0, 36.0)[0]  # the edge's heading at its middle
    normal_lon, normal_lat, _ = GEOD.fwd(mid_lon, mid_lat, azimuth - 90.0, 500.0 + gap_m)
    circle = Circle((normal_lon, normal_lat), 500.0)
    assert separated_by(sq, circle, gap_m - 0.05)
    assert not separated_by(sq, circle, gap_m + 0.05)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_planar_error_bound_holds(data):
    """The frame's error bound covers the planar distance's error, at every hard site and size:
    the margins that decide pairs without the ellipsoid rest on it."""
    site = SITES[data.draw(st.sampled_from(sorted(SITES)))]
    a = data.draw(footprints(site))
    b = data.draw(footprints(site))
    frame, error = _pair_frame(a, b)
    planar = float(shapely.distance(a.planar(frame), b.planar(frame)))
    if planar == 0.0:
        return
    truth = reference_distance(a, b) + a.radius_m + b.radius_m
    assert abs(planar - truth) <= planar * error + 1.0


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_one_footprint_against_many_decides_as_each_pair_does(data):
    """``separated_by_many`` (a pair surely within its threshold at once, the rest in one frame,
    vectorised; all circles: no shapely geometry) gives ``separated_by``'s answer for every
    pair, with thresholds around each pair's separation."""
    site = SITES[data.draw(st.sampled_from(sorted(SITES)))]
    only_circles = data.draw(st.booleans())

    def footprint() -> object:
        if only_circles:
            centre = data.draw(places(site))
            return Circle(centre, data.draw(st.sampled_from([10.0, 1_000.0, 15_000.0])))
        return data.draw(footprints(site))

    a = footprint()
    others = [footprint() for _ in range(data.draw(st.integers(1, 8)))]
    thresholds = []
    for other in others:
        separation = separation_m(a, other)
        near = 0.0 if math.isinf(separation) else max(0.0, separation)
        thresholds.append(data.draw(st.sampled_from([0.0, near, near + 0.5, near * 1.01, 5e3])))
    expected = [separated_by(a, o, t) for o, t in zip(others, thresholds, strict=True)]
    assert separated_by_many(a, others, thresholds) == expected


@given(st.floats(-180.0, 180.0), st.floats(-90.0, 90.0))
def test_one_point_s_nvector_is_that_of_the_array_form(lon: float, lat: float) -> None:
    """A circle's n-vector is computed with ``math`` (``nvector``): the same as numpy's."""
    one = nvector(lon, lat)
    assert one.shape == (1, 3)
    np.testing.assert_allclose(one, nvectors(np.array([lon]), np.array([lat])), atol=1e-15)
