"""The conflict rule, for one pair of volumes, under separation minima.

Two volumes conflict when their time windows overlap for a positive duration or come closer than
the time minimum, their altitude bands overlap with positive thickness or come closer than the
vertical minimum, and their footprints overlap with positive area or come closer than the horizontal
minimum (geodesically). In each dimension that is one comparison, ``gap < minimum``, where the gap
is negative for an overlap and 0 for touching: touching is not a conflict when the minimum is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from deconflict.engine.columns import Rows
from deconflict.errors import InvalidInput
from deconflict.geo import Volume4D, separated_by
from deconflict.geo.separation import apart_many, clearance_m, within_reach
from deconflict.geo.sphere import MIN_CURVATURE_M
from deconflict.ranges import MAX_HORIZONTAL_M, MAX_TIME_SEPARATION_S, MAX_VERTICAL_M

__all__ = [
    "ZERO_MINIMA",
    "ConflictDetail",
    "SeparationMinima",
    "check_minima_accepted",
    "conflicts",
    "conflicts_among",
    "describe",
    "near_horizontally",
    "screen",
]

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SeparationMinima:
    """How far apart two volumes must stay: metres across, metres up, seconds in time."""

    horizontal_m: float = 0.0
    vertical_m: float = 0.0
    time_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("horizontal_m", "vertical_m", "time_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"separation minimum {name} must be a number, got {value!r}")
            try:
                number = float(value)
            except OverflowError:  # an integer of hundreds of digits (JSON allows them)
                raise InvalidInput(f"separation minimum {name} is too large") from None
            if not math.isfinite(number) or number < 0:
                raise InvalidInput(f"separation minimum {name} must be >= 0, got {value!r}")

    def widest(self, other: SeparationMinima) -> SeparationMinima:
        """The minima that are at least as wide as both, dimension by dimension."""
        return SeparationMinima(
            max(self.horizontal_m, other.horizontal_m),
            max(self.vertical_m, other.vertical_m),
            max(self.time_s, other.time_s),
        )


ZERO_MINIMA = SeparationMinima()

#: The widest minimum intake accepts in each dimension, and its unit (``deconflict.ranges``).
_WIDEST = {
    "horizontal_m": (MAX_HORIZONTAL_M, "m"),
    "vertical_m": (MAX_VERTICAL_M, "m"),
    "time_s": (MAX_TIME_SEPARATION_S, "s"),
}


def check_minima_accepted(minima: SeparationMinima) -> SeparationMinima:
    """``minima`` if intake may accept them: each no wider than its range allows (a minimum
    is about aircraft, not continents); else InvalidInput naming the minimum."""
    for name, (widest, unit) in _WIDEST.items():
        value = getattr(minima, name)
        if value > widest:
            raise InvalidInput(
                f"separation minimum {name} must be at most {widest:,.0f} {unit}, got {value:g}"
            )
    return minima


def _caps_apart(a: Volume4D, b: Volume4D, horizontal_m: float) -> bool:
    """Cheap proof of horizontal separation from the bounding caps (conservative)."""
    fa, fb = a.footprint, b.footprint
    angle = math.acos(max(-1.0, min(1.0, float(np.dot(fa.centre, fb.centre)))))
    return (angle - fa.cap_rad - fb.cap_rad) * MIN_CURVATURE_M >= horizontal_m


def conflicts(a: Volume4D, b: Volume4D, minima: SeparationMinima = ZERO_MINIMA) -> bool:
    """Whether ``a`` and ``b`` conflict under ``minima`` (the parties are the caller's concern)."""
    if a.window.gap_s(b.window) >= minima.time_s:
        return False
    if a.altitude.gap_m(b.altitude) >= minima.vertical_m:
        return False
    if _caps_apart(a, b, minima.horizontal_m):
        return False
    return not separated_by(a.footprint, b.footprint, minima.horizontal_m)


def screen(
    a: Rows,
    b: Rows,
    horizontal_m: Array | float,
    vertical_m: Array | float,
    time_s: Array | float,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The tests of :func:`conflicts` that need no outline, over many pairs at once: ``a`` and
    ``b`` row by row (or one of them a single row), each pair under its own minima. Which pairs
    surely conflict, and which are left to the exact horizontal stage
    (:func:`deconflict.geo.separation.apart_many`); the others do not conflict.

    The same comparisons as :func:`conflicts` makes, in the same order of proof: the time and
    altitude gaps exactly (a maximum, a minimum and a difference round the same in numpy as in
    Python), then the bounding caps and the first vertices, whose bounds keep a margin far wider
    than the last bits in which numpy's ``arccos`` may differ from ``math.acos``.
    """
    # Columns side by side, each test on both at once: a query's candidates are a few dozen,
    # and a numpy call costs as much as its work on them. Windows and bands: the gaps.
    gaps = np.maximum(a.lows, b.lows) - np.minimum(a.highs, b.highs)
    near = gaps[..., 0] < time_s
    near &= gaps[..., 1] < vertical_m
    # Centres and first vertices: their angles (the cosines, clipped for arccos).
    products = a.vectors * b.vectors
    cosines = products.reshape(*products.shape[:-1], 2, 3).sum(axis=-1)
    angles = np.arccos(np.minimum(np.maximum(cosines, -1.0), 1.0))
    near &= (angles[..., 0] - a.cap_rad - b.cap_rad) * MIN_CURVATURE_M < horizontal_m
    close = near & within_reach(angles[..., 1], a.radius_m + b.radius_m, horizontal_m)
    return close, near & ~close


def conflicts_among(
    query: Volume4D,
    others: Sequence[Volume4D],
    minima: SeparationMinima = ZERO_MINIMA,
    rows: Rows | None = None,
) -> list[bool]:
    """:func:`conflicts` of ``query`` with each of ``others``, judged at once: :func:`screen`,
    then the exact horizontal stage for the pairs it leaves, in one frame centred on ``query``.
    ``rows``: the others' rows, when the caller holds them (else they are gathered here)."""
    return _judged(query, others, rows, minima.horizontal_m, minima.vertical_m, minima.time_s)


def near_horizontally(
    query: Volume4D, others: Sequence[Volume4D], horizontal_m: Array
) -> list[bool]:
    """Whether each of ``others``'s footprints comes closer to ``query``'s than its own
    ``horizontal_m`` (``not separated_by``), whatever their windows and bands: judged at once,
    as :func:`conflicts_among` judges (one by one, thousands of another party's volumes near
    one of ours cost an adjustment search seconds; security.md §4.2)."""
    return _judged(query, others, None, horizontal_m, math.inf, math.inf)


def _judged(
    query: Volume4D,
    others: Sequence[Volume4D],
    rows: Rows | None,
    horizontal_m: Array | float,
    vertical_m: float,
    time_s: float,
) -> list[bool]:
    if not others:
        return []
    theirs = rows if rows is not None else Rows.of(others, [0] * len(others))
    close, unsure = screen(Rows.one(query, 0), theirs, horizontal_m, vertical_m, time_s)
    pending = np.flatnonzero(unsure)
    if pending.size:
        thresholds = np.broadcast_to(np.asarray(horizontal_m, dtype=float), close.shape)
        apart = apart_many(
            query.footprint,
            [others[i].footprint for i in pending.tolist()],
            thresholds[pending],
        )
        close[pending] = np.logical_not(apart)
    return list(close.tolist())


@dataclass(frozen=True, slots=True)
class ConflictDetail:
    """What a conflict looks like: when the two overlap and how close they come."""

    start_s: float
    end_s: float
    time_gap_s: float
    vertical_gap_m: float
    horizontal_m: float

    @property
    def overlaps_in_time(self) -> bool:
        return self.end_s > self.start_s


def describe(a: Volume4D, b: Volume4D) -> ConflictDetail:
    """The overlap window (may be empty when only the time minimum joins them), the vertical gap
    (0 when the bands overlap) and the minimum horizontal distance in metres (0 when the
    footprints overlap), all on the ellipsoid."""
    return ConflictDetail(
        start_s=max(a.window.start_s, b.window.start_s),
        end_s=min(a.window.end_s, b.window.end_s),
        time_gap_s=max(0.0, a.window.gap_s(b.window)),
        vertical_gap_m=max(0.0, a.altitude.gap_m(b.altitude)),
        horizontal_m=clearance_m(a.footprint, b.footprint),
    )
