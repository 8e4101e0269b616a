"""The indexed volumes' numbers as columns, so that the conflict rule's cheap tests run over all
of a query's candidates (or all candidate pairs of a sweep) in a few numpy operations instead of
a Python loop a pair.

A :class:`Rows` holds, for some volumes, what :func:`deconflict.engine.rule.conflicts` reads
before the exact horizontal stage: the time window, the altitude band, the footprint's bounding
cap and radius, its centre and its core's first n-vector (twelve numbers, one row of a matrix),
and the owning party as a small integer code. One matrix rather than a dozen arrays: gathering a
query's candidates is then one indexing operation, which for the handful a query has costs more
than the tests themselves. A single row (a query's) is a vector, whose fields are numbers.

A :class:`Table` holds rows by slot (the index's number for a key), grows by doubling, and reuses
the slots of removed volumes, so a hub that indexes and drops volumes for months holds as many
rows as it has live volumes, not as many as it ever had. Beside each row it keeps the box the
tree stored for the slot: the tree deletes an entry only when given that box to the last bit,
and a box computed again (by ``math`` for one volume, by numpy for a bulk) may differ in its
last bits. The footprints themselves stay in the volumes: the exact stage needs their outlines.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deconflict.geo import Volume4D

__all__ = ["NO_PARTY", "Rows", "Table", "numbers_of"]

Array = NDArray[np.float64]

#: The code of a party the table has never seen (a query's, say): it equals no row's.
NO_PARTY = -1
#: Numbers a row holds: start, end, lower, upper, cap, radius, then centre (3) and first (3).
WIDTH = 12
#: Numbers a box holds: five mins, then five maxs.
BOX = 10


def _numbers(volume: Volume4D) -> tuple[float, ...]:
    footprint, window, band = volume.footprint, volume.window, volume.altitude
    return (
        window.start_s,
        window.end_s,
        band.lower_m,
        band.upper_m,
        footprint.cap_rad,
        footprint.radius_m,
        *footprint.centre.tolist(),
        *footprint.core_vectors[0].tolist(),
    )


def numbers_of(windows: Array, bands: Array, footprints: Array) -> Array:
    """The rows (n x :data:`WIDTH`) of volumes given as arrays: their windows (start, end),
    bands (lower, upper) and footprints' numbers (:data:`deconflict.geo.bulk.SUMMARY`), what
    the store's bulk reader built them from; the same as :func:`_numbers` reads each."""
    if not len(windows) == len(bands) == len(footprints):
        raise ValueError("windows, bands and footprints must be as many")
    return np.concatenate((windows, bands, footprints), axis=1).reshape(len(windows), WIDTH)


@dataclass(frozen=True, slots=True)
class Rows:
    """Some volumes' numbers (n x :data:`WIDTH`, or :data:`WIDTH` for one) and party codes."""

    numbers: Array
    party: NDArray[np.int32]

    @classmethod
    def of(cls, volumes: Sequence[Volume4D], parties: Sequence[int]) -> Rows:
        """The rows of ``volumes``, owned by the parties coded ``parties``."""
        numbers = np.array([_numbers(v) for v in volumes], dtype=np.float64)
        return cls(numbers.reshape(len(volumes), WIDTH), np.array(parties, dtype=np.int32))

    @classmethod
    def one(cls, volume: Volume4D, party: int) -> Rows:
        """The single row of ``volume``: fields that are numbers, which broadcast."""
        return cls(np.array(_numbers(volume)), np.array(party, dtype=np.int32))

    def take(self, which: NDArray[Any]) -> Rows:
        """The rows at ``which`` (indices or a mask)."""
        return Rows(self.numbers[which], self.party[which])

    @property
    def start_s(self) -> Array:
        return self.numbers[..., 0]

    @property
    def end_s(self) -> Array:
        return self.numbers[..., 1]

    @property
    def lower_m(self) -> Array:
        return self.numbers[..., 2]

    @property
    def upper_m(self) -> Array:
        return self.numbers[..., 3]

    @property
    def cap_rad(self) -> Array:
        return self.numbers[..., 4]

    @property
    def radius_m(self) -> Array:
        return self.numbers[..., 5]

    @property
    def lows(self) -> Array:
        """The start and the lower altitude, side by side."""
        return self.numbers[..., 0:4:2]

    @property
    def highs(self) -> Array:
        """The end and the upper altitude, side by side."""
        return self.numbers[..., 1:4:2]

    @property
    def vectors(self) -> Array:
        """The centre and the first vertex's n-vector, side by side."""
        return self.numbers[..., 6:12]

    @property
    def centre(self) -> Array:
        return self.numbers[..., 6:9]

    @property
    def first(self) -> Array:
        return self.numbers[..., 9:12]


class Table:
    """Rows by slot, and the party codes. Slots are handed out here: a freed one first, else
    the next new one."""

    def __init__(self) -> None:
        self._numbers = np.zeros((0, WIDTH))
        self._boxes = np.zeros((0, BOX))
        self._party = np.zeros(0, dtype=np.int32)
        self._next = 0
        self._free: list[int] = []
        self._codes: dict[str, int] = {}
        self._names: list[str] = []

    def code(self, party: str | None) -> int:
        """The code of ``party`` (:data:`NO_PARTY` for one never put, or None)."""
        return NO_PARTY if party is None else self._codes.get(party, NO_PARTY)

    def name(self, code: int) -> str:
        return self._names[code]

    def party_of(self, slot: int) -> str:
        """The party of the volume in ``slot``."""
        return self._names[int(self._party[slot])]

    def _code_for(self, party: str) -> int:
        code = self._codes.get(party)
        if code is None:
            code = self._codes[party] = len(self._names)
            self._names.append(party)
        return code

    def put(
        self,
        volumes: Sequence[Volume4D] | Sized,
        parties: Sequence[str],
        numbers: Array | None = None,
    ) -> NDArray[np.intp]:
        """Store ``volumes`` (of ``parties``) in free or new slots; the slots, in order.
        ``numbers``: their rows when the caller has them (:func:`numbers_of`), else read here
        (then ``volumes`` must be volumes, not only a count of them)."""
        count = len(volumes)
        reused = [self._free.pop() for _ in range(min(count, len(self._free)))]
        fresh = range(self._next, self._next + count - len(reused))
        self._next += len(fresh)
        slots = np.array([*reused, *fresh], dtype=np.intp)
        self._reserve(self._next)
        if numbers is None:
            assert isinstance(volumes, Sequence)
            self._numbers[slots] = [_numbers(v) for v in volumes]
        else:
            self._numbers[slots] = numbers
        self._party[slots] = [self._code_for(p) for p in parties]
        return slots

    def put_one(self, volume: Volume4D, party: str, box: tuple[float, ...]) -> int:
        """:meth:`put` for one volume, with its box, without the arrays a bulk needs (a third
        of the time)."""
        if self._free:
            slot = self._free.pop()
        else:
            slot, self._next = self._next, self._next + 1
            self._reserve(self._next)
        self._numbers[slot] = _numbers(volume)
        self._party[slot] = self._code_for(party)
        self._boxes[slot] = box
        return slot

    def set_boxes(self, slots: NDArray[np.intp], mins: Array, maxs: Array) -> None:
        """Keep the boxes (n x 5 mins, n x 5 maxs) the tree stores for ``slots``."""
        self._boxes[slots, :5] = mins
        self._boxes[slots, 5:] = maxs

    def box(self, slot: int) -> tuple[float, ...]:
        """The box kept for ``slot``, interleaved (mins, then maxs), as the tree takes it."""
        return tuple(self._boxes[slot].tolist())

    def free(self, slot: int) -> None:
        """Give ``slot`` back (its row is stale until the slot is put again)."""
        self._free.append(slot)

    def rows(self, slots: NDArray[np.intp]) -> Rows:
        return Rows(self._numbers[slots], self._party[slots])

    def _reserve(self, size: int) -> None:
        capacity = len(self._party)
        if size <= capacity:
            return
        capacity = max(size, 2 * capacity, 64)
        numbers, boxes = np.zeros((capacity, WIDTH)), np.zeros((capacity, BOX))
        party = np.full(capacity, NO_PARTY, np.int32)
        used = len(self._party)
        numbers[:used], boxes[:used], party[:used] = self._numbers, self._boxes, self._party
        self._numbers, self._boxes, self._party = numbers, boxes, party
