"""Outlines as the maps draw them: GeoJSON geometry in lon/lat degrees, and a colour per party.

Every map (the operations view, the demo's map.html, volumes.geojson and map.png) draws the
hub's own outlines (``Footprint.outline()``: circles and corridors as geodesic polygons), so it
shows what the engine tests. Drawing needs what the engine does not: longitudes unwrapped ring by
ring (each point within 180 degrees of the one before, a ring around a pole closed along the
pole), and shapes that cross the antimeridian cut at +-180 degrees into a MultiPolygon, as
GeoJSON (RFC 7946, section 3.1.9) asks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.ops import nearest_points

from deconflict.geo.separation import MAX_EDGE_PAIRS

__all__ = [
    "CONFLICT_COLOUR",
    "meeting",
    "outline_geometry",
    "party_colours",
    "split_antimeridian",
    "unwrap_ring",
]

LonLat = tuple[float, float]

#: Fixed colours for the demo's parties; other parties get the next free colour of _CYCLE.
_KNOWN = {"RU": "#d95f02", "US": "#1f78b4", "FR": "#7b3294", "CAOC": "#666666"}
_CYCLE = ("#1b9e77", "#e6ab02", "#a6761d", "#66a61e", "#e7298a", "#386cb0")
CONFLICT_COLOUR = "#e31a1c"


def party_colours(parties: Sequence[str]) -> dict[str, str]:
    """A colour per party: fixed ones for the demo's parties, then a cycle for any others."""
    spare = iter(_CYCLE)
    return {party: _KNOWN.get(party) or next(spare, "#999999") for party in parties}


def unwrap_ring(ring: Sequence[LonLat], centre_lon: float = 0.0) -> list[LonLat]:
    """The ring with continuous longitudes (no jump over 180 degrees), moved by whole turns to
    lie nearest ``centre_lon``; a ring that circles a pole is closed along that pole."""
    if not ring:
        return []
    out = [(float(ring[0][0]), float(ring[0][1]))]
    for lon, lat in ring[1:]:
        previous = out[-1][0]
        lon = float(lon) + 360.0 * round((previous - float(lon)) / 360.0)
        out.append((lon, float(lat)))
    first, last = out[0][0], out[-1][0]
    if abs(last - first) > 180.0:
        # Once around a pole: go down to it, across, and back up to the start.
        pole = math.copysign(90.0, sum(lat for _, lat in out))
        out.extend([(last, pole), (first, pole)])
    lons = [lon for lon, _ in out]
    middle = (min(lons) + max(lons)) / 2.0
    turn = 360.0 * round((centre_lon - middle) / 360.0)
    return [(lon + turn, lat) for lon, lat in out]


def meeting(a: Sequence[LonLat], b: Sequence[LonLat]) -> shapely.Geometry:
    """Where two outlines meet, in unwrapped degrees: their overlap when they overlap, else the
    shortest line between them (a conflict by the separation minima alone)."""
    centre = (a[0][0] + b[0][0]) / 2.0
    pa = shapely.make_valid(shapely.Polygon(unwrap_ring(a, centre)))
    pb = shapely.make_valid(shapely.Polygon(unwrap_ring(b, centre)))
    overlap = pa.intersection(pb)
    if not overlap.is_empty and overlap.area > 0:
        return overlap
    return shapely.LineString(nearest_points(pa, pb))


def split_antimeridian(geometry: shapely.Geometry) -> shapely.Geometry:
    """``geometry`` (unwrapped degrees) cut into pieces that each lie within -180..180."""
    west, _, east, _ = geometry.bounds
    if west >= -180.0 and east <= 180.0:
        return geometry
    parts = []
    for turn in (-360.0, 0.0, 360.0):
        piece = geometry.intersection(shapely.box(-180.0 - turn, -90.0, 180.0 - turn, 90.0))
        if not piece.is_empty:
            parts.append(shapely.transform(piece, lambda xy, t=turn: xy + np.array([t, 0.0])))
    return shapely.union_all(parts)


def outline_geometry(
    ring: Sequence[LonLat], other: Sequence[LonLat] | None = None
) -> dict[str, Any]:
    """GeoJSON geometry of one outline, or with ``other`` of where the two meet. Where they
    meet costs in the product of their points: beyond the separation test's budget
    (``MAX_EDGE_PAIRS``, what a party's footprints may cost anywhere), ``ring`` alone stands
    for it, so no party's outline can make another's map slow to draw (security.md §4.2)."""
    if other is None or len(ring) * len(other) > MAX_EDGE_PAIRS:
        shape = shapely.make_valid(shapely.Polygon(unwrap_ring(ring, ring[0][0])))
    else:
        shape = meeting(ring, other)
    mapped: dict[str, Any] = json.loads(
        shapely.to_geojson(shapely.orient_polygons(split_antimeridian(shape)))
    )
    return mapped
