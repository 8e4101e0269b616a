"""Volume4D: a footprint x an altitude band x a half-open time window.

Altitudes are metres above the WGS84 ellipsoid; times are seconds since the Unix epoch, UTC. The
window is half-open, [start, end): a window that ends when another starts does not overlap it.

Two kinds of check, kept apart. A band, a window and a volume hold their structure whatever made
them (finite numbers, lower below upper, start before end): so does a search window the engine
widens, or a volume read back from the store. What intake accepts (the span of years, the longest
window, the altitudes, the narrowest width: ``deconflict.ranges``) is checked by
:func:`check_accepted`, which :meth:`Volume4D.build` applies at intake; a record the store reads
back is not checked again, so narrowing a range never locks a stored record out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

from deconflict.errors import InvalidGeometry, InvalidVolume
from deconflict.geo.footprint import Footprint, finite
from deconflict.geo.units import epoch_to_rfc3339
from deconflict.ranges import (
    EARLIEST_S,
    LATEST_S,
    MAX_ALTITUDE_M,
    MAX_WINDOW_S,
    MIN_WIDTH_M,
)

__all__ = [
    "AltitudeBand",
    "TimeWindow",
    "Volume4D",
    "check_accepted",
    "checked_volumes",
]

#: What a footprint's width is called in a feature, by its kind.
_WIDTH = {"circle": "radius_m", "corridor": "half_width_m"}


@dataclass(frozen=True, slots=True)
class AltitudeBand:
    """[lower_m, upper_m], metres above the WGS84 ellipsoid, lower < upper."""

    lower_m: float
    upper_m: float

    def __post_init__(self) -> None:
        lower = finite(self.lower_m, "lower_m", "lower_m")
        upper = finite(self.upper_m, "upper_m", "upper_m")
        if lower >= upper:
            raise InvalidGeometry(f"lower_m {lower:g} must be below upper_m {upper:g}", "upper_m")

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
        start = finite(self.start_s, "start", "start")
        end = finite(self.end_s, "end", "end")
        if end <= start:
            raise InvalidGeometry("end must be after start", "end")

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
        *,
        intake: bool = True,
    ) -> Volume4D:
        """Validate the parts and assemble a volume; any failure names the volume (and the
        part at fault). At ``intake`` the accepted ranges are checked too (:func:`check_accepted`);
        the store reading back what it accepted before passes ``intake=False``.

        ``footprint`` may be a Footprint or a zero-argument callable that builds one, so that an
        error raised while building it also names the volume.
        """
        try:
            shape = footprint() if callable(footprint) else footprint
            if not isinstance(shape, Footprint):
                raise InvalidGeometry("footprint is missing", "geometry")
            band = AltitudeBand(lower_m, upper_m)  # type: ignore[arg-type]
            window = TimeWindow(start_s, end_s)  # type: ignore[arg-type]
        except InvalidGeometry as error:
            raise InvalidVolume(id, str(error), error.part or "geometry") from None
        volume = cls(id, shape, band, window)
        return check_accepted(volume) if intake else volume

    def with_window(self, window: TimeWindow) -> Volume4D:
        return replace(self, window=window)

    def same_as(self, other: Volume4D) -> bool:
        """Whether ``other`` is this volume unchanged: the same id, footprint, band and window
        (volumes compare by identity, their footprints holding arrays)."""
        return (
            self.id == other.id
            and self.altitude == other.altitude
            and self.window == other.window
            and self.footprint.to_geojson() == other.footprint.to_geojson()
        )

    def with_altitude(self, altitude: AltitudeBand) -> Volume4D:
        return replace(self, altitude=altitude)


def checked_volumes(
    ids: Iterable[str],
    footprints: Iterable[Footprint],
    rows: Iterable[Sequence[float]],
) -> list[Volume4D]:
    """Volumes of numbers the caller has checked as :class:`AltitudeBand` and
    :class:`TimeWindow` check theirs (finite, lower below upper, start before end), ``rows``
    (lower_m, upper_m, start_s, end_s) a volume: many read back at once
    (``deconflict.store.codec``), the checks done in arrays. Each object is made and its
    fields set as the dataclasses' own ``__init__`` would, without their ``__post_init__``
    checks or a call a field."""
    new, put = object.__new__, object.__setattr__
    out = []
    for id_, footprint, (lower_m, upper_m, start_s, end_s) in zip(
        ids, footprints, rows, strict=True
    ):
        band = new(AltitudeBand)
        put(band, "lower_m", lower_m)
        put(band, "upper_m", upper_m)
        window = new(TimeWindow)
        put(window, "start_s", start_s)
        put(window, "end_s", end_s)
        volume = new(Volume4D)
        put(volume, "id", id_)
        put(volume, "footprint", footprint)
        put(volume, "altitude", band)
        put(volume, "window", window)
        out.append(volume)
    return out


def check_accepted(volume: Volume4D) -> Volume4D:
    """``volume`` if intake may accept it: its window within the span of years and no longer
    than the longest, its altitudes within range, its width (a circle's radius, a corridor's
    half-width) at least the narrowest; else :class:`InvalidVolume` naming the part."""
    window, band = volume.window, volume.altitude
    if not EARLIEST_S <= window.start_s < LATEST_S:
        _refuse(volume, "start", f"start is outside {_span()}")
    if window.end_s > LATEST_S:
        _refuse(volume, "end", f"end is after {_span()}")
    if window.end_s - window.start_s > MAX_WINDOW_S:
        _refuse(volume, "end", f"time window is longer than {MAX_WINDOW_S / 86_400:g} days")
    for part, value in (("lower_m", band.lower_m), ("upper_m", band.upper_m)):
        if abs(value) > MAX_ALTITUDE_M:
            _refuse(volume, part, f"{part} is beyond +-{MAX_ALTITUDE_M:,.0f} m")
    width = _WIDTH.get(volume.footprint.kind)
    if width is not None and volume.footprint.radius_m < MIN_WIDTH_M:
        _refuse(volume, width, f"{width} must be at least {MIN_WIDTH_M:g} m")
    return volume


def _span() -> str:
    return f"the accepted span, {epoch_to_rfc3339(EARLIEST_S)} to {epoch_to_rfc3339(LATEST_S)}"


def _refuse(volume: Volume4D, part: str, reason: str) -> NoReturn:
    raise InvalidVolume(volume.id, reason, part)
