"""The detector's index kept in a file, so that a restart reads it back instead of rebuilding it
from every stored record.

At 10^6 live volumes the rebuild from the store reads and checks every volume's JSON again and
builds its footprint, some 20 s; the arrays it ends with (:mod:`deconflict.geo.packed`) are read
back from this file in about one. The detector writes it (:class:`IndexSnapshot`) at a position
of the change log its cursor is stored at, when it lets the lease go and now and then while it
detects; a detector that starts reads it, checks it, and applies the change log's rows after its
position (``Detector.rebuild``). A file that does not hold is not used: the index is rebuilt
from the store, as without one, and the log says why.

What holds. The file is the hub's, beside its other local files (``<state>.index``, mode 0600):
it holds every party's live volumes, as the database does. It ends with a keyed BLAKE2b of all
before it, the key derived from the ledger signing key (``Signer.derived_key``): a file edited,
cut short or written by another hub is refused, and forging one takes the key that signs the
ledger. It names the change-log row at its position (sequence, kind, record, time, version,
state): a store whose row there differs (another database, one restored from a backup and
written again since) or whose cursor is behind it, is not the store it was written from. It is
written to a new file, synced and renamed over the old: a crash leaves the old one whole.

Format: a magic line; the header's length (8 bytes, little-endian) and the header (JSON: the
position, the arrays' names, types and shapes, the texts' length); the texts (JSON: the volumes'
ids, the records' key prefixes, the parties, and any volume the arrays do not hold, as the store
writes it); each array's bytes; the 32-byte tag. No pickle: what is read is numbers and text.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from deconflict.errors import DeconflictError
from deconflict.geo.packed import PackedFootprints, PackedVolumes
from deconflict.ledger.keyfile import read_key_file, sync_folder
from deconflict.owner_only import FILE_MODE
from deconflict.store.codec import volume_from_dict, volume_to_dict

__all__ = ["IndexFile", "IndexFileRefused", "IndexSnapshot", "read_index", "write_index"]

_MAGIC = b"deconflict index 1\n"
_TAG = 32
_HEADER_MAX = 1 << 20
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
    texts = orjson.dumps(
        {
            "ids": volumes.ids,
            "prefixes": list(prefixes),
            "parties": list(parties),
            "unusual": [[i, volume_to_dict(volumes.volume(i))] for i in unusual],
        }
    )
    header = orjson.dumps(
        {
            "cursor": snapshot.cursor,
            "change": list(snapshot.change),
            "count": len(snapshot),
            "arrays": [[name, a.dtype.str, list(a.shape)] for name, a in arrays.items()],
            "texts": len(texts),
        }
    )
    mac = _mac(key)
    _forget_partials(path)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in (_MAGIC, len(header).to_bytes(8, "little"), header, texts):
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
    is not to be used (not this format, cut short, its tag not the key's)."""
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
        except (ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError) as error:
            raise IndexFileRefused(f"{path}: not an index file of this version ({error})") from None
        except IndexFileRefused as error:
            raise IndexFileRefused(f"{path}: {error}") from None


def _read(stream: BufferedReader, size: int, mac: Any) -> IndexSnapshot:
    def take(count: int) -> bytes:
        data = stream.read(count)
        if len(data) != count:
            raise IndexFileRefused("cut short")
        mac.update(data)
        return data

    if take(len(_MAGIC)) != _MAGIC:
        raise IndexFileRefused("not an index file of this version")
    length = int.from_bytes(take(8), "little")
    if length > min(_HEADER_MAX, size):
        raise IndexFileRefused("cut short")
    header = orjson.loads(take(length))
    if header["texts"] > size:
        raise IndexFileRefused("cut short")
    texts = take(int(header["texts"]))
    arrays: dict[str, NDArray[Any]] = {}
    for name, kind, shape in header["arrays"]:
        if kind not in _TYPES or any(type(n) is not int or n < 0 for n in shape):
            raise IndexFileRefused(f"array {name!r} of an unknown type or shape")
        array = np.empty(shape, dtype=np.dtype(kind))
        if array.nbytes > size:
            raise IndexFileRefused("cut short")
        data = _bytes(array)
        if stream.readinto(data) != array.nbytes:
            raise IndexFileRefused("cut short")
        mac.update(data)
        arrays[name] = array
    tag = stream.read(_TAG + 1)
    if len(tag) != _TAG or not hmac.compare_digest(tag, mac.digest()):
        raise IndexFileRefused("its tag does not match (changed, cut short, or another hub's)")
    return _snapshot(header, orjson.loads(texts), arrays)


def _snapshot(header: dict[str, Any], texts: dict[str, Any], a: dict[str, Any]) -> IndexSnapshot:
    """The snapshot a file whose tag held describes (written by :func:`write_index`)."""
    count = int(header["count"])
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
    made = {int(i): volume_from_dict(data) for i, data in texts["unusual"]}
    volumes = PackedVolumes(footprints, texts["ids"], a["numbers"], a["whole"], made)
    prefixes, parties = texts["prefixes"], texts["parties"]
    snapshot = IndexSnapshot(
        int(header["cursor"]),
        tuple(header["change"]),
        [prefixes[i] for i in a["prefix_of"].tolist()],
        a["versions"],
        [parties[i] for i in a["party_of"].tolist()],
        volumes,
        a["index_numbers"],
    )
    if not len(volumes) == len(snapshot.parties) == len(snapshot.versions) == count:
        raise IndexFileRefused("its parts disagree on how many volumes it holds")
    return snapshot


def _little(array: NDArray[Any], name: str) -> NDArray[Any]:
    """``array`` in the file's byte order (a type it may hold)."""
    kind = array.dtype.newbyteorder("<") if array.dtype.byteorder not in "<|" else array.dtype
    if array.dtype == np.intp:
        kind = np.dtype("<i8")
    if array.dtype.kind == "i" and array.dtype.itemsize == 4:
        kind = np.dtype("<i4")
    out = array.astype(kind, copy=False)
    if out.dtype.str not in _TYPES:
        raise TypeError(f"array {name!r} of type {out.dtype.str} cannot be written")
    return out


def _bytes(array: NDArray[Any]) -> memoryview:
    """The bytes of ``array`` (C order), writable where it is: its own memory, not a copy."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def _mac(key: bytes) -> Any:
    return hashlib.blake2b(key=key, digest_size=_TAG, person=b"dc.index")
