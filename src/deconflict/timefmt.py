"""Durations and times as people say them: "1 h 20 min ahead", "late by 35 min", "06:00Z".

Shared by the CLI, the API's map and the demo report, so all speak the same way. Durations are
rounded to the nearest whole unit they are shown in (seconds under a minute, then minutes, then
hours over a day), and at most two units are shown.
"""

from __future__ import annotations

import math

from deconflict.geo.units import civil_day, expanded_year, utc_seconds

__all__ = [
    "format_clock",
    "format_duration",
    "format_lead",
    "format_shift",
    "format_shortfall",
    "format_window",
]

_MINUTE = 60
_HOUR = 3_600
_DAY = 86_400
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_duration(seconds: float) -> str:
    """A non-negative span as people say it: "45 s", "35 min", "1 h 20 min", "2 d 3 h".

    A negative span is shown by its magnitude; use :func:`format_lead` or :func:`format_shift`
    where the sign means something.
    """
    if math.isnan(seconds):
        return "unknown"
    if math.isinf(seconds):
        return "forever"
    span = abs(seconds)
    if round(span) < _MINUTE:
        return f"{round(span)} s"
    if round(span / _MINUTE) * _MINUTE < _DAY:
        minutes = round(span / _MINUTE)
        hours, minutes = divmod(minutes, 60)
        if hours == 0:
            return f"{minutes} min"
        return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"
    hours = round(span / _HOUR)
    days, hours = divmod(hours, 24)
    return f"{days} d" if hours == 0 else f"{days} d {hours} h"


def format_lead(lead_s: float) -> str:
    """Lead time: "1 h 20 min ahead" when told before the start, "late by 35 min" after it."""
    if round(lead_s) == 0:
        return "just as it starts"
    if lead_s > 0:
        return f"{format_duration(lead_s)} ahead"
    return f"late by {format_duration(lead_s)}"


def format_shortfall(lead_s: float, required_s: float) -> str:
    """A notice's lead time against the agreed minimum: "5 h 30 min ahead, 30 min short of
    the 6 h required", or "7 h ahead (6 h required)" when it was in time."""
    told = format_lead(lead_s)
    if lead_s >= required_s:
        return f"{told} ({format_duration(required_s)} required)"
    short, required = format_duration(required_s - lead_s), format_duration(required_s)
    return f"{told}, {short} short of the {required} required"


def format_shift(delta_s: float) -> str:
    """A time shift: "2 h 10 min later", "15 min earlier", "not moved"."""
    if round(delta_s) == 0:
        return "not moved"
    return f"{format_duration(delta_s)} {'later' if delta_s > 0 else 'earlier'}"


def format_clock(seconds: float, *, weekday: bool = True) -> str:
    """A UTC instant for people: "Tue 17 Nov 2015 06:00Z" (seconds shown only when not zero).
    Any finite instant, whatever its year (see ``geo.units.civil_day``)."""
    whole, _ = utc_seconds(seconds)
    days, second = divmod(whole, _DAY)
    year, month, day, iso_weekday = civil_day(days)
    hour, minute, second = second // _HOUR, second // _MINUTE % 60, second % _MINUTE
    clock = f"{hour:02}:{minute:02}:{second:02}" if second else f"{hour:02}:{minute:02}"
    named = f"{_WEEKDAYS[iso_weekday - 1]} " if weekday else ""
    return f"{named}{day} {_MONTHS[month - 1]} {expanded_year(year)} {clock}Z"


def format_window(start_s: float, end_s: float) -> str:
    """A window [start, end): "Tue 17 Nov 2015 06:00Z to 08:00Z", the end's date only when it
    is another day."""
    same_day = int(start_s // 86_400) == int(end_s // 86_400)
    end = format_clock(end_s).rsplit(" ", 1)[1] if same_day else format_clock(end_s)
    return f"{format_clock(start_s)} to {end}"
