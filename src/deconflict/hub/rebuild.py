"""The detector's index built at its start: from the store's records, or from its index file;
and what is written to that file.

Either way the result is a :class:`Rebuilt`: the engine's index of every volume live at the
detector's cursor, and what the detector keeps of each volume's side (a row by the index's slot,
made a ``Side`` when asked for) and of each record (its volumes' keys). From the store
(:func:`from_store`), every live record is read, a page at a time, and its volumes decoded into
arrays; from the index file (:func:`from_snapshot`, :mod:`deconflict.hub.index_file`) the arrays
are read back as they were written, and the detector applies the change log's rows after the
file's position (``Detector.rebuild``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from array import array
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from deconflict.engine import VolumeIndex
from deconflict.engine.columns import numbers_of
from deconflict.geo.packed import PackedVolumes, VolumeShelf
from deconflict.hub.collection import collection_paused
from deconflict.hub.index_file import IndexFileRefused, IndexSnapshot, read_index
from deconflict.model import RecordKind, Side
from deconflict.store import Change, ChangeLog, LivePage, Units
from deconflict.store.codec import volume_columns_from_json_many

__all__ = [
    "PAGE",
    "REPLAY_MAX",
    "Rebuilt",
    "RebuiltSides",
    "RecordKeys",
    "Row",
    "from_file",
    "from_snapshot",
    "from_store",
    "keys_of",
    "prefix",
    "record_keys",
    "snapshot_of",
]

PAGE = 10_000  # records a query while the index is rebuilt from the store; volumes a shelf page
#: The most change-log rows the index file may be behind the store's cursor: further, reading
#: the record each names, one at a time, costs more than rebuilding from the store.
REPLAY_MAX = 200_000

log = logging.getLogger("deconflict.detector")

#: A rebuilt volume's side, as kept: its keys' prefix (kind and record key: see prefix), the
#: record's version, the volume's id and the party (each str shared with what else holds it).
Row = tuple[str, int, str, str]


#: A record's volumes' keys as the detector keeps them, by the keys' prefix: the key itself for a
#: record of one volume (most are; a tuple of one costs 48 bytes more a volume), else a tuple.
RecordKeys = str | tuple[str, ...]


def record_keys(keys: list[str]) -> RecordKeys:
    return keys[0] if len(keys) == 1 else tuple(keys)


def keys_of(kept: RecordKeys) -> tuple[str, ...]:
    """The keys :func:`record_keys` kept."""
    return (kept,) if isinstance(kept, str) else kept


def prefix(kind: RecordKind, record_key: str) -> str:
    """What the index keys of a record's volumes begin with (:attr:`Side.key`)."""
    return f"{kind}:{record_key}:"


class RebuiltSides:
    """What the detector keeps of each rebuilt volume's side, by the index's slot, as columns:
    the keys' prefixes, the record's versions (an array), the volumes' ids and the parties
    (each str shared with what else holds it): four words a volume, where a tuple a volume
    cost ten (tracemalloc, 10^5 volumes: docs/benchmarks.md). A slot's row is read only while
    the rebuilt volume is indexed there: the detector registers (``Detector._sides``) every
    volume it indexes after the rebuild, and asks those first."""

    __slots__ = ("_ids", "_parties", "_prefixes", "_versions")

    def __init__(self) -> None:
        self._prefixes: list[str] = []
        self._versions = array("q")
        self._ids: list[str] = []
        self._parties: list[str] = []

    @classmethod
    def of(
        cls, prefixes: list[str], versions: list[int], ids: list[str], parties: list[str]
    ) -> RebuiltSides:
        """The sides at slots 0, 1, ... (it keeps the lists given, and never changes them)."""
        if not len(prefixes) == len(versions) == len(ids) == len(parties):
            raise ValueError("prefixes, versions, ids and parties must be as many")
        sides = cls()
        sides._prefixes, sides._ids, sides._parties = prefixes, ids, parties
        sides._versions.extend(versions)
        return sides

    def row(self, slot: int) -> Row | None:
        """The side rebuilt at ``slot`` (prefix, version, volume id, party); None past the
        rebuild's slots."""
        if slot >= len(self._prefixes):
            return None
        return self._prefixes[slot], self._versions[slot], self._ids[slot], self._parties[slot]


@dataclass
class Rebuilt:
    """An index and what the detector keeps beside it: ``rows`` by the index's slot (a bulk
    load's are its order), ``keys`` each record's volumes' keys by their prefix; ``times``
    the seconds each part took (and, for the log, ``from_file`` 1 or 0, a file's position and
    the rows after it); ``position``: the change-log position the index stands at, when it
    was read from a file (None: the store's cursor)."""

    index: VolumeIndex
    rows: RebuiltSides
    keys: dict[str, RecordKeys]
    times: dict[str, float] = field(default_factory=dict)
    position: int | None = None


class _Store(ChangeLog, Units, Protocol):
    """The log's live records, and a twin of the store to read the next page on."""


def from_store(store: _Store, cursor: int, progress: Callable[[], None] | None) -> Rebuilt:
    """Index every record live at ``cursor``, at its version then. The store gives them a page
    of :data:`PAGE` at a time, each in two queries (:meth:`ChangeLog.live_records`), not one
    read a record, the next page read while this one is decoded; a page's volumes are read
    together into arrays (:func:`~deconflict.store.codec.volume_columns_from_json_many`),
    kept so on a shelf (a volume made an object when a query needs it), and every volume goes
    to the engine at once, whose bulk load is far faster than one insert a volume.
    ``progress`` is called after each page (a lease keeper's sign of life)."""
    times = dict.fromkeys(("read_s", "volumes_s", "sides_s", "index_s"), 0.0)
    keys: dict[str, RecordKeys] = {}
    named: dict[str, str] = {}
    indexed: list[str] = []  # the volumes' keys; by slot, as the four below
    firsts: list[str] = []
    versions: list[int] = []
    volume_ids: list[str] = []
    parties: list[str] = []
    shelf: list[PackedVolumes] = []  # the volumes, as arrays, a page each
    numbers: list[NDArray[np.float64]] = []  # the volumes' rows, a page each
    waited = [0.0]
    with collection_paused(), contextlib.closing(_pages(store, cursor, waited)) as pages:
        for page in pages:
            started = time.perf_counter()
            columns = volume_columns_from_json_many([r.volumes for r in page.records])
            shelf.append(columns.packed)
            numbers.append(numbers_of(columns.windows, columns.bands, columns.footprints))
            decoded = time.perf_counter()
            ids = iter(columns.packed.ids)
            volume_ids.extend(columns.packed.ids)
            for record, count in zip(page.records, columns.counts, strict=True):
                party = named.setdefault(record.party, record.party)  # one str a party
                first = prefix(record.kind, record.key)
                own = [first + v for v in islice(ids, count)]
                keys[first] = record_keys(own)
                indexed.extend(own)
                firsts.extend(repeat(first, count))
                versions.extend(repeat(record.version, count))
                parties.extend(repeat(party, count))
            times["volumes_s"] += decoded - started
            times["sides_s"] += time.perf_counter() - decoded
            if progress is not None:
                progress()
        times["read_s"] = waited[0]
        started = time.perf_counter()
        index = VolumeIndex.of(
            indexed, parties, VolumeShelf(shelf), np.concatenate(numbers) if numbers else None
        )
        times["index_s"] = time.perf_counter() - started
    times["from_file"] = 0.0
    return Rebuilt(index, RebuiltSides.of(firsts, versions, volume_ids, parties), keys, times)


def _pages(store: _Store, cursor: int, waited: list[float]) -> Generator[LivePage, None, None]:
    """The pages of the records live at ``cursor``, each next one read on a store of its
    own, on a thread of its own, while the caller decodes this one (the driver waits on the
    database, and SQLite's steps run, without holding the interpreter); the seconds spent
    waiting for them added to ``waited[0]``."""
    reader = store.twin()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="rebuild-read") as pool:
            coming = pool.submit(reader.live_records, cursor, None, PAGE)
            while True:
                started = time.perf_counter()
                page = coming.result()
                waited[0] += time.perf_counter() - started
                if page.after is not None:
                    coming = pool.submit(reader.live_records, cursor, page.after, PAGE)
                yield page
                if page.after is None:
                    return
    finally:
        reader.close()


def from_snapshot(snapshot: IndexSnapshot) -> Rebuilt:
    """The index an index file holds (as it stood at the file's position), its volumes kept
    on a shelf of pages of :data:`PAGE` (a page let go once its volumes are all removed)."""
    times = dict.fromkeys(("read_s", "volumes_s", "sides_s", "index_s"), 0.0)
    with collection_paused():
        started = time.perf_counter()
        volumes = snapshot.volumes
        pages = volumes.split(PAGE)
        decoded = time.perf_counter()
        ids, prefixes = volumes.ids, snapshot.prefixes
        keys = [p + v for p, v in zip(prefixes, ids, strict=True)]
        rows = RebuiltSides.of(prefixes, snapshot.versions.tolist(), ids, snapshot.parties)
        grouped: dict[str, list[str]] = {}
        for first, key in zip(prefixes, keys, strict=True):
            grouped.setdefault(first, []).append(key)
        by_record = {first: record_keys(own) for first, own in grouped.items()}
        named = time.perf_counter()
        index = VolumeIndex.of(keys, snapshot.parties, VolumeShelf(pages), snapshot.numbers)
        times["index_s"] = time.perf_counter() - named
    times["volumes_s"], times["sides_s"] = decoded - started, named - decoded
    return Rebuilt(index, rows, by_record, times)


def from_file(
    store: ChangeLog, path: Path, key: bytes, cursor: int, progress: Callable[[], None] | None
) -> Rebuilt | None:
    """The index as the index file ``path`` holds it, if there is one and it holds for this
    store at ``cursor``: its tag the ``key``'s, its position's change-log row the store's, no
    more than :data:`REPLAY_MAX` rows behind (the rows after it are for the caller to apply:
    ``position``); else None, logged with the reason when
    there was a file."""
    started = time.perf_counter()
    try:
        snapshot = read_index(path, key)
        if snapshot is None:
            return None
        _check_position(store, snapshot, cursor)
    except IndexFileRefused as error:
        _refused(str(error))
        return None
    read_s = time.perf_counter() - started
    if progress is not None:
        progress()
    try:
        rebuilt = from_snapshot(snapshot)
    except Exception as error:  # a file of this format, tagged, that does not load
        _refused(f"{path}: it does not load ({type(error).__name__}: {error})")
        return None
    rebuilt.position = snapshot.cursor
    rebuilt.times.update(read_s=read_s, from_file=1.0, position=float(snapshot.cursor))
    rebuilt.times["replayed"] = float(cursor - snapshot.cursor)
    return rebuilt


def _check_position(store: ChangeLog, snapshot: IndexSnapshot, cursor: int) -> None:
    """That the store is the one ``snapshot`` was taken of, its log past the snapshot's
    position by no more than :data:`REPLAY_MAX` rows."""
    if snapshot.cursor > cursor:
        raise IndexFileRefused(
            f"it is at change {snapshot.cursor}, the store's detector at {cursor}: "
            "the store was restored or replaced"
        )
    if cursor - snapshot.cursor > REPLAY_MAX:
        raise IndexFileRefused(
            f"it is {cursor - snapshot.cursor} changes behind the store (over {REPLAY_MAX})"
        )
    there = store.changes_after(snapshot.cursor - 1, 1)
    if not there or _fingerprint(there[0]) != snapshot.change:
        raise IndexFileRefused(
            f"the store's change {snapshot.cursor} is not the one it was written at: "
            "another store, or one restored and written again"
        )


def snapshot_of(
    store: ChangeLog,
    index: VolumeIndex,
    sides: dict[str, Side],
    rows: RebuiltSides,
    cursor: int,
) -> IndexSnapshot | None:
    """The detector's index as it stands at ``cursor`` (stored as its cursor), for its file:
    each volume's arrays, numbers row, party, and its side's key prefix and version (from
    ``sides`` registered since the rebuild, else the rebuild's ``rows`` by slot); a copy, which
    shares nothing the detector goes on changing. None before anything was detected."""
    there = store.changes_after(cursor - 1, 1) if cursor > 0 else []
    if not there:
        return None
    packed = index.packed()
    versions, prefixes = [], []
    for slot, key in zip(packed.slots.tolist(), packed.keys, strict=True):
        side = sides.get(key)
        if side is not None:  # registered since the rebuild
            versions.append(side.version)
            prefixes.append(key[: len(key) - len(side.volume_id)])
        else:
            row = rows.row(slot)
            assert row is not None  # every indexed volume has its side
            prefixes.append(row[0])
            versions.append(row[1])
    return IndexSnapshot(
        cursor,
        _fingerprint(there[0]),
        prefixes,
        np.array(versions, dtype=np.int64),
        packed.parties,
        packed.volumes,
        packed.numbers,
    )


def _refused(why: str) -> None:
    """Log that the index file is not used, and why (the index is rebuilt from the store)."""
    log.warning(json.dumps({"event": "index.file", "change": "refused", "why": why}))


def _fingerprint(change: Change) -> tuple[Any, ...]:
    """What names a change-log row in an index file (:class:`IndexSnapshot`)."""
    return (change.seq, change.kind, change.entity_id, change.at_s, change.version, change.state)
