"""geo: 4D volumes on the WGS84 ellipsoid: footprints, altitude bands, time windows, validation,
and the exact horizontal separation the conflict rule needs. Pure: no I/O, no clock."""

from deconflict.geo.footprint import (
    DEFAULT_LIMITS,
    GEOD,
    Circle,
    Corridor,
    Footprint,
    GeoLimits,
    Polygon,
)
from deconflict.geo.separation import core_distance_m, separated_by, separation_m
from deconflict.geo.volume import AltitudeBand, TimeWindow, Volume4D

__all__ = [
    "DEFAULT_LIMITS",
    "GEOD",
    "AltitudeBand",
    "Circle",
    "Corridor",
    "Footprint",
    "GeoLimits",
    "Polygon",
    "TimeWindow",
    "Volume4D",
    "core_distance_m",
    "separated_by",
    "separation_m",
]
