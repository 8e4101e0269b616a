"""The brute-force reference: every pair tested by the exact rule, no index.

Quadratic, so only for tests and for the benchmark's side-by-side baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from deconflict.engine.index import Entry
from deconflict.engine.rule import ZERO_MINIMA, SeparationMinima, conflicts

__all__ = ["brute_conflicts_with", "brute_pairs"]


def brute_conflicts_with(
    entries: Sequence[Entry], query: Entry, minima: SeparationMinima = ZERO_MINIMA
) -> list[Entry]:
    """Entries of other parties than ``query``'s that conflict with it."""
    return [
        e
        for e in entries
        if e.party != query.party
        and e.key != query.key
        and conflicts(query.volume, e.volume, minima)
    ]


def brute_pairs(
    entries: Sequence[Entry], minima: SeparationMinima = ZERO_MINIMA
) -> list[tuple[Entry, Entry]]:
    """Every conflicting pair of entries of different parties, in input order."""
    return [
        (a, b)
        for i, a in enumerate(entries)
        for b in entries[i + 1 :]
        if a.party != b.party and conflicts(a.volume, b.volume, minima)
    ]
