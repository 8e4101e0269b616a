"""Unit conversions at the edges: everything inside is metres (W84), seconds and UTC.

Each conversion states its assumption here, where it is made.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import date, datetime

__all__ = [
    "FEET_TO_M",
    "altitude_to_m",
    "civil_day",
    "epoch_to_rfc3339",
    "expanded_year",
    "feet_to_m",
    "flight_level_to_m",
    "parse_rfc3339",
    "rfc3339_micro",
    "utc_seconds",
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
    """An RFC 3339 timestamp with an explicit offset to seconds since the Unix epoch (UTC).

    Also any time :func:`epoch_to_rfc3339` writes, year 0 and expanded years included, so that
    whatever the hub writes its clients read back (intake refuses such years all the same: they
    are outside the accepted span)."""
    if not isinstance(text, str):
        raise ValueError(f"time must be an RFC 3339 string, got {text!r}")
    raw = text.strip()
    if _SHAPE.fullmatch(raw) is None:  # Python reads ISO 8601's other forms too (20151117T05Z)
        raise ValueError(f"time {text!r} is not RFC 3339 (e.g. 2015-11-17T05:00:00Z)")
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    cycles = 0
    expanded = _EXPANDED.fullmatch(raw)
    if expanded is not None:  # moved by whole 400-year cycles into datetime's years
        cycles, year = divmod(int(expanded[1]) - 1, 400)
        raw = f"{year + 1:04}{expanded[2]}"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"time {text!r} is not RFC 3339 (e.g. 2015-11-17T05:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (add Z)")
    try:  # an expanded year of hundreds of digits is past any float (a thirtieth reader)
        seconds = moment.timestamp() + cycles * _CYCLE_DAYS * 86_400.0
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        shown = text if len(text) <= 40 else f"{text[:40]}..."
        raise ValueError(f"time {shown!r} lies past any year the hub can read")
    return seconds


#: RFC 3339's date-time (seconds and the offset's form as ISO 8601 allows them too: ``05:00Z``,
#: ``+0530``), with ISO 8601's expanded years; an offset or not (said apart below).
_SHAPE = re.compile(
    r"(?:[+-]\d{6,}|\d{4})-\d\d-\d\d[Tt ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?"
    r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)?",
    re.ASCII,
)

#: A year datetime cannot read: year 0, or ISO 8601's expanded year (a sign, six digits or more).
_EXPANDED = re.compile(r"([+-]\d{6,}|0000)(-\d\d-\d\d[Tt ].*)", re.ASCII)


def epoch_to_rfc3339(seconds: float) -> str:
    """Seconds since the Unix epoch to an RFC 3339 UTC string (``...Z``), to the millisecond
    when there is a fraction: as ``datetime.fromtimestamp(seconds, UTC).isoformat`` writes it
    (timespec milliseconds, or seconds), at a sixth of its cost (see :func:`_utc`).

    Total over every finite time: intake keeps times far inside years 1 to 9999 (see
    ``deconflict.ranges``), but a record stored before that, or a derived time, must still
    render. A year outside 0000-9999, which RFC 3339 cannot write, is written as ISO 8601's
    expanded year, a sign and six digits or more (``+010000-01-01T04:00:00Z``), as ECMAScript's
    ``Date`` reads and writes it."""
    clock, micro = _utc(seconds)
    return f"{clock}.{micro // 1000:03}Z" if seconds % 1 else f"{clock}Z"


def rfc3339_micro(seconds: float) -> str:
    """``2015-11-16T20:00:00Z`` with microseconds when there are any, as ``datetime``'s
    ``isoformat`` writes the moment (the ledger's times)."""
    clock, micro = _utc(seconds)
    return f"{clock}.{micro:06}Z" if micro else f"{clock}Z"


def utc_seconds(seconds: float) -> tuple[int, int]:
    """The whole seconds since the epoch of ``seconds`` and its microseconds, rounded half to
    even as ``datetime.fromtimestamp`` rounds them (and carried into the second)."""
    whole = math.floor(seconds)
    micro = round((seconds - whole) * 1e6)  # the fraction is exact; half to even
    if micro == 1_000_000:
        whole, micro = whole + 1, 0
    return whole, micro


def _utc(seconds: float) -> tuple[str, int]:
    """The date and time to the second of ``seconds`` since the epoch, and its microseconds
    (:func:`utc_seconds`). Computed here and the clock looked up: the hub writes many times a
    second."""
    whole, micro = utc_seconds(seconds)
    return _clock(whole), micro


@functools.lru_cache(maxsize=256)
def _clock(whole: int) -> str:
    days, second = divmod(whole, 86_400)
    return f"{_day(days)}T{second // 3600:02}:{second // 60 % 60:02}:{second % 60:02}"


@functools.lru_cache(maxsize=64)
def _day(days: int) -> str:
    """The date ``days`` after 1970-01-01, ``2015-11-16`` (any year: see :func:`civil_day`)."""
    ordinal = _EPOCH_ORDINAL + days
    if _FIRST_ORDINAL <= ordinal <= _LAST_ORDINAL:
        return date.fromordinal(ordinal).isoformat()
    year, month, day, _ = civil_day(days)
    return f"{expanded_year(year)}-{month:02}-{day:02}"


def expanded_year(year: int) -> str:
    """A year as RFC 3339 writes it (four digits) when it can, else as ISO 8601's expanded
    year (a sign and six digits or more)."""
    if 0 <= year <= 9999:
        return f"{year:04}"
    return f"{'+' if year > 0 else '-'}{abs(year):06}"


def civil_day(days: int) -> tuple[int, int, int, int]:
    """Year, month, day and ISO weekday (Monday 1) of the day ``days`` after 1970-01-01 in the
    proleptic Gregorian calendar, any year (0 is 1 BC): ``datetime`` knows years 1 to 9999
    only, so the day is moved by whole 400-year cycles into its range, where the calendar (and
    the week: a cycle is 20,871 weeks) repeats."""
    cycles, rest = divmod(_EPOCH_ORDINAL + days - 1, _CYCLE_DAYS)
    moment = date.fromordinal(rest + 1)
    return moment.year + 400 * cycles, moment.month, moment.day, moment.isoweekday()


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIRST_ORDINAL, _LAST_ORDINAL = date.min.toordinal(), date.max.toordinal()
_CYCLE_DAYS = 146_097  # days in 400 Gregorian years
