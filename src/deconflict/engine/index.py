"""The in-memory spatio-temporal index: incremental insert and remove, conflict queries.

Two stages, as everywhere. The coarse stage is an R-tree (libspatialindex, through ``rtree``) over
5D boxes: the n-vector box of each footprint's bounding cap (x, y, z on the unit sphere, so the
antimeridian and the poles need no special case), the altitude band and the time window. A query
box is the query volume's box grown by the separation minima. Every candidate is then tested
exactly by the rule of :func:`deconflict.engine.rule.conflicts`, for all of a query's candidates
at once: the tests that need no outline over the index's columns
(:func:`deconflict.engine.rule.screen`, :mod:`deconflict.engine.columns`), then the exact
horizontal stage for the pairs they leave, in one frame a query
(:func:`deconflict.geo.separation.apart_many`).

All pairs are one sweep: the grown boxes of a chunk of volumes asked of the tree in one bulk
call, and the candidate pairs judged in arrays as a query's candidates are.

Pure: no I/O, no clock. The caller owns keys (strings) and parties; two volumes of the same party
never conflict.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np
from numpy.typing import NDArray
from rtree import index as rtree_index

from deconflict.engine.columns import Rows, Table
from deconflict.engine.rule import ZERO_MINIMA, SeparationMinima, screen
from deconflict.geo import Volume4D
from deconflict.geo.footprint import Footprint
from deconflict.geo.packed import PackedVolumes, VolumeShelf, join, pack
from deconflict.geo.separation import apart_many, apart_pairs
from deconflict.geo.sphere import cap_box, metres_to_angle

__all__ = ["Entry", "Packed", "PairMinima", "VolumeIndex"]

#: Volumes whose boxes one bulk call of the sweep asks the tree for: their candidate pairs (some
#: hundreds each in a busy hub) are held at once.
_SWEEP_CHUNK = 4096

#: Minima for a pair of parties, or None when the pair is not to be checked.
PairMinima = Callable[[str, str], SeparationMinima | None]

Array = NDArray[np.float64]
Slots = NDArray[np.intp]


def _sweep_parts(
    index: VolumeIndex,
    minima: SeparationMinima,
    pair_minima: PairMinima | None,
    processes: int,
) -> tuple[Slots, Slots]:
    """:meth:`VolumeIndex._sweep` in ``processes`` parts: the first here, each other in a
    process forked for it, whose pairs come back through a pipe (two arrays of slots). A part
    that fails, or a process that dies, fails the whole."""
    if processes == 1 or len(index) < _SWEEP_CHUNK * 2:
        return index._sweep(minima, pair_minima)
    context = multiprocessing.get_context("fork")
    children = []
    try:
        for part in range(1, processes):
            receiving, sending = context.Pipe(duplex=False)
            child = context.Process(
                target=_sweep_child,
                args=(index, minima, pair_minima, part, processes, sending),
                daemon=True,
            )
            child.start()
            sending.close()
            children.append((child, receiving))
        found = [index._sweep(minima, pair_minima, 0, processes)]
        for child, receiving in children:
            try:
                outcome = receiving.recv()
            except EOFError:
                child.join()
                raise RuntimeError(f"an all-pairs process died (exit {child.exitcode})") from None
            if isinstance(outcome, str):
                raise RuntimeError(f"an all-pairs process failed: {outcome}")
            found.append(outcome)
    finally:
        for child, receiving in children:
            receiving.close()
            if child.is_alive():
                child.terminate()
            child.join()
    return np.concatenate([f for f, _ in found]), np.concatenate([s for _, s in found])


def _sweep_child(
    index: VolumeIndex,
    minima: SeparationMinima,
    pair_minima: PairMinima | None,
    part: int,
    parts: int,
    sending: Connection,
) -> None:
    try:
        sending.send(index._sweep(minima, pair_minima, part, parts))
    except Exception as error:  # told to the parent, which raises it
        sending.send(f"{type(error).__name__}: {error}")
    finally:
        sending.close()


@dataclass(frozen=True, slots=True)
class Packed:
    """An index's volumes as arrays (:meth:`VolumeIndex.packed`): in step, each volume's key,
    party, numbers' row (:mod:`deconflict.engine.columns`) and the slot it was in."""

    keys: list[str]
    parties: list[str]
    volumes: PackedVolumes
    numbers: Array
    slots: Slots


@dataclass(frozen=True, slots=True)
class Entry:
    """One indexed volume: the caller's key, the owning party and the volume."""

    key: str
    party: str
    volume: Volume4D


def _boxes(rows: Rows, reach: SeparationMinima = ZERO_MINIMA) -> tuple[Array, Array]:
    """The 5D boxes of some rows grown by ``reach``: mins and maxs, n x 5 (or 5 for one row),
    in the tree's order of dimensions (see :func:`_properties`)."""
    low, high = cap_box(rows.centre, rows.cap_rad + metres_to_angle(reach.horizontal_m) + 1e-9)
    start = (rows.start_s - reach.time_s)[..., None]
    end = (rows.end_s + reach.time_s)[..., None]
    lower = (rows.lower_m - reach.vertical_m)[..., None]
    upper = (rows.upper_m + reach.vertical_m)[..., None]
    return (
        np.concatenate((low[..., :1], start, low[..., 1:], lower), axis=-1),
        np.concatenate((high[..., :1], end, high[..., 1:], upper), axis=-1),
    )


def _box(volume: Volume4D, reach: SeparationMinima = ZERO_MINIMA) -> tuple[float, ...]:
    """:func:`_boxes` of one volume (interleaved: mins then maxs), with ``math``: numpy's cost a
    call is most of what one box costs (13 µs against 2)."""
    footprint, band, window = volume.footprint, volume.altitude, volume.window
    radius = footprint.cap_rad + metres_to_angle(reach.horizontal_m) + 1e-9
    alphas = [math.acos(max(-1.0, min(1.0, c))) for c in footprint.centre.tolist()]
    low = [math.cos(min(alpha + radius, math.pi)) for alpha in alphas]
    high = [math.cos(max(alpha - radius, 0.0)) for alpha in alphas]
    return (
        low[0],
        window.start_s - reach.time_s,
        low[1],
        low[2],
        band.lower_m - reach.vertical_m,
        high[0],
        window.end_s + reach.time_s,
        high[1],
        high[2],
        band.upper_m + reach.vertical_m,
    )


def _properties() -> rtree_index.Property:
    """A 5D tree of 64-entry nodes, split quadratically (Guttman). The R* default spends most of
    an insert choosing and forcing reinsertions: 70 µs a volume where every box overlaps (one
    busy 5 km area) against 18 µs, and 48 against 28 µs among 10^5 spread ones, for queries as
    fast or faster (a bulk load sorts the boxes whatever the variant).

    A box's dimensions are the n-vector's x, time, y, z, then altitude: the bulk load packs the
    boxes in slabs of the first dimension, each slab in slabs of the second, and so on. One
    coordinate first tells the world's places apart; time next separates a busy place's volumes
    (windows of hours in a horizon of days), where its y and z move with its x and altitudes
    crowd low. At 10^6 volumes (``benchmarks.engine``'s data) the tree's part of a dense query
    is 0.08 ms against 0.24 with time last (the same 40 candidates), and of a sparse one the
    same, 0.018 ms; time first gives the dense 0.09 but the sparse 0.06."""
    properties = rtree_index.Property()
    properties.dimension = 5
    properties.leaf_capacity = 64
    properties.index_capacity = 64
    properties.variant = rtree_index.RT_Quadratic
    properties.fill_factor = 0.4  # a quadratic split's minimum fill: under 0.5
    return properties


class VolumeIndex:
    """Volumes by key, with "what conflicts with this volume" and "all conflicting pairs"."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._table = Table()
        # By slot: the key and the volume (None once removed); the party is the table's code.
        # An Entry is made when one is asked for, not kept: a million at a hub's start. The
        # volumes of a bulk load given as arrays (a shelf) stay there: a slot of the shelf's
        # whose volume is None here is made from it when asked for (see _volume).
        self._keys: list[str | None] = []
        self._volumes: list[Volume4D | None] = []
        self._shelf: VolumeShelf | None = None
        self._slots: dict[str, int] = {}
        self._tree = rtree_index.Index(properties=_properties())
        listed = list(entries)
        if listed:
            self._load(
                [e.key for e in listed], [e.party for e in listed], [e.volume for e in listed]
            )

    @classmethod
    def of(
        cls,
        keys: list[str],
        parties: list[str],
        volumes: list[Volume4D] | VolumeShelf,
        numbers: Array | None = None,
    ) -> VolumeIndex:
        """An index of ``volumes`` under ``keys``, owned by ``parties`` (three in step):
        :class:`VolumeIndex` of their entries, without making an :class:`Entry` each.
        ``numbers``: the volumes' rows, when the caller built them in arrays
        (:func:`deconflict.engine.columns.numbers_of`), else read from each volume. Volumes
        given as a shelf (arrays: :mod:`deconflict.geo.packed`, with their ``numbers``) are
        kept so, each made an object only when a query needs its outline or an entry names
        it."""
        index = cls()
        if keys:
            index._load(keys, parties, volumes, numbers)
        return index

    def _load(
        self,
        keys: list[str],
        parties: list[str],
        volumes: list[Volume4D] | VolumeShelf,
        numbers: Array | None = None,
    ) -> None:
        """Fill a new index's first slots, in order. Bulk loading (sort-tile-recursive in
        libspatialindex) from arrays of boxes computed at once is far faster, and lighter,
        than inserting one by one."""
        if not len(keys) == len(parties) == len(volumes):
            raise ValueError("keys, parties and volumes must be as many")
        self._slots = {key: slot for slot, key in enumerate(keys)}
        if len(self._slots) < len(keys):
            raise KeyError("a key is given twice")
        self._keys = list(keys)
        if isinstance(volumes, VolumeShelf):
            if numbers is None:
                raise ValueError("volumes on a shelf come with their numbers")
            self._volumes, self._shelf = [None] * len(volumes), volumes
        else:
            self._volumes = list(volumes)
        slots = self._table.put(volumes, parties, numbers)
        assert slots[-1] == len(keys) - 1  # a new table hands out 0, 1, ... in order
        mins, maxs = _boxes(self._table.rows(slots))
        self._table.set_boxes(slots, mins, maxs)
        self._tree = rtree_index.Index((slots, mins, maxs), properties=_properties())

    def _place(self, slot: int, key: str, volume: Volume4D) -> None:
        if slot >= len(self._keys):
            grow = slot + 1 - len(self._keys)
            self._keys.extend([None] * grow)
            self._volumes.extend([None] * grow)
        self._keys[slot], self._volumes[slot] = key, volume
        self._slots[key] = slot

    def _entry(self, slot: int) -> Entry:
        key = self._keys[slot]
        assert key is not None  # a live slot
        return Entry(key, self._table.party_of(slot), self._volume(slot))

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def __iter__(self) -> Iterator[Entry]:
        return (self._entry(slot) for slot in self._slots.values())

    def packed(self) -> Packed:
        """Every indexed volume as arrays, with its key, its party and its numbers' row: what
        :meth:`of` takes to make this index again (a snapshot of it), and the slots they were
        in. The volumes still on the shelf come first, in slot order, taken from its arrays;
        those inserted since, packed from their objects."""
        live = np.fromiter(self._slots.values(), np.intp, len(self._slots))
        live.sort()
        shelf = self._shelf
        on_shelf = shelf.held(live) if shelf is not None else np.zeros(len(live), np.bool_)
        kept, made = live[on_shelf], live[~on_shelf]
        pages = [] if shelf is None else shelf.parts(kept)  # joined once, below
        pages.append(pack([self._volume(slot) for slot in made.tolist()]))
        order = np.concatenate((kept, made))
        rows = self._table.rows(order)
        names = [self._table.name(code) for code in range(int(rows.party.max(initial=-1)) + 1)]
        keys = [self._keys[slot] for slot in order.tolist()]
        assert None not in keys  # live slots
        parties = [names[code] for code in rows.party.tolist()]
        return Packed(keys, parties, join(pages), rows.numbers, order)

    def slot(self, key: str) -> int | None:
        """The slot ``key`` is held in, None if it is not indexed: a bulk load's volumes are in
        the first slots, in the order given (a caller may keep what it knows of each by slot)."""
        return self._slots.get(key)

    def get(self, key: str) -> Entry | None:
        slot = self._slots.get(key)
        return None if slot is None else self._entry(slot)

    def insert(self, key: str, party: str, volume: Volume4D) -> None:
        """Index a volume under ``key``; a key already present is replaced."""
        if key in self._slots:
            self.remove(key)
        box = _box(volume)
        slot = self._table.put_one(volume, party, box)
        self._place(slot, key, volume)
        self._tree.insert(slot, box)

    def remove(self, key: str) -> bool:
        """Drop ``key``; False when it was not indexed."""
        slot = self._slots.pop(key, None)
        if slot is None:
            return False
        self._tree.delete(slot, self._table.box(slot))
        self._keys[slot] = self._volumes[slot] = None
        self._table.free(slot)
        if self._shelf is not None and slot < len(self._shelf):
            self._shelf.release(slot)  # its page let go with its last volume (once reused: no-op)
        return True

    def _candidate_slots(self, volume: Volume4D, reach: SeparationMinima) -> Slots:
        return np.fromiter(self._tree.intersection(_box(volume, reach)), np.intp)

    def candidates(self, volume: Volume4D, reach: SeparationMinima = ZERO_MINIMA) -> list[Entry]:
        """Entries whose boxes meet the query box: a superset of the conflicts."""
        return self._entries(self._candidate_slots(volume, reach))

    def _entries(self, slots: Slots) -> list[Entry]:
        return [self._entry(slot) for slot in slots.tolist()]

    def conflicts_with(
        self,
        volume: Volume4D,
        party: str | None = None,
        minima: SeparationMinima = ZERO_MINIMA,
        pair_minima: PairMinima | None = None,
    ) -> list[Entry]:
        """Entries of other parties that conflict with ``volume``.

        With ``pair_minima``, each pair is judged by the minima it returns for (party, other
        party), and ``minima`` must be at least as wide as any of them (it bounds the search).
        """
        slots = self._candidate_slots(volume, minima)
        if not slots.size:
            return []
        query = Rows.one(volume, self._table.code(party))
        hit = self._judge(
            query,
            np.zeros(len(slots), dtype=np.intp),
            slots,
            minima,
            pair_minima if party is not None else None,
            lambda _: party or "",
            lambda _: volume.footprint,
        )
        return self._entries(slots[hit])

    def all_pairs(
        self,
        minima: SeparationMinima = ZERO_MINIMA,
        pair_minima: PairMinima | None = None,
        *,
        processes: int = 1,
    ) -> list[tuple[Entry, Entry]]:
        """Every conflicting pair of entries of different parties, each pair once: a sweep of
        bulk tree queries, a chunk of volumes at a time, judged as a query's candidates are.

        With ``processes`` > 1 the chunks are shared out to that many processes, this one and
        others forked from it (POSIX), which read the index as it is at the call and send
        back their pairs' slots; the pairs are the same, in another order."""
        firsts, seconds = _sweep_parts(self, minima, pair_minima, max(1, processes))
        # An Entry a volume met, not one a pair's side (millions of pairs at 10^6 volumes).
        met = np.unique(np.concatenate((firsts, seconds)))
        made = dict(zip(met.tolist(), self._entries(met), strict=True))
        return [(made[a], made[b]) for a, b in zip(firsts.tolist(), seconds.tolist(), strict=True)]

    def _sweep(
        self,
        minima: SeparationMinima,
        pair_minima: PairMinima | None,
        part: int = 0,
        parts: int = 1,
    ) -> tuple[Slots, Slots]:
        """The conflicting pairs (their slots) found from the chunks ``part``, ``part + parts``,
        ... of the sweep. The volumes are swept in an order near the tree's own (by bands of
        their n-vector's x, then by start), so that one bulk query's boxes share the tree's
        nodes: a quarter less time than in the order of their slots."""
        live = np.fromiter(self._slots.values(), np.intp, len(self._slots))
        rows = self._table.rows(live)
        live = live[np.lexsort((rows.start_s, np.floor(rows.centre[:, 0] * 64.0)))]
        found: list[tuple[Slots, Slots]] = []
        for first in range(part * _SWEEP_CHUNK, len(live), parts * _SWEEP_CHUNK):
            chunk = live[first : first + _SWEEP_CHUNK]
            # rtree leaves intersection_v unannotated; it returns two int64 arrays.
            hits, counts = self._tree.intersection_v(  # type: ignore[no-untyped-call]
                *_boxes(self._table.rows(chunk), minima)
            )
            firsts = np.repeat(chunk, counts.astype(np.intp))
            seconds = hits.astype(np.intp, copy=False)
            once = seconds > firsts  # each pair from its lower slot
            firsts, seconds = firsts[once], seconds[once]
            hit = self._judge(
                self._table.rows(firsts),
                firsts,
                seconds,
                minima,
                pair_minima,
                self._table.name,
                self._footprint,
            )
            found.append((firsts[hit], seconds[hit]))
        if not found:
            empty = np.empty(0, np.intp)
            return empty, empty
        return np.concatenate([f for f, _ in found]), np.concatenate([s for _, s in found])

    def _volume(self, slot: int) -> Volume4D:
        """A live slot's volume; one of the shelf's is made now, and kept (an entry names it:
        its conflicts, as a rule, are asked for again)."""
        volume = self._volumes[slot]
        if volume is None:
            # A live slot, from the tree (a removed one's volume is None too).
            assert self._shelf is not None
            assert self._keys[slot] is not None
            volume = self._volumes[slot] = self._shelf.volume(slot)
        return volume

    def _footprint(self, slot: int) -> Footprint:
        """A live slot's footprint; one of the shelf's made now, and not kept (the exact stage
        meets most volumes once in a while, all of them in a sweep)."""
        volume = self._volumes[slot]
        if volume is not None:
            return volume.footprint
        assert self._shelf is not None  # as in _volume
        assert self._keys[slot] is not None
        return self._shelf.footprint(slot)

    def _judge(
        self,
        firsts: Rows,
        groups: Slots,
        seconds: Slots,
        minima: SeparationMinima,
        pair_minima: PairMinima | None,
        party_of: Callable[[int], str],
        footprint_of: Callable[[int], Footprint],
    ) -> NDArray[np.bool_]:
        """Which pairs (first, second) conflict: ``firsts`` one row a pair (or one row for all,
        a query), ``seconds`` the indexed slots. The exact horizontal stage runs once a group
        (``groups``: one a query, one a first volume in a sweep), in that group's frame;
        ``party_of`` names a first party's code, ``footprint_of`` gives a group's footprint."""
        rows = self._table.rows(seconds)
        keep, horizontal, vertical, time = self._rules(
            firsts.party, rows.party, minima, pair_minima, party_of
        )
        close, unsure = screen(firsts, rows, horizontal, vertical, time)
        hit = close & keep
        (pending,) = (unsure & keep).nonzero()
        if pending.size:
            if isinstance(horizontal, np.ndarray):
                thresholds = horizontal[pending]
            else:
                thresholds = np.full(pending.size, horizontal)
            mine = firsts if firsts.numbers.ndim == 1 else firsts.take(pending)
            hit[pending] = ~self._apart(
                groups[pending],
                seconds[pending],
                mine,
                rows.take(pending),
                thresholds,
                footprint_of,
            )
        return hit

    def _rules(
        self,
        first_parties: NDArray[np.int32],
        second_parties: NDArray[np.int32],
        minima: SeparationMinima,
        pair_minima: PairMinima | None,
        party_of: Callable[[int], str],
    ) -> tuple[NDArray[np.bool_], Array | float, Array | float, Array | float]:
        """Which pairs are of different parties and to be checked, and the minima of each:
        ``minima`` for all, or what ``pair_minima`` returns (asked once a pair of parties)."""
        keep = np.asarray(first_parties != second_parties)
        if pair_minima is None:
            return keep, minima.horizontal_m, minima.vertical_m, minima.time_s
        count = len(second_parties)
        keep = np.broadcast_to(keep, (count,)).copy()
        horizontal = np.full(count, minima.horizontal_m)
        vertical = np.full(count, minima.vertical_m)
        time = np.full(count, minima.time_s)
        width = int(max(first_parties.max(), second_parties.max())) + 2
        together = (first_parties.astype(np.int64) + 1) * width + second_parties
        kinds, which = np.unique(np.broadcast_to(together, (count,)), return_inverse=True)
        for kind, value in enumerate(kinds.tolist()):
            first, second = divmod(value, width)
            if first - 1 == second:
                continue  # one party: never a conflict
            rule = pair_minima(party_of(first - 1), self._table.name(second))
            where = which == kind
            if rule is None:
                keep[where] = False
            else:
                horizontal[where] = rule.horizontal_m
                vertical[where] = rule.vertical_m
                time[where] = rule.time_s
        return keep, horizontal, vertical, time

    def _apart(
        self,
        groups: Slots,
        seconds: Slots,
        first_rows: Rows,
        rows: Rows,
        thresholds_m: Array,
        footprint_of: Callable[[int], Footprint],
    ) -> NDArray[np.bool_]:
        """The exact horizontal stage for pairs the screen left (``first_rows`` and ``rows``:
        their rows; the first's one row for a query): whether each is separated by its
        threshold. A query's pairs in one frame (:func:`apart_many`); a sweep's, every pair
        in its first volume's frame, all at once (:func:`apart_pairs`)."""
        second = seconds.tolist()
        if first_rows.numbers.ndim == 1:  # a query: one group, each of its candidates once
            verdicts = apart_many(
                footprint_of(int(groups[0])),
                [self._footprint(slot) for slot in second],
                thresholds_m,
                centres=rows.centre,
                caps=rows.cap_rad,
                radii=rows.radius_m,
            )
            return np.asarray(verdicts, dtype=np.bool_)
        # A volume of the shelf is made a footprint once here, not once a pair it is in.
        made = {slot: self._footprint(slot) for slot in dict.fromkeys(second)}
        first = groups.tolist()
        mine = {slot: footprint_of(slot) for slot in dict.fromkeys(first)}
        return apart_pairs(
            [mine[slot] for slot in first],
            [made[slot] for slot in second],
            thresholds_m,
            (first_rows.centre, rows.centre),
            (first_rows.cap_rad, rows.cap_rad),
            (first_rows.radius_m, rows.radius_m),
        )
