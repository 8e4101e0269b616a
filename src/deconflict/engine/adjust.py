"""Adjustment search: the smallest time shift, and the nearest altitude band, that clear a volume.

Both are exact interval problems. For a time shift, every volume of another party that conflicts
with ours horizontally and vertically forbids an open interval of shifts, the ones that bring the
two windows closer than the time minimum; the answer is the allowed shift of least magnitude (an
interval's end is allowed: there the gap equals the minimum, which is not a conflict). Altitude is
the same with bands and the vertical minimum, inside a floor and a ceiling.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from deconflict.engine.index import Entry, PairMinima, VolumeIndex
from deconflict.engine.rule import ZERO_MINIMA, SeparationMinima
from deconflict.geo import AltitudeBand, TimeWindow, Volume4D, separated_by

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
    """The value of least magnitude in [low, high] inside none of the open intervals."""
    options = [0.0, low, high]
    for start, end in forbidden:
        options.extend((start, end))
    best: float | None = None
    for value in options:
        if not low <= value <= high:
            continue
        if any(start < value < end for start, end in forbidden):
            continue
        if best is None or abs(value) < abs(best) or (abs(value) == abs(best) and value > best):
            best = value
    return best


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
    (of those ``among`` keeps, if given)."""
    out = []
    for entry in index.candidates(search, minima):
        if entry.party == party or (among is not None and not among(entry)):
            continue
        rule = minima
        if pair_minima is not None:
            chosen = pair_minima(party, entry.party)
            if chosen is None:
                continue
            rule = chosen
        if not separated_by(volume.footprint, entry.volume.footprint, rule.horizontal_m):
            out.append((entry, rule))
    return out


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
