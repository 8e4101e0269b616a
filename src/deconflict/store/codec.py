"""Records to and from the JSON text the store keeps in its columns.

A volume is kept as its footprint's GeoJSON geometry (plus ``radius_m`` for a circle and
``half_width_m`` for a corridor), its altitude band and its time window; reading it back builds the
footprint again, so everything read holds its structure (finite numbers, a valid footprint). Not
what intake accepts now, though: the accepted ranges (``deconflict.ranges``) and the operator's
caps on a footprint (vertices, area) are intake's, and a record accepted under wider ones (an
older version, other settings) must still be read, listed, cancelled and exported. An agreement
is kept whole as one JSON document (the store never queries inside it).

Volumes are kept as their canonical JSON (RFC 8785, :func:`~deconflict.ledger.canonical`):
the ledger's commitment to a notice version is to the same text. Volumes with no canonical JSON
(a lone surrogate in an id, from a store older than intake's id alphabet) are kept as ``json``
writes them, ASCII-escaped.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import orjson

from deconflict.engine import SeparationMinima
from deconflict.errors import CorruptRecord, InvalidDocument, InvalidInput
from deconflict.geo import Circle, Corridor, Footprint, GeoLimits, Polygon, Volume4D
from deconflict.geo.bulk import Shape, footprints_packed
from deconflict.geo.bulk import footprint as bulk_footprint
from deconflict.geo.packed import PackedVolumes, whole_numbers
from deconflict.geo.volume import checked_volumes
from deconflict.ledger import canonical
from deconflict.model import Agreement, Disclosure
from deconflict.model.agreement_document import agreement_document, agreement_from_document

__all__ = [
    "agreement_from_json",
    "agreement_to_json",
    "canonical_volumes",
    "footprint_from_dict",
    "volume_from_json",
    "volumes_from_json",
    "volumes_from_json_many",
    "volumes_to_json",
    "volumes_to_texts",
]


def volume_to_dict(volume: Volume4D) -> dict[str, Any]:
    return {
        "id": volume.id,
        "footprint": volume.footprint.to_geojson(),
        "lower_m": volume.altitude.lower_m,
        "upper_m": volume.altitude.upper_m,
        "start_s": volume.window.start_s,
        "end_s": volume.window.end_s,
    }


#: The caps a stored footprint is read back under: none but what its structure needs.
STORED_LIMITS = GeoLimits(
    max_vertices=sys.maxsize, max_area_m2=math.inf, max_record_points=sys.maxsize
)


def footprint_from_dict(data: dict[str, Any]) -> Footprint:
    """Build the footprint kept as GeoJSON geometry plus radius or half-width (a polygon's
    ring was found simple at intake, and is not checked again)."""
    return bulk_footprint(_shape(data), STORED_LIMITS)


def volume_from_dict(data: dict[str, Any]) -> Volume4D:
    return Volume4D.build(
        data["id"],
        lambda: footprint_from_dict(data["footprint"]),
        data["lower_m"],
        data["upper_m"],
        data["start_s"],
        data["end_s"],
        intake=False,
    )


def volumes_to_json(volumes: Sequence[Volume4D]) -> str:
    """The text the store keeps for ``volumes``: their canonical JSON, if they have one."""
    return volumes_to_texts(volumes)[0]


def volumes_to_texts(volumes: Sequence[Volume4D]) -> tuple[str, list[str]]:
    """The text the store keeps for ``volumes`` (:func:`volumes_to_json`) and each volume's
    own, as it keeps them one a row (``notice_volumes``): the elements of the list, written
    once (a canonical array is its canonical elements joined)."""
    dicts = [volume_to_dict(v) for v in volumes]
    try:
        texts = [canonical(d).decode() for d in dicts]
    except InvalidInput:  # a lone surrogate: as json writes them
        texts = [json.dumps(d, separators=(",", ":")) for d in dicts]
        return "[" + ",".join(texts) + "]", texts
    text = "[" + ",".join(texts) + "]"
    if type(volumes) is tuple and all(type(v.footprint) in _KINDS for v in volumes):
        # What reading the text back would build (every number is written exactly, and the
        # footprint is built again from the same values): the detector, reading the record
        # just filed, need not build its footprints again.
        _keep_read(text, _as_read(volumes))
    return text, texts


def volume_from_json(text: str) -> Volume4D:
    """The volume kept as ``text``, one of :func:`volumes_to_texts`' (kept as its list's)."""
    return volumes_from_json(f"[{text}]")[0]


#: Under it a whole float is written as an integer in canonical JSON, so read back as one.
_WHOLE_BELOW = 2.0**53


def _as_read(volumes: tuple[Volume4D, ...]) -> tuple[Volume4D, ...]:
    """``volumes`` as reading their canonical text builds them: a whole float (under 2**53) is
    written as an integer, and read back as one. The hub holds the same values, of the same
    types, whether it filed a record or read it back after a restart (its index file, its
    conflicts' details: ``hub.index_file``)."""
    out = []
    for volume in volumes:
        band, window = volume.altitude, volume.window
        numbers = (band.lower_m, band.upper_m, window.start_s, window.end_s)
        read = [
            int(n) if type(n) is float and n.is_integer() and abs(n) < _WHOLE_BELOW else n
            for n in numbers
        ]
        if all(type(a) is type(b) for a, b in zip(read, numbers, strict=True)):
            out.append(volume)
        else:
            out.extend(checked_volumes([volume.id], [volume.footprint], [read]))
    return volumes if all(a is b for a, b in zip(out, volumes, strict=True)) else tuple(out)


_KINDS = (Circle, Corridor, Polygon)


def canonical_volumes(volumes: Sequence[Volume4D]) -> str | None:
    """The canonical JSON (RFC 8785) of ``[volume_to_dict(v) for v in volumes]``, None if it
    has none (a lone surrogate in a string)."""
    try:
        return canonical([volume_to_dict(v) for v in volumes]).decode()
    except InvalidInput:
        return None


def volumes_from_json(text: str) -> tuple[Volume4D, ...]:
    """The volumes kept as ``text``. Building a footprint is most of the cost of reading a
    record (its geodesic outline: about 300 us for a 24-vertex polygon, against 0.3 us found
    here), and the hub reads the same versions again and again (the detector, each party's
    event stream, listings), so the volumes of the last texts read, or written
    (:func:`volumes_to_json`), are kept: equal text, equal (immutable) volumes."""
    with _read_lock:
        found = _read.get(text)
        if found is not None:
            _read.move_to_end(text)
            return found
    volumes = _parse_volumes(text)
    _keep_read(text, volumes)
    return volumes


_READ_KEPT = 2048
_read: OrderedDict[str, tuple[Volume4D, ...]] = OrderedDict()
_read_lock = threading.Lock()


def _keep_read(text: str, volumes: tuple[Volume4D, ...]) -> None:
    with _read_lock:
        _read[text] = volumes
        _read.move_to_end(text)
        if len(_read) > _READ_KEPT:
            _read.popitem(last=False)


def volumes_from_json_many(texts: Sequence[str]) -> list[tuple[Volume4D, ...]]:
    """:func:`volumes_from_json` of many texts at once (the detector's start-up rebuild): their
    footprints built together (:func:`deconflict.geo.bulk.footprints_packed`), their numbers
    checked in arrays, the same volumes to the last bit. Not kept as recently read: a rebuild reads
    each record once. A text that does not read raises :class:`CorruptRecord`. (Its caller
    pauses the cyclic garbage collector around a rebuild: ``deconflict.hub.collection``.)"""
    return volume_columns_from_json_many(texts).volumes


class VolumeColumns(NamedTuple):
    """Many texts' volumes, kept as arrays (:class:`~deconflict.geo.packed.PackedVolumes`, in
    the texts' order: ``counts`` says how many each text holds) with their footprints'
    :data:`deconflict.geo.bulk.SUMMARY` rows: what the engine's index keeps of each."""

    packed: PackedVolumes
    counts: list[int]
    footprints: np.ndarray[Any, np.dtype[np.float64]]

    @property
    def windows(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Each volume's (start_s, end_s), n x 2."""
        return self.packed.windows

    @property
    def bands(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Each volume's (lower_m, upper_m), n x 2."""
        return self.packed.bands

    @property
    def volumes(self) -> list[tuple[Volume4D, ...]]:
        """Each text's volumes, made now (objects: what the arrays spare a rebuild)."""
        made = self.packed.volumes()
        out: list[tuple[Volume4D, ...]] = []
        taken = 0
        for count in self.counts:
            out.append(tuple(made[taken : taken + count]))
            taken += count
        return out


def volume_columns_from_json_many(texts: Sequence[str]) -> VolumeColumns:
    """:func:`volumes_from_json_many`, with the volumes' numbers in arrays, as they were built
    (for the engine's index, which keeps them so: no reading back one volume at a time)."""
    with _stored_volumes():
        return _many(texts)


@contextlib.contextmanager
def _stored_volumes() -> Iterator[None]:
    """Stored volumes that do not read are the store's fault, not the caller's (security.md
    §3.1): :class:`CorruptRecord`, never bad input."""
    try:
        yield
    except InvalidInput as error:
        raise CorruptRecord(f"stored volumes are invalid: {error}") from None
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise CorruptRecord(f"stored volumes are malformed: {error!r}") from None


def _loads(text: str) -> Any:
    """``json.loads``, at orjson's speed where orjson reads the text (not a lone surrogate).
    Not alike everywhere: orjson reads an integer of 2**63 or more (canonical JSON writes one
    for a float such as 1e20) as a float, ``json`` as the integer (see :func:`_many`)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


#: Numbers from this on may be integers orjson read as floats (see :func:`_loads`).
_PAST_64_BITS = 2.0**63


_NUMBERS = itemgetter("lower_m", "upper_m", "start_s", "end_s")
_ID = itemgetter("id")
_PLAIN = frozenset((int, float))


def _many(texts: Sequence[str], loads: Callable[[str], Any] = _loads) -> VolumeColumns:
    documents: list[list[dict[str, Any]]] = [loads(text) for text in texts]
    items = list(chain.from_iterable(documents))
    numbers: list[tuple[Any, Any, Any, Any]] = list(map(_NUMBERS, items))
    ids = list(map(_ID, items))
    table = None
    if set(map(type, chain.from_iterable(numbers))) <= _PLAIN:
        with contextlib.suppress(OverflowError):  # an integer past a float's range
            table, whole, exact = whole_numbers(numbers)
    if loads is _loads and table is not None and (np.abs(table) >= _PAST_64_BITS).any():
        return _many(texts, json.loads)  # an integer, perhaps, that orjson read as a float
    shapes = [_shape(item["footprint"]) for item in items]
    footprints, summaries = footprints_packed(shapes, STORED_LIMITS)
    if table is None or not (
        np.isfinite(table).all()
        and (table[:, 0] < table[:, 1]).all()
        and (table[:, 2] < table[:, 3]).all()
    ):  # one is wrong: the constructors say which
        for i, (id_, row) in enumerate(zip(ids, numbers, strict=True)):
            Volume4D.build(id_, footprints.footprint(i), *row, intake=False)
        raise CorruptRecord("stored volumes are malformed: a number that is not one")
    made: dict[int, Volume4D] = {}
    if not exact:  # an integer a float does not hold: the volumes made now, as they read
        made = dict(
            enumerate(checked_volumes(ids, map(footprints.footprint, range(len(ids))), numbers))
        )
    packed = PackedVolumes(footprints, ids, table, whole, made)
    return VolumeColumns(packed, list(map(len, documents)), summaries)


#: A stored footprint's GeoJSON geometry type, and the kind it is.
_SHAPES = {"Point": "circle", "LineString": "corridor", "Polygon": "polygon"}


def _shape(data: dict[str, Any]) -> Shape:
    """The shape a stored footprint's document describes."""
    geometry: dict[str, Any] = data.get("geometry") or {}
    kind = _SHAPES.get(geometry.get("type"))  # type: ignore[arg-type]
    coordinates: Any = geometry.get("coordinates")
    if kind == "circle":
        return Shape(kind, [coordinates], data["radius_m"])
    if kind == "corridor":
        return Shape(kind, coordinates, data["half_width_m"])
    if kind == "polygon":
        return Shape(kind, coordinates[0], 0.0)
    raise InvalidDocument(f"unknown footprint geometry type {geometry.get('type')!r}")


def _parse_volumes(text: str) -> tuple[Volume4D, ...]:
    with _stored_volumes():
        return tuple(volume_from_dict(item) for item in json.loads(text))


def agreement_to_json(agreement: Agreement) -> str:
    """An agreement as stored: its document (``model.agreement_document``)."""
    return json.dumps(agreement_document(agreement), separators=(",", ":"))


def agreement_from_json(text: str) -> Agreement:
    """A stored agreement: its document, or the layout stores kept before 0013 (``minima``,
    disclosure as triples)."""
    try:
        data = json.loads(text)
        if "minima" not in data:
            return agreement_from_document(data, "stored agreement")
        return Agreement(
            id=data["id"],
            parties=tuple(data["parties"]),
            min_lead_time_s=data["min_lead_time_s"],
            minima=SeparationMinima(**data["minima"]),
            relay=data["relay"],
            disclosure={(a, b): Disclosure(level) for a, b, level in data["disclosure"]},
            default_disclosure=Disclosure(data["default_disclosure"]),
            ack_deadline_s=data["ack_deadline_s"],
        )
    except InvalidInput as error:  # the store's fault, not the caller's (security.md §3.1)
        raise CorruptRecord(f"stored agreement is invalid: {error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptRecord(f"stored agreement is malformed: {error!r}") from None


def volume_versions_to_json(versions: Sequence[int]) -> str | None:
    """A notice's volume versions as kept (null for none: every volume at the version)."""
    return json.dumps(list(versions), separators=(",", ":")) if versions else None


def volume_versions_from_json(text: str | None) -> tuple[int, ...]:
    """The volume versions kept as ``text`` (none for null)."""
    if text is None:
        return ()
    try:
        found = json.loads(text)
        if not isinstance(found, list) or not all(type(v) is int for v in found):
            raise ValueError("not a list of integers")
    except ValueError as error:
        raise CorruptRecord(f"stored volume versions are malformed: {error}") from None
    return tuple(found)
