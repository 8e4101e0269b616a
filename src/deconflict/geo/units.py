"""Unit conversions at the edges: everything inside is metres (W84), seconds and UTC.

Each conversion states its assumption here, where it is made.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = [
    "FEET_TO_M",
    "altitude_to_m",
    "epoch_to_rfc3339",
    "feet_to_m",
    "flight_level_to_m",
    "parse_rfc3339",
]

#: International foot, exact by definition (1959).
FEET_TO_M = 0.3048


def feet_to_m(feet: float) -> float:
    """Feet to metres (international foot)."""
    return feet * FEET_TO_M


def flight_level_to_m(level: float) -> float:
    """A flight level to metres above the WGS84 ellipsoid.

    Assumption: a flight level is a pressure altitude of ``level * 100`` ft in the ICAO standard
    atmosphere. We treat it as geometric height above the WGS84 ellipsoid, ignoring the difference
    between pressure and geometric altitude (non-standard temperature and pressure) and the geoid
    undulation (at most about 100 m). For separation this is conservative only when the vertical
    minimum allows for those errors, as ICAO vertical minima do.
    """
    return level * 100.0 * FEET_TO_M


def altitude_to_m(value: float, unit: str) -> float:
    """Convert an altitude given in ``m``, ``ft`` or ``FL`` to metres W84.

    Altitudes above mean sea level are taken as above the ellipsoid (the geoid undulation, at most
    about 100 m, is ignored: see :func:`flight_level_to_m`).
    """
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"altitude must be a finite number, got {value!r}")
    match unit.strip().lower():
        case "m" | "metres" | "meters":
            return float(value)
        case "ft" | "feet":
            return feet_to_m(value)
        case "fl":
            return flight_level_to_m(value)
    raise ValueError(f"unknown altitude unit {unit!r} (use m, ft or FL)")


def parse_rfc3339(text: str) -> float:
    """An RFC 3339 timestamp with an explicit offset to seconds since the Unix epoch (UTC)."""
    if not isinstance(text, str):
        raise ValueError(f"time must be an RFC 3339 string, got {text!r}")
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"time {text!r} is not RFC 3339 (e.g. 2015-11-17T05:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (add Z)")
    return moment.timestamp()


def epoch_to_rfc3339(seconds: float) -> str:
    """Seconds since the Unix epoch to an RFC 3339 UTC string (``...Z``)."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if seconds % 1 else "seconds")
    return text.replace("+00:00", "Z")
