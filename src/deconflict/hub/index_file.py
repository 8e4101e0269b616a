"""The detector's index kept in a file, so that a restart reads it back instead of rebuilding it
from every stored record.

At 10^6 live volumes the rebuild from the store reads and checks every volume's JSON again and
builds its footprint, 16-17 s on 2 cores; the arrays it ends with (:mod:`deconflict.geo.packed`)
are read back from this file in about one, and the index built from them in about five. The
detector writes it (:class:`IndexSnapshot`) at a position of the change log its cursor is stored
at, when it lets the lease go and now and then while it detects; a detector that starts reads
it, checks it, and applies the change log's rows after its position (``Detector.rebuild``). A
file that does not hold is not used: the index is rebuilt from the store, as without one, and
the log says why.

What holds. The file is the hub's, beside its other local files (``<state>.index``, mode 0600):
it holds every party's live volumes, as the database does. It ends with a keyed BLAKE2b of all
before it, the key derived from the ledger signing key (``Signer.derived_key``): a file edited,
cut short or written by another hub is refused, and forging one takes the key that signs the
ledger; the key is bound to the database's own secret by the detector, so another database's
file does not verify either. It names the release and the engine's layout it was written
under, and its parts are checked against each other before it is used. It names the change-log
row at its position (sequence, kind, record, time, version, state): a store whose row there
differs (one restored from a backup and written again since) or whose cursor is behind it, is
not the store it was written from (``hub.rebuild.from_file``). It is written to a new file,
synced and renamed over the old: a crash leaves the old one whole.

Format: a magic line; the header's length (8 bytes, little-endian) and the header (JSON: the
layout, the position, the arrays' names, types and shapes, the texts' lengths); the texts (JSON:
the volumes' ids, the records' key prefixes, the parties); any volume the arrays do not hold, as
the store writes it (the standard library's JSON); each array's bytes; the 32-byte tag. No
pickle: what is read is numbers and text.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from deconflict import __version__
from deconflict.engine.columns import WIDTH
from deconflict.errors import DeconflictError
from deconflict.geo.footprint import DENSIFY_M
from deconflict.geo.packed import KINDS, PackedFootprints, PackedVolumes
from deconflict.ledger.keyfile import read_key_file, sync_folder
from deconflict.owner_only import FILE_MODE
from deconflict.store.codec import volume_from_dict, volume_to_dict

__all__ = ["IndexFile", "IndexFileRefused", "IndexSnapshot", "read_index", "write_index"]

_MAGIC = b"deconflict index 1\n"
#: What the arrays' layout depends on: a file written under another is refused (a column added
#: to the engine's rows, a footprint kind, densifying differently, another release).
_LAYOUT = {
    "version": __version__,
    "width": WIDTH,
    "kinds": [kind.kind for kind in KINDS],
    "densify_m": DENSIFY_M,
}
_TAG = 32
_HEADER_MAX = 1 << 20
#: The least a write leaves free on its disk (or the file's size, if more): the file is a
#: cache, and the database beside it must not run out of space for it.
_LEAVE_FREE = 256 << 20
#: The array types a file may hold (little-endian, as written on every platform served).
_TYPES = {"<f8", "<i8", "<i4", "|u1", "|b1"}


class IndexFileRefused(DeconflictError):
    """An index file that is not used (the index is rebuilt from the store): the reason."""


@dataclass(frozen=True, slots=True)
class IndexFile:
    """Where a hub keeps its index, and the key its tag is made with: ``key()`` None while
    there is none (no ledger key yet): then no file is read or written."""

    path: Path
    key: Callable[[], bytes | None]

    @classmethod
    def at(cls, path: Path, ledger_key: Path) -> IndexFile:
        """The index file ``path``, tagged with a key derived from the ledger key in the file
        ``ledger_key`` (read when first needed, then kept)."""
        found: list[bytes] = []

        def key() -> bytes | None:
            if not found:
                try:
                    signer = read_key_file(ledger_key)
                except DeconflictError:
                    return None  # the ledger refuses it with its own error
                if signer is None:
                    return None
                found.append(signer.derived_key("deconflict index file"))
            return found[0]

        return cls(path, key)


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """The detector's index at change-log position ``cursor``: each indexed volume (``volumes``,
    as arrays), its record's key prefix (``Side.key`` less the volume id), version and party,
    and its row of numbers in the index (:mod:`deconflict.engine.columns`); ``change`` the
    change-log row at ``cursor`` (seq, kind, record, time, version, state), which says the
    store is the one it was taken from."""

    cursor: int
    change: tuple[Any, ...]
    prefixes: list[str]
    versions: NDArray[np.int64]
    parties: list[str]
    volumes: PackedVolumes
    numbers: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.prefixes)


def write_index(path: Path, key: bytes, snapshot: IndexSnapshot) -> int:
    """Write ``snapshot`` to ``path`` (replacing it whole, or not at all); the bytes written."""
    volumes, footprints = snapshot.volumes, snapshot.volumes.footprints
    unusual = sorted({*volumes.made, *footprints.built})  # made objects: kept as the store's JSON
    given = sorted(footprints.given)
    prefixes: dict[str, int] = {}
    prefix_of = np.array([prefixes.setdefault(p, len(prefixes)) for p in snapshot.prefixes])
    parties: dict[str, int] = {}
    party_of = np.array([parties.setdefault(p, len(parties)) for p in snapshot.parties])
    arrays: dict[str, NDArray[Any]] = {
        "table": footprints.table,
        "offsets": footprints.offsets.astype("<i8"),
        "kinds": footprints.kinds,
        "widths": footprints.widths,
        "caps": footprints.caps,
        "centres": footprints.centres,
        "given_rows": np.array(given, dtype="<i8"),
        "given_offsets": np.cumsum([0, *(len(footprints.given[i]) for i in given)], dtype="<i8"),
        "given": np.concatenate([footprints.given[i] for i in given] or [np.empty(0, np.intp)]),
        "numbers": volumes.numbers,
        "whole": volumes.whole,
        "index_numbers": snapshot.numbers,
        "versions": snapshot.versions,
        "prefix_of": prefix_of,
        "party_of": party_of,
    }
    arrays = {name: _little(a, name) for name, a in arrays.items()}
    texts = _dumps({"ids": volumes.ids, "prefixes": list(prefixes), "parties": list(parties)})
    # As the store writes them, by the standard library's JSON: integers of any size read back
    # as integers (orjson reads one past 64 bits as a float).
    odd = json.dumps([[i, volume_to_dict(volumes.volume(i))] for i in unusual]).encode()
    header = _dumps(
        {
            "layout": _LAYOUT,
            "cursor": snapshot.cursor,
            "change": list(snapshot.change),
            "count": len(snapshot),
            "arrays": [[name, a.dtype.str, list(a.shape)] for name, a in arrays.items()],
            "texts": len(texts),
            "unusual": len(odd),
        }
    )
    _forget_partials(path)
    size = sum(a.nbytes for a in arrays.values()) + len(texts) + len(odd) + len(header)
    free = shutil.disk_usage(path.parent).free
    if free - size < max(size, _LEAVE_FREE):  # the database's disk: it must not fill it
        raise OSError(
            errno.ENOSPC,
            f"{size / 1e6:,.0f} MB would leave {max(free - size, 0) / 1e6:,.0f} MB free "
            f"on the disk of {path.parent} (at least {max(size, _LEAVE_FREE) / 1e6:,.0f} are kept)",
        )
    mac = _mac(key)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in (_MAGIC, len(header).to_bytes(8, "little"), header, texts, odd):
                mac.update(part)
                out.write(part)
            for a in arrays.values():
                data = _bytes(a)
                mac.update(data)
                out.write(data)
            out.write(mac.digest())
            out.flush()
            os.fsync(out.fileno())
            written = out.tell()
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    sync_folder(path.parent)
    return written


def _forget_partials(path: Path) -> None:
    """Delete what writes of ``path`` by processes no longer running left (one killed while
    it wrote: each writes a file named after its pid, then renames it)."""
    for partial in path.parent.glob(f"{path.name}.*.partial"):
        pid = partial.name.removeprefix(f"{path.name}.").removesuffix(".partial")
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            partial.unlink(missing_ok=True)
        except OSError:
            pass  # running (another user's): left alone


def read_index(path: Path, key: bytes) -> IndexSnapshot | None:
    """The snapshot in ``path``, None if there is none; ``IndexFileRefused`` naming why one
    is not to be used (not this format, cut short, its tag not the key's, its parts not in
    agreement)."""
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise IndexFileRefused(f"{path}: cannot be read ({error.strerror})") from None
    with stream:
        size = os.fstat(stream.fileno()).st_size
        try:
            return _read(stream, size, _mac(key))
        except IndexFileRefused as error:
            raise IndexFileRefused(f"{path}: {error}") from None
        except (
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            AttributeError,
            MemoryError,
            RecursionError,
        ) as error:
            raise IndexFileRefused(f"{path}: not an index file of this version ({error})") from None
        except DeconflictError as error:  # a volume kept as JSON that does not read
            raise IndexFileRefused(f"{path}: a volume in it does not read ({error})") from None


def _read(stream: BufferedReader, size: int, mac: Any) -> IndexSnapshot:
    def take(count: object) -> bytes:
        if type(count) is not int or not 0 <= count <= size:
            raise IndexFileRefused("cut short")
        data = stream.read(count)
        if len(data) != count:
            raise IndexFileRefused("cut short")
        mac.update(data)
        return data

    if take(len(_MAGIC)) != _MAGIC:
        raise IndexFileRefused("not an index file of this version")
    length = int.from_bytes(take(8), "little")
    header = _loads(take(length if length <= _HEADER_MAX else -1))
    if header.get("layout") != _LAYOUT:
        raise IndexFileRefused("written by another version of deconflict")
    texts, odd = take(header["texts"]), take(header["unusual"])
    arrays: dict[str, NDArray[Any]] = {}
    for name, kind, shape in header["arrays"]:
        if kind not in _TYPES or any(type(n) is not int or n < 0 for n in shape):
            raise IndexFileRefused(f"array {name!r} of an unknown type or shape")
        if math.prod(shape) * np.dtype(kind).itemsize > size:  # before it is made
            raise IndexFileRefused("cut short")
        array = np.empty(shape, dtype=np.dtype(kind))
        data = _bytes(array)
        if stream.readinto(data) != array.nbytes:
            raise IndexFileRefused("cut short")
        mac.update(data)
        arrays[name] = array
    tag = stream.read(_TAG + 1)
    if len(tag) != _TAG or not hmac.compare_digest(tag, mac.digest()):
        raise IndexFileRefused("its tag does not match (changed, cut short, or another hub's)")
    return _snapshot(header, _loads(texts), json.loads(odd), arrays)


def _snapshot(
    header: dict[str, Any], texts: dict[str, Any], odd: list[Any], a: dict[str, Any]
) -> IndexSnapshot:
    """The snapshot a file whose tag held describes (written by :func:`write_index`), its
    parts checked against each other first."""
    count = int(header["count"])
    _check_parts(count, texts, odd, a)
    given_rows, given_offsets = a["given_rows"].tolist(), a["given_offsets"].tolist()
    given = {
        row: a["given"][given_offsets[j] : given_offsets[j + 1]].astype(np.intp)
        for j, row in enumerate(given_rows)
    }
    footprints = PackedFootprints(
        a["table"],
        a["offsets"].astype(np.intp),
        a["kinds"],
        a["widths"],
        a["caps"],
        a["centres"],
        given,
        {},
    )
    made = {int(i): volume_from_dict(data) for i, data in odd}
    prefixes, parties = texts["prefixes"], texts["parties"]
    return IndexSnapshot(
        int(header["cursor"]),
        tuple(header["change"]),
        [prefixes[i] for i in a["prefix_of"].tolist()],
        a["versions"],
        [parties[i] for i in a["party_of"].tolist()],
        PackedVolumes(footprints, texts["ids"], a["numbers"], a["whole"], made),
        a["index_numbers"],
    )


def _check_parts(count: int, texts: dict[str, Any], odd: list[Any], a: dict[str, Any]) -> None:
    """That the parts of a file agree with each other (a file written by another build, or
    forged with the key, must be refused, not load wrong or fail later)."""
    offsets, table, rows = a["offsets"], a["table"], a["given_rows"]
    shapes = {
        "table": (len(table), 5),
        "offsets": (count + 1,),
        **dict.fromkeys(("kinds", "widths", "caps", "versions", "prefix_of", "party_of"), (count,)),
        "centres": (count, 3),
        "numbers": (count, 4),
        "whole": (count, 4),
        "index_numbers": (count, WIDTH),
        "given_offsets": (len(rows) + 1,),
    }
    wrong = [name for name, shape in shapes.items() if a[name].shape != shape]
    steps = np.diff(offsets)
    if not wrong and (offsets[0] != 0 or offsets[-1] != len(table) or (steps < 0).any()):
        wrong.append("offsets")
    if not wrong and count and int(a["kinds"].max()) >= len(KINDS):
        wrong.append("kinds")
    spans, ends = np.diff(a["given_offsets"]), a["given_offsets"]
    if (
        not wrong
        and len(rows)
        and (
            (np.diff(rows) <= 0).any()
            or rows[0] < 0
            or rows[-1] >= count
            or ends[0] != 0
            or ends[-1] != len(a["given"])
            or (spans < 0).any()
            or (a["given"] < 0).any()
            or (a["given"] >= np.repeat(steps[rows], spans)).any()
        )
    ):
        wrong.append("given")
    for name, limit in (("prefix_of", len(texts["prefixes"])), ("party_of", len(texts["parties"]))):
        if count and (int(a[name].min()) < 0 or int(a[name].max()) >= limit):
            wrong.append(name)
    strings = [*texts["ids"], *texts["prefixes"], *texts["parties"]]
    if len(texts["ids"]) != count or not all(type(x) is str for x in strings):
        wrong.append("texts")
    if any(type(i) is not int or not 0 <= i < count for i, _ in odd):
        wrong.append("unusual")
    if wrong:
        raise IndexFileRefused(f"its parts disagree ({', '.join(wrong)})")


def _little(array: NDArray[Any], name: str) -> NDArray[Any]:
    """``array`` in the file's byte order (a type it may hold)."""
    out = array.astype(array.dtype.newbyteorder("<"), copy=False)
    if out.dtype.str not in _TYPES:
        raise TypeError(f"array {name!r} of type {out.dtype.str} cannot be written")
    return out


def _bytes(array: NDArray[Any]) -> memoryview:
    """The bytes of ``array`` (C order), writable where it is: its own memory, not a copy."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def _dumps(value: Any) -> bytes:
    """JSON of ``value`` (orjson's; the standard library's for what orjson refuses: a lone
    surrogate in a string, which a store older than intake's id alphabet may hold)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def _loads(data: bytes) -> Any:
    """What :func:`_dumps` wrote (strings and small numbers: orjson reads them exactly)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _mac(key: bytes) -> Any:
    return hashlib.blake2b(key=key, digest_size=_TAG, person=b"dc.index")
