"""Volume4D: a footprint x an altitude band x a half-open time window.

Altitudes are metres above the WGS84 ellipsoid; times are seconds since the Unix epoch, UTC. The
window is half-open, [start, end): a window that ends when another starts does not overlap it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from deconflict.errors import InvalidGeometry, InvalidVolume
from deconflict.geo.footprint import Footprint

__all__ = ["MAX_ALTITUDE_M", "MAX_WINDOW_S", "AltitudeBand", "TimeWindow", "Volume4D"]

#: Altitudes beyond this are rejected (1,000 km above the ellipsoid: launch ranges included).
MAX_ALTITUDE_M = 1_000_000.0
#: Longest time window accepted (one year): a notice is of planned activity, not standing airspace.
MAX_WINDOW_S = 366 * 86_400.0


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidGeometry(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidGeometry(f"{what} must be finite, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class AltitudeBand:
    """[lower_m, upper_m], metres above the WGS84 ellipsoid, lower < upper."""

    lower_m: float
    upper_m: float

    def __post_init__(self) -> None:
        lower = _number(self.lower_m, "lower_m")
        upper = _number(self.upper_m, "upper_m")
        if lower >= upper:
            raise InvalidGeometry(f"lower_m {lower:g} must be below upper_m {upper:g}")
        if max(abs(lower), abs(upper)) > MAX_ALTITUDE_M:
            raise InvalidGeometry(f"altitude is beyond {MAX_ALTITUDE_M:g} m")

    def gap_m(self, other: AltitudeBand) -> float:
        """Vertical gap to ``other``: negative when they overlap, 0 when they touch."""
        return max(self.lower_m, other.lower_m) - min(self.upper_m, other.upper_m)

    def shifted(self, delta_m: float) -> AltitudeBand:
        return AltitudeBand(self.lower_m + delta_m, self.upper_m + delta_m)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """[start_s, end_s), seconds since the Unix epoch (UTC), start < end."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        start = _number(self.start_s, "start")
        end = _number(self.end_s, "end")
        if end <= start:
            raise InvalidGeometry("end must be after start")
        if end - start > MAX_WINDOW_S:
            raise InvalidGeometry(f"time window is longer than {MAX_WINDOW_S / 86_400:g} days")

    def gap_s(self, other: TimeWindow) -> float:
        """Gap to ``other``: negative when they overlap, 0 when one ends as the other starts."""
        return max(self.start_s, other.start_s) - min(self.end_s, other.end_s)

    def shifted(self, delta_s: float) -> TimeWindow:
        return TimeWindow(self.start_s + delta_s, self.end_s + delta_s)


@dataclass(frozen=True, slots=True, eq=False)
class Volume4D:
    """One 4D volume, identified by ``id`` for error messages and results."""

    id: str
    footprint: Footprint
    altitude: AltitudeBand
    window: TimeWindow

    @classmethod
    def build(
        cls,
        id: str,
        footprint: object,
        lower_m: object,
        upper_m: object,
        start_s: object,
        end_s: object,
    ) -> Volume4D:
        """Validate the parts and assemble a volume; any failure names the volume.

        ``footprint`` may be a Footprint or a zero-argument callable that builds one, so that an
        error raised while building it also names the volume.
        """
        try:
            shape = footprint() if callable(footprint) else footprint
            if not isinstance(shape, Footprint):
                raise InvalidGeometry("footprint is missing")
            band = AltitudeBand(lower_m, upper_m)  # type: ignore[arg-type]
            window = TimeWindow(start_s, end_s)  # type: ignore[arg-type]
        except InvalidGeometry as error:
            raise InvalidVolume(id, str(error)) from None
        return cls(id, shape, band, window)

    def with_window(self, window: TimeWindow) -> Volume4D:
        return replace(self, window=window)

    def with_altitude(self, altitude: AltitudeBand) -> Volume4D:
        return replace(self, altitude=altitude)
