"""Durations, lead times and shifts read the way people say them."""

from __future__ import annotations

import math

import pytest

from deconflict.geo.units import parse_rfc3339
from deconflict.timefmt import (
    format_clock,
    format_duration,
    format_lead,
    format_shift,
    format_shortfall,
    format_window,
)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s"),
        (0.4, "0 s"),
        (45, "45 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),
        (60, "1 min"),
        (89, "1 min"),
        (91, "2 min"),
        (35 * 60, "35 min"),
        (3600, "1 h"),
        (3600 + 20 * 60, "1 h 20 min"),
        (10 * 3600, "10 h"),
        (86_400 - 20, "1 d"),
        (86_400 + 3 * 3600, "1 d 3 h"),
        (2 * 86_400 + 20 * 60, "2 d"),
        (-35 * 60, "35 min"),
        (math.inf, "forever"),
        (math.nan, "unknown"),
    ],
)
def test_format_duration(seconds: float, said: str) -> None:
    """Spans round to the unit they are shown in and show at most two units."""
    assert format_duration(seconds) == said


@pytest.mark.parametrize(
    ("lead_s", "said"),
    [
        (3600 + 20 * 60, "1 h 20 min ahead"),
        (-35 * 60, "late by 35 min"),
        (0, "just as it starts"),
        (36_000, "10 h ahead"),
    ],
)
def test_format_lead(lead_s: float, said: str) -> None:
    """A positive lead is "ahead"; a negative one is "late by"."""
    assert format_lead(lead_s) == said


def test_format_shortfall() -> None:
    """A late notice says how much it fell short of the minimum; an early one says it met it."""
    assert format_shortfall(19_800, 21_600) == (
        "5 h 30 min ahead, 30 min short of the 6 h required"
    )
    assert format_shortfall(25_200, 21_600) == "7 h ahead (6 h required)"


def test_format_shift() -> None:
    """A shift is later, earlier or none."""
    assert format_shift(7800) == "2 h 10 min later"
    assert format_shift(-900) == "15 min earlier"
    assert format_shift(0) == "not moved"


def test_format_clock() -> None:
    """A UTC instant reads as weekday, date and time with a Z."""
    assert format_clock(parse_rfc3339("2015-11-17T06:00:00Z")) == "Tue 17 Nov 2015 06:00Z"
    assert format_clock(parse_rfc3339("2015-11-16T20:00:05Z"), weekday=False) == (
        "16 Nov 2015 20:00:05Z"
    )


def test_format_window() -> None:
    """A window within one day names the date once; across midnight, twice."""
    start = parse_rfc3339("2015-11-17T06:00:00Z")
    assert format_window(start, start + 7200) == "Tue 17 Nov 2015 06:00Z to 08:00Z"
    assert format_window(start, start + 86_400) == (
        "Tue 17 Nov 2015 06:00Z to Wed 18 Nov 2015 06:00Z"
    )
