"""Volumes kept as arrays, each made an object only when it is asked for.

A hub's detector holds every live volume; at its start it reads them all back from the store
(:mod:`deconflict.geo.bulk`, :mod:`deconflict.store.codec`). What its index needs of most of them
is numbers (windows, bands, each footprint's bounding cap), which it keeps in columns of its own;
the outline of a footprint only when a query's candidate gets as far as the exact stage, and the
:class:`~deconflict.geo.Volume4D` only when a conflict names it. So the volumes read back are kept
here as the arrays they were built from (a page of them: one array of every core point, the
offsets of each footprint's, its kind, width, cap and centre; the ids; the four numbers), and
the object made from them when asked for is the one building it then would have made, to the
last bit (``tests/geo/test_packed.py``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deconflict.geo.footprint import Circle, Corridor, Footprint, Polygon
from deconflict.geo.volume import Volume4D, checked_volumes

__all__ = ["KINDS", "PackedFootprints", "PackedVolumes", "VolumeShelf", "join", "pack"]

Array = NDArray[np.float64]
Index = NDArray[np.intp]

#: The footprint classes, by the code :attr:`PackedFootprints.kinds` gives them.
KINDS: tuple[type[Footprint], ...] = (Circle, Corridor, Polygon)

#: Every integer under it a float holds exactly: a number read as an integer and kept as a
#: float is given back as that integer only under it.
_EXACT = 2.0**53


@dataclass(frozen=True, slots=True)
class PackedFootprints:
    """n footprints as arrays: ``table`` every core point (lon, lat, then its n-vector), each
    footprint's rows ``offsets[i]:offsets[i + 1]``, its kind (an index into :data:`KINDS`), its
    width (``radius_m``), the angular radius of its bounding cap and its centre's n-vector;
    ``given`` the rows of a footprint's given positions where points were added between them
    (densified), and ``built`` the footprints made by their constructor already (those the
    fast path leaves to it: their rows in the arrays are not read)."""

    table: Array
    offsets: Index
    kinds: NDArray[np.uint8]
    widths: Array
    caps: Array
    centres: Array
    given: dict[int, Index]
    built: dict[int, Footprint]

    def __len__(self) -> int:
        return len(self.kinds)

    def footprint(self, i: int) -> Footprint:
        """The ``i``-th footprint, made now (a new object at each call)."""
        made = self.built.get(i)
        if made is not None:
            return made
        first, last = int(self.offsets[i]), int(self.offsets[i + 1])
        return KINDS[int(self.kinds[i])].assemble(
            float(self.widths[i]),
            self.table[first:last],
            None if last - first == 1 else self.centres[i],
            float(self.caps[i]),
            self.given.get(i),
        )

    def split(self, size: int) -> list[PackedFootprints]:
        """These footprints in parts of ``size`` (the last may be smaller), each as arrays of
        its own (copies: the whole's may then be let go)."""
        given, built = _by_part(self.given, size), _by_part(self.built, size)
        out = []
        for number, first in enumerate(range(0, len(self), size)):
            last = min(first + size, len(self))
            start, end = int(self.offsets[first]), int(self.offsets[last])
            out.append(
                PackedFootprints(
                    self.table[start:end].copy(),
                    self.offsets[first : last + 1] - start,
                    self.kinds[first:last].copy(),
                    self.widths[first:last].copy(),
                    self.caps[first:last].copy(),
                    self.centres[first:last].copy(),
                    given.get(number, {}),
                    built.get(number, {}),
                )
            )
        return out

    def take(self, rows: Index) -> PackedFootprints:
        """The footprints at ``rows`` (distinct), in that order, as arrays of their own."""
        rows = np.asarray(rows, dtype=np.intp)
        starts = self.offsets[rows]
        lengths = self.offsets[rows + 1] - starts
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.intp)
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        moved = _moved(rows, len(self), (*self.given, *self.built))
        return PackedFootprints(
            self.table[gather],
            offsets,
            self.kinds[rows],
            self.widths[rows],
            self.caps[rows],
            self.centres[rows],
            {moved[i]: self.given[i] for i in self.given if i in moved},
            {moved[i]: self.built[i] for i in self.built if i in moved},
        )


@dataclass(frozen=True, slots=True)
class PackedVolumes:
    """n volumes as arrays: their footprints, ids, and numbers (lower_m, upper_m, start_s,
    end_s, n x 4) with which of them were read as integers (``whole``, n x 4): a volume made
    from them holds an integer where the text it was read from held one, as reading it again
    would give. The caller has checked the numbers as the volume's parts check theirs
    (:func:`~deconflict.geo.volume.checked_volumes`), and that an integer is under
    :data:`_EXACT` (else it keeps the volume in ``made``)."""

    footprints: PackedFootprints
    ids: list[str]
    numbers: Array
    whole: NDArray[np.bool_]
    made: dict[int, Volume4D]

    def __len__(self) -> int:
        return len(self.ids)

    def footprint(self, i: int) -> Footprint:
        made = self.made.get(i)
        return made.footprint if made is not None else self.footprints.footprint(i)

    def volume(self, i: int) -> Volume4D:
        """The ``i``-th volume, made now (a new object at each call)."""
        made = self.made.get(i)
        if made is not None:
            return made
        row: list[Any] = self.numbers[i].tolist()
        for at in np.flatnonzero(self.whole[i]).tolist():
            row[at] = int(row[at])
        return checked_volumes([self.ids[i]], [self.footprints.footprint(i)], [row])[0]

    def volumes(self) -> list[Volume4D]:
        """Every volume, made now."""
        return [self.volume(i) for i in range(len(self))]

    def split(self, size: int) -> list[PackedVolumes]:
        """These volumes in parts of ``size`` (the last may be smaller), each as arrays of its
        own (copies)."""
        made = _by_part(self.made, size)
        return [
            PackedVolumes(
                footprints,
                self.ids[first : first + size],
                self.numbers[first : first + size].copy(),
                self.whole[first : first + size].copy(),
                made.get(number, {}),
            )
            for number, (first, footprints) in enumerate(
                zip(range(0, len(self), size), self.footprints.split(size), strict=True)
            )
        ]

    def take(self, rows: Index) -> PackedVolumes:
        """The volumes at ``rows`` (distinct), in that order, as arrays of their own."""
        rows = np.asarray(rows, dtype=np.intp)
        moved = _moved(rows, len(self), self.made)
        return PackedVolumes(
            self.footprints.take(rows),
            [self.ids[i] for i in rows.tolist()],
            self.numbers[rows],
            self.whole[rows],
            {moved[i]: volume for i, volume in self.made.items() if i in moved},
        )

    @property
    def windows(self) -> Array:
        """Each volume's (start_s, end_s), n x 2."""
        return self.numbers[:, 2:4]

    @property
    def bands(self) -> Array:
        """Each volume's (lower_m, upper_m), n x 2."""
        return self.numbers[:, 0:2]


def _by_part(found: dict[int, Any], size: int) -> dict[int, dict[int, Any]]:
    """``found`` (by place) split by part of ``size``, each by its place in its part."""
    parts: dict[int, dict[int, Any]] = {}
    for i, value in found.items():
        parts.setdefault(i // size, {})[i % size] = value
    return parts


def _moved(rows: Index, size: int, wanted: Sequence[int] | dict[int, Any]) -> dict[int, int]:
    """Where each of ``wanted`` (places among ``size``) is in ``rows``, for those it is in."""
    if not wanted:
        return {}
    where = np.full(size, -1, dtype=np.intp)
    where[rows] = np.arange(len(rows))
    return {i: at for i in wanted if (at := int(where[i])) >= 0}


def pack(volumes: Sequence[Volume4D]) -> PackedVolumes:
    """Volumes made as objects, as arrays: each volume made from them again is equal to its
    own, its numbers of the same types (one whose integer a float does not hold exactly is
    kept as it is, in ``made``)."""
    parts = [volume.footprint.parts() for volume in volumes]
    counts = [len(points) for _, points, _, _, _ in parts]
    offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.intp))).astype(np.intp)
    given = {i: part[4] for i, part in enumerate(parts) if part[4] is not None}
    footprints = PackedFootprints(
        np.concatenate([points for _, points, _, _, _ in parts]) if parts else np.empty((0, 5)),
        offsets,
        np.array([KINDS.index(type(v.footprint)) for v in volumes], dtype=np.uint8),
        np.array([width for width, _, _, _, _ in parts], dtype=np.float64),
        np.array([cap for _, _, _, cap, _ in parts], dtype=np.float64),
        np.array([centre for _, _, centre, _, _ in parts], dtype=np.float64).reshape(-1, 3),
        given,
        {},
    )
    values = [
        (v.altitude.lower_m, v.altitude.upper_m, v.window.start_s, v.window.end_s) for v in volumes
    ]
    numbers, whole, _ = whole_numbers(values)
    inexact = np.flatnonzero((np.abs(numbers) >= _EXACT) & whole)
    made = {i: volumes[i] for i in np.unique(inexact // 4).tolist()}
    return PackedVolumes(footprints, [v.id for v in volumes], numbers, whole, made)


def join(pages: Sequence[PackedVolumes]) -> PackedVolumes:
    """Pages of volumes as one, in order."""
    bases = [0, *accumulate(len(page) for page in pages)]
    points = [0, *accumulate(len(page.footprints.table) for page in pages)]
    parts = [page.footprints for page in pages]

    def shifted(maps: Sequence[dict[int, Any]]) -> dict[int, Any]:
        return {
            base + i: value for base, m in zip(bases, maps, strict=False) for i, value in m.items()
        }

    footprints = PackedFootprints(
        np.concatenate([p.table for p in parts]) if parts else np.empty((0, 5)),
        np.concatenate(
            [[0], *[p.offsets[1:] + start for p, start in zip(parts, points, strict=False)]]
        ).astype(np.intp),
        np.concatenate([p.kinds for p in parts]) if parts else np.empty(0, np.uint8),
        np.concatenate([p.widths for p in parts]) if parts else np.empty(0),
        np.concatenate([p.caps for p in parts]) if parts else np.empty(0),
        np.concatenate([p.centres for p in parts]) if parts else np.empty((0, 3)),
        shifted([p.given for p in parts]),
        shifted([p.built for p in parts]),
    )
    return PackedVolumes(
        footprints,
        [i for page in pages for i in page.ids],
        np.concatenate([page.numbers for page in pages]) if pages else np.empty((0, 4)),
        np.concatenate([page.whole for page in pages]) if pages else np.empty((0, 4), np.bool_),
        shifted([page.made for page in pages]),
    )


def whole_numbers(values: Sequence[Sequence[Any]]) -> tuple[Array, NDArray[np.bool_], bool]:
    """Rows of numbers as a float array, which were integers, and whether every integer is
    held exactly (under :data:`_EXACT`); the caller has checked they are all ints or floats."""
    numbers = np.array(values, dtype=np.float64).reshape(len(values), 4)
    whole = np.array([[type(n) is int for n in row] for row in values], dtype=np.bool_)
    whole = whole.reshape(len(values), 4)
    # Strictly under 2**53: an integer of 2**53 + 1 is the float 2**53 (held exactly would
    # wrongly say so); under it, the float is the integer.
    exact = bool((np.abs(numbers[whole]) < _EXACT).all())
    return numbers, whole, exact


class VolumeShelf:
    """Pages of :class:`PackedVolumes` numbered as one sequence (the index's first slots). A
    volume no longer wanted is released (:meth:`release`); a page whose every volume is, is let
    go: a hub's notices end, and the arrays of those it read at its start must not outlive
    them."""

    __slots__ = ("_pages", "_released", "_starts", "_wanted")

    def __init__(self, pages: Sequence[PackedVolumes]) -> None:
        self._pages: list[PackedVolumes | None] = [page for page in pages if len(page)]
        self._wanted = [len(page) for page in self._pages if page is not None]
        self._starts = [0, *accumulate(self._wanted)]
        self._released = np.zeros(self._starts[-1], dtype=np.bool_)

    def __len__(self) -> int:
        return self._starts[-1]

    @property
    def pages_held(self) -> int:
        """How many pages are still held (a page goes once all its volumes are released)."""
        return sum(page is not None for page in self._pages)

    def _page_of(self, i: int) -> int:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return bisect_right(self._starts, i) - 1

    def _find(self, i: int) -> tuple[PackedVolumes, int]:
        number = self._page_of(i)
        page = self._pages[number]
        if page is None or self._released[i]:
            raise LookupError(f"volume {i} of the shelf was released")
        return page, i - self._starts[number]

    def volume(self, i: int) -> Volume4D:
        page, at = self._find(i)
        return page.volume(at)

    def footprint(self, i: int) -> Footprint:
        page, at = self._find(i)
        return page.footprint(at)

    def held(self, slots: Index) -> NDArray[np.bool_]:
        """Which of ``slots`` (not negative) are volumes of the shelf still held."""
        slots = np.asarray(slots, dtype=np.intp)
        inside = slots < len(self)
        held = np.zeros(len(slots), dtype=np.bool_)
        held[inside] = ~self._released[slots[inside]]
        return held

    def take(self, slots: Index) -> PackedVolumes:
        """The held volumes at ``slots`` (ascending, distinct), as one page of their own."""
        return join(self.parts(slots))

    def parts(self, slots: Index) -> list[PackedVolumes]:
        """:meth:`take` in parts, a page each, for the caller to join with others: a page
        whose every volume is asked for is given as it is (shared: :func:`join` copies)."""
        slots = np.asarray(slots, dtype=np.intp)
        if (np.diff(slots) <= 0).any():
            raise ValueError("slots must be ascending and distinct")
        if not len(slots):
            return []
        pages = np.searchsorted(self._starts, slots, side="right") - 1
        numbers, firsts = np.unique(pages, return_index=True)
        taken = []
        for number, first, end in zip(
            numbers.tolist(), firsts.tolist(), [*firsts[1:].tolist(), len(slots)], strict=True
        ):
            page = self._pages[number]
            which = slots[first:end]
            if page is None or self._released[which].any():
                raise LookupError(f"a volume of page {number} of the shelf was released")
            whole = len(which) == len(page)
            taken.append(page if whole else page.take(which - self._starts[number]))
        return taken

    def release(self, i: int) -> None:
        """Volume ``i`` is no longer wanted (again: nothing)."""
        number = self._page_of(i)
        if self._released[i]:
            return
        self._released[i] = True
        self._wanted[number] -= 1
        if not self._wanted[number]:
            self._pages[number] = None
