"""The indexed volumes' numbers as columns, one array a field, so that the conflict rule's cheap
tests run over all of a query's candidates (or all candidate pairs of a sweep) in a few numpy
operations instead of a Python loop a pair.

A :class:`Rows` holds, for some volumes, what :func:`deconflict.engine.rule.conflicts` reads
before the exact horizontal stage: the time window, the altitude band, the footprint's centre
and bounding cap, its radius and its core's first n-vector, and the owning party as a small
integer code. A :class:`Table` holds the same by slot (the index's number for a key), grows by
doubling, and reuses the slots of removed volumes, so a hub that indexes and drops volumes for
months holds as many rows as it has live volumes, not as many as it ever had.

The footprints themselves stay in the volumes: the exact stage needs their outlines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from deconflict.geo import Volume4D

__all__ = ["Rows", "Table"]

Array = NDArray[np.float64]

#: The code of a party the table has never seen (a query's, say): it equals no row's.
NO_PARTY = -1


@dataclass(frozen=True, slots=True)
class Rows:
    """Some volumes' numbers, one array a field (n, or n x 3 for the n-vectors)."""

    start_s: Array
    end_s: Array
    lower_m: Array
    upper_m: Array
    centre: Array
    cap_rad: Array
    radius_m: Array
    first: Array
    party: NDArray[np.int32]

    @classmethod
    def of(cls, volumes: Sequence[Volume4D], parties: Sequence[int]) -> Rows:
        """The rows of ``volumes``, owned by the parties coded ``parties``."""
        count = len(volumes)
        numbers = np.array(
            [
                (
                    v.window.start_s,
                    v.window.end_s,
                    v.altitude.lower_m,
                    v.altitude.upper_m,
                    v.footprint.cap_rad,
                    v.footprint.radius_m,
                )
                for v in volumes
            ],
            dtype=np.float64,
        ).reshape(count, 6)
        return cls(
            start_s=numbers[:, 0],
            end_s=numbers[:, 1],
            lower_m=numbers[:, 2],
            upper_m=numbers[:, 3],
            centre=np.array([v.footprint.centre for v in volumes]).reshape(count, 3),
            cap_rad=numbers[:, 4],
            radius_m=numbers[:, 5],
            first=np.array([v.footprint.core_vectors[0] for v in volumes]).reshape(count, 3),
            party=np.asarray(parties, dtype=np.int32).reshape(count),
        )

    def take(self, which: NDArray[np.intp]) -> Rows:
        """The rows at ``which`` (indices or a mask)."""
        return Rows(*(getattr(self, f.name)[which] for f in fields(self)))


def _empty(capacity: int) -> Rows:
    one = np.zeros(capacity)
    three = np.zeros((capacity, 3))
    return Rows(
        one,
        one.copy(),
        one.copy(),
        one.copy(),
        three,
        one.copy(),
        one.copy(),
        three.copy(),
        np.full(capacity, NO_PARTY, dtype=np.int32),
    )


class Table:
    """Rows by slot, and the party codes. Slots are handed out here: a freed one first, else
    the next new one."""

    def __init__(self) -> None:
        self._rows = _empty(0)
        self._next = 0
        self._free: list[int] = []
        self._codes: dict[str, int] = {}
        self._names: list[str] = []

    def code(self, party: str | None) -> int:
        """The code of ``party`` (:data:`NO_PARTY` for one never put, or None)."""
        return NO_PARTY if party is None else self._codes.get(party, NO_PARTY)

    def name(self, code: int) -> str:
        return self._names[code]

    def _code_for(self, party: str) -> int:
        code = self._codes.get(party)
        if code is None:
            code = self._codes[party] = len(self._names)
            self._names.append(party)
        return code

    def put(self, volumes: Sequence[Volume4D], parties: Sequence[str]) -> NDArray[np.intp]:
        """Store ``volumes`` (of ``parties``) in free or new slots; the slots, in order."""
        count = len(volumes)
        reused = [self._free.pop() for _ in range(min(count, len(self._free)))]
        fresh = np.arange(self._next, self._next + count - len(reused), dtype=np.intp)
        self._next += len(fresh)
        slots = np.concatenate((np.array(reused, dtype=np.intp), fresh))
        self._reserve(self._next)
        rows = Rows.of(volumes, [self._code_for(p) for p in parties])
        for f in fields(Rows):
            getattr(self._rows, f.name)[slots] = getattr(rows, f.name)
        return slots

    def free(self, slot: int) -> None:
        """Give ``slot`` back (its row is stale until the slot is put again)."""
        self._free.append(slot)

    def rows(self, slots: NDArray[np.intp]) -> Rows:
        return self._rows.take(slots)

    def _reserve(self, size: int) -> None:
        capacity = len(self._rows.start_s)
        if size <= capacity:
            return
        grown = _empty(max(size, 2 * capacity, 64))
        for f in fields(Rows):
            getattr(grown, f.name)[:capacity] = getattr(self._rows, f.name)
        self._rows = grown
