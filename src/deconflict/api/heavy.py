"""Work heavy in CPU, off the event loop and off the hub thread: a small bounded pool.

Validating a large footprint (densifying it, checking it is simple) and drawing a party's map
(outlines, where two volumes meet) cost up to seconds of CPU for input the hub accepts: on main a
valid 10,000-vertex star polygon took 4-10 s inside the request handler, and the event loop, so
every other party's request, waited for it. Such work runs here instead, on at most ``threads``
threads of this process; what is waiting for a thread waits without holding the event loop or
the hub thread, and the geometry libraries (shapely's GEOS, pyproj) release the interpreter's
lock while they compute, so the loop goes on serving meanwhile. How much one request may ask is
bounded besides: by the footprint limits (``GeoLimits``: vertices, area, points a record) and
the exact stage's budget (``geo.separation.MAX_EDGE_PAIRS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

__all__ = ["HeavyWork", "is_light"]

#: The most positions in all, and the widest span of them in degrees, of features validated on
#: the event loop itself: at most 554 densified points (7 legs of at most 784 km, the diagonal of
#: the 5-degree square at the equator, a point each 10 km: a zigzag corridor), under a
#: millisecond of work, less than the hop to a pool thread and back costs a filing under load.
LIGHT_POSITIONS = 8
LIGHT_SPAN_DEG = 5.0
#: The properties validation reads (and may quote in its error), and the longest text a light
#: one may hold: a 900 KB ``start`` cost 9 ms of the loop (a regular expression over it, then
#: its quotation), against 0.4 ms to parse it.
_READ_PROPERTIES = ("id", "party", "start", "end", "lower_m", "upper_m", "radius_m", "half_width_m")
LIGHT_TEXT = 256

T = TypeVar("T")


class HeavyWork:
    """At most ``threads`` heavy jobs of one app at a time, each on a thread of its own."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None  # made in the event loop

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a thread of the pool, once one is free."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)


def is_light(features: object) -> bool:
    """Whether the footprints of ``features`` (a request's, not yet validated) are small enough
    to validate inline: at most :data:`LIGHT_POSITIONS` positions in all, within
    :data:`LIGHT_SPAN_DEG` of one another in longitude and latitude (a circle's radius costs
    nothing to validate; the footprint limits bound it), and each property validation reads a
    number or a text of at most :data:`LIGHT_TEXT` characters. Anything else, malformed
    included, is not light: it goes to the pool, whose validation says what is wrong."""
    if not isinstance(features, list) or len(features) > LIGHT_POSITIONS:
        return False
    lons: list[float] = []
    lats: list[float] = []
    for feature in features:
        if not _small_properties(feature):
            return False
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        positions: object
        if kind == "Point":
            positions = [coordinates]
        elif kind == "LineString":
            positions = coordinates
        elif kind == "Polygon" and isinstance(coordinates, list) and len(coordinates) == 1:
            positions = coordinates[0]
        else:
            return False
        if not isinstance(positions, list) or len(lons) + len(positions) > LIGHT_POSITIONS:
            return False
        for position in positions:
            if not (isinstance(position, list) and len(position) == 2):
                return False
            lon, lat = position
            if not (type(lon) in (int, float) and type(lat) in (int, float)):
                return False
            lons.append(lon)
            lats.append(lat)
    return bool(lons) and max(lons) - min(lons) <= LIGHT_SPAN_DEG >= max(lats) - min(lats)


def _small_properties(feature: object) -> bool:
    """Whether each property of ``feature`` that validation reads is absent, a number, or a
    text of at most :data:`LIGHT_TEXT` characters (properties that are not an object are
    refused at once, quoting nothing)."""
    properties = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(properties, dict):
        return True
    for name in _READ_PROPERTIES:
        value = properties.get(name)
        if isinstance(value, str):
            if len(value) > LIGHT_TEXT:
                return False
        elif value is not None and type(value) not in (int, float, bool):
            return False
    return True
