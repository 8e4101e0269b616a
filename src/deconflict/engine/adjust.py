"""Adjustment search: the smallest time shift, and the nearest altitude band, that clear a volume.

Both are exact interval problems. For a time shift, every volume of another party that conflicts
with ours horizontally and vertically forbids an open interval of shifts, the ones that bring the
two windows closer than the time minimum; the answer is the allowed shift of least magnitude (an
interval's end is allowed: there the gap equals the minimum, which is not a conflict). Altitude is
the same with bands and the vertical minimum, inside a floor and a ceiling.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from deconflict.engine.index import Entry, PairMinima, VolumeIndex
from deconflict.engine.rule import ZERO_MINIMA, SeparationMinima, near_horizontally
from deconflict.geo import AltitudeBand, TimeWindow, Volume4D

__all__ = ["Adjustment", "AdjustmentKind", "nearest_altitude", "smallest_time_shift"]


class AdjustmentKind(StrEnum):
    TIME = "time"
    ALTITUDE = "altitude"


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A change that clears a volume of every conflict: ``delta`` seconds or metres."""

    kind: AdjustmentKind
    delta: float
    volume: Volume4D

    def describe(self) -> str:
        if self.kind is AdjustmentKind.TIME:
            minutes = abs(self.delta) / 60.0
            word = "later" if self.delta > 0 else "earlier"
            return f"move {minutes:.0f} min {word}"
        band = self.volume.altitude
        return f"fly at {band.lower_m:,.0f}-{band.upper_m:,.0f} m"


def _least_allowed(forbidden: list[tuple[float, float]], low: float, high: float) -> float | None:
    """The value of least magnitude in [low, high] inside none of the open intervals (of two
    as near, the greater). The intervals are merged in one sort, then the nearest allowed value
    above zero and below it are found: O(n log n) in the intervals (checking every end against
    every interval was O(n^2): another party's thousands of volumes near one of ours made a
    suggestion take seconds, on the hub's thread; security.md §4.2)."""
    merged: list[list[float]] = []
    for start, end in sorted(iv for iv in forbidden if iv[0] < iv[1]):
        if merged and start < merged[-1][1]:  # overlapping (an end alone is allowed)
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = [start for start, _ in merged]

    def around(value: float) -> tuple[float, float] | None:
        """The merged interval ``value`` is strictly inside, if any."""
        i = bisect.bisect_left(starts, value) - 1
        if i >= 0 and merged[i][0] < value < merged[i][1]:
            return merged[i][0], merged[i][1]
        return None

    up: float | None = None  # the least allowed value >= max(0, low)
    if max(0.0, low) <= high:
        start = max(0.0, low)
        inside = around(start)
        up = start if inside is None else inside[1]
        if up > high:
            up = None
    down: float | None = None  # the greatest allowed value <= min(0, high)
    if min(0.0, high) >= low:
        end = min(0.0, high)
        inside = around(end)
        down = end if inside is None else inside[0]
        if down < low:
            down = None
    if up is None or (down is not None and abs(down) < abs(up)):
        return down
    return up


def _blockers(
    index: VolumeIndex,
    volume: Volume4D,
    party: str,
    search: Volume4D,
    minima: SeparationMinima,
    pair_minima: PairMinima | None,
    among: Callable[[Entry], bool] | None,
) -> list[tuple[Entry, SeparationMinima]]:
    """Entries of other parties within ``search``'s reach that meet ``volume`` horizontally
    (of those ``among`` keeps, if given), judged at once (:func:`near_horizontally`)."""
    found = []
    for entry in index.candidates(search, minima):
        if entry.party == party or (among is not None and not among(entry)):
            continue
        rule = minima
        if pair_minima is not None:
            chosen = pair_minima(party, entry.party)
            if chosen is None:
                continue
            rule = chosen
        found.append((entry, rule))
    near = near_horizontally(
        volume,
        [entry.volume for entry, _ in found],
        np.array([rule.horizontal_m for _, rule in found], dtype=float),
    )
    return [blocker for blocker, hit in zip(found, near, strict=True) if hit]


def smallest_time_shift(
    index: VolumeIndex,
    volume: Volume4D,
    party: str,
    minima: SeparationMinima = ZERO_MINIMA,
    *,
    horizon_s: float = 86_400.0,
    earliest_start_s: float = -math.inf,
    pair_minima: PairMinima | None = None,
    among: Callable[[Entry], bool] | None = None,
) -> Adjustment | None:
    """The shift of least magnitude (within ``horizon_s``, never starting before
    ``earliest_start_s``) after which ``volume`` conflicts with nothing (of what ``among``
    keeps of the index, if given); None if there is none."""
    window = volume.window
    search = volume.with_window(TimeWindow(window.start_s - horizon_s, window.end_s + horizon_s))
    forbidden = []
    for entry, rule in _blockers(index, volume, party, search, minima, pair_minima, among):
        other = entry.volume
        if volume.altitude.gap_m(other.altitude) >= rule.vertical_m:
            continue
        forbidden.append(
            (
                other.window.start_s - rule.time_s - window.end_s,
                other.window.end_s + rule.time_s - window.start_s,
            )
        )
    low = max(-horizon_s, earliest_start_s - window.start_s)
    delta = _least_allowed(forbidden, low, horizon_s)
    if delta is None:
        return None
    return Adjustment(AdjustmentKind.TIME, delta, volume.with_window(window.shifted(delta)))


def nearest_altitude(
    index: VolumeIndex,
    volume: Volume4D,
    party: str,
    minima: SeparationMinima = ZERO_MINIMA,
    *,
    floor_m: float = 0.0,
    ceiling_m: float = 20_000.0,
    pair_minima: PairMinima | None = None,
    among: Callable[[Entry], bool] | None = None,
) -> Adjustment | None:
    """The band of the same thickness, between ``floor_m`` and ``ceiling_m``, nearest to the
    volume's own, that conflicts with nothing (of what ``among`` keeps of the index, if
    given); None if there is none."""
    band = volume.altitude
    if band.upper_m - band.lower_m > ceiling_m - floor_m:
        return None
    reach = AltitudeBand(min(floor_m, band.lower_m), max(ceiling_m, band.upper_m))
    search = volume.with_altitude(reach)
    forbidden = []
    for entry, rule in _blockers(index, volume, party, search, minima, pair_minima, among):
        other = entry.volume
        if volume.window.gap_s(other.window) >= rule.time_s:
            continue
        forbidden.append(
            (
                other.altitude.lower_m - rule.vertical_m - band.upper_m,
                other.altitude.upper_m + rule.vertical_m - band.lower_m,
            )
        )
    delta = _least_allowed(forbidden, floor_m - band.lower_m, ceiling_m - band.upper_m)
    if delta is None:
        return None
    return Adjustment(AdjustmentKind.ALTITUDE, delta, volume.with_altitude(band.shifted(delta)))
