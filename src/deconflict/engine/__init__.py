"""engine: the spatio-temporal index, conflict detection and adjustment search. Pure: no I/O,
no clock; times are arguments."""

from deconflict.engine.adjust import (
    Adjustment,
    AdjustmentKind,
    nearest_altitude,
    smallest_time_shift,
)
from deconflict.engine.brute import brute_conflicts_with, brute_pairs
from deconflict.engine.index import Entry, PairMinima, VolumeIndex
from deconflict.engine.rule import (
    ZERO_MINIMA,
    ConflictDetail,
    SeparationMinima,
    check_minima_accepted,
    conflicts,
    conflicts_among,
    describe,
    screen,
)

__all__ = [
    "ZERO_MINIMA",
    "Adjustment",
    "AdjustmentKind",
    "ConflictDetail",
    "Entry",
    "PairMinima",
    "SeparationMinima",
    "VolumeIndex",
    "brute_conflicts_with",
    "brute_pairs",
    "check_minima_accepted",
    "conflicts",
    "conflicts_among",
    "describe",
    "nearest_altitude",
    "screen",
    "smallest_time_shift",
]
