"""Records to and from the JSON text the store keeps in its columns.

A volume is kept as its footprint's GeoJSON geometry (plus ``radius_m`` for a circle and
``half_width_m`` for a corridor), its altitude band and its time window; reading it back builds the
footprint again, so everything read holds its structure (finite numbers, a valid footprint). Not
what intake accepts now, though: the accepted ranges (``deconflict.ranges``) and the operator's
caps on a footprint (vertices, area) are intake's, and a record accepted under wider ones (an
older version, other settings) must still be read, listed, cancelled and exported. An agreement
is kept whole as one JSON document (the store never queries inside it).

Volumes are kept as their canonical JSON (RFC 8785), written by template
(:func:`canonical_volumes`): the ledger's commitment to a notice version is to the same text, so
the filing writes it once for both (a tuple of volumes is immutable: the text of the last tuples
written is kept, and the ledger, building its entries at the commit, finds it there). The
templates write the keys in canonical order (ASCII, so UTF-16 order is byte order), each string
and number as :func:`~deconflict.ledger.canonical_string` and
:func:`~deconflict.ledger.canonical_number` do; anything they do not expect (a footprint of
another kind) goes to :func:`~deconflict.ledger.canonical`; the tests check that, for any
volumes, the text is the ``rfc8785`` package's. Volumes with no canonical JSON (a lone surrogate
in an id) are kept as ``json`` writes them, ASCII-escaped.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

from deconflict.engine import SeparationMinima
from deconflict.errors import CorruptRecord, InvalidDocument, InvalidInput
from deconflict.geo import Circle, Corridor, Footprint, GeoLimits, Polygon, Volume4D
from deconflict.ledger import canonical, canonical_number, canonical_string
from deconflict.model import Agreement, Disclosure
from deconflict.model.agreement_document import agreement_document, agreement_from_document

__all__ = [
    "agreement_from_json",
    "agreement_to_json",
    "canonical_volumes",
    "footprint_from_dict",
    "volumes_from_json",
    "volumes_to_json",
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
    """Build the footprint kept as GeoJSON geometry plus radius or half-width."""
    geometry: dict[str, Any] = data.get("geometry") or {}
    kind = geometry.get("type")
    coordinates: Any = geometry.get("coordinates")
    if kind == "Point":
        return Circle(coordinates, data["radius_m"], STORED_LIMITS)
    if kind == "LineString":
        return Corridor(coordinates, data["half_width_m"], STORED_LIMITS)
    if kind == "Polygon":
        return Polygon(coordinates[0], STORED_LIMITS, known_simple=True)  # checked at intake
    raise InvalidDocument(f"unknown footprint geometry type {kind!r}")


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
    text = canonical_volumes(volumes)
    if text is None:
        return json.dumps([volume_to_dict(v) for v in volumes], separators=(",", ":"))
    return text


_KEPT = 256  # texts of the last tuples of volumes written
_written: dict[int, tuple[Sequence[Volume4D], str | None]] = {}
_written_lock = threading.Lock()


def canonical_volumes(volumes: Sequence[Volume4D]) -> str | None:
    """The canonical JSON (RFC 8785) of ``[volume_to_dict(v) for v in volumes]``, None if it
    has none (a lone surrogate in a string)."""
    hit = _written.get(id(volumes))
    if hit is not None and hit[0] is volumes:
        return hit[1]
    text: str | None
    try:
        text = "[" + ",".join([_volume(v) for v in volumes]) + "]"
        if not text.isascii():
            text.encode()  # a lone surrogate has no UTF-8 (nor canonical JSON)
    except _Irregular:
        text = _canonical_or_none([volume_to_dict(v) for v in volumes])
    except UnicodeEncodeError:
        text = None
    if type(volumes) is tuple:  # immutable: its text is kept
        with _written_lock:
            if len(_written) >= _KEPT:
                del _written[next(iter(_written))]
            _written[id(volumes)] = (volumes, text)
        if text is not None and all(type(v.footprint) in _KINDS for v in volumes):
            # What reading the text back would build (every number is written exactly, and the
            # footprint is built again from the same values): the detector, reading the record
            # just filed, need not build its footprints again.
            _keep_read(text, cast(tuple[Volume4D, ...], volumes))
    return text


_KINDS = (Circle, Corridor, Polygon)


def _canonical_or_none(value: Any) -> str | None:
    try:
        return canonical(value).decode()
    except InvalidInput:
        return None


_S = canonical_string
_N = canonical_number  # also right for any other JSON value: it falls back to ``canonical``


class _Irregular(Exception):
    """A value the templates leave to :func:`canonical`."""


def _volume(volume: Volume4D) -> str:
    """``volume_to_dict(volume)``, canonical."""
    altitude, window = volume.altitude, volume.window
    return (
        f'{{"end_s":{_N(window.end_s)},"footprint":{_footprint_of(volume.footprint)},'
        f'"id":{_S(volume.id)},"lower_m":{_N(altitude.lower_m)},"start_s":{_N(window.start_s)},'
        f'"upper_m":{_N(altitude.upper_m)}}}'
    )


def _footprint_of(footprint: Footprint) -> str:
    """``footprint.to_geojson()``, canonical: written from the footprint itself for the three
    kinds (what each one's ``to_geojson`` makes of it, checked by the tests; not a subclass,
    which may make another), from its GeoJSON for any other."""
    kind = type(footprint)
    if kind is Circle:
        circle = cast(Circle, footprint)
        return (
            f'{{"geometry":{{"coordinates":[{_N(circle.lon)},{_N(circle.lat)}],'
            f'"type":"Point"}},"radius_m":{_N(circle.radius_m)}}}'
        )
    if kind is Corridor:
        path = cast(Corridor, footprint).path
        return (
            f'{{"geometry":{{"coordinates":{_array(path)},"type":"LineString"}},'
            f'"half_width_m":{_N(footprint.radius_m)}}}'
        )
    if kind is Polygon:
        ring = cast(Polygon, footprint).ring
        return f'{{"geometry":{{"coordinates":[{_array([*ring, ring[0]])}],"type":"Polygon"}}}}'
    return _footprint(footprint.to_geojson())


def _footprint(footprint: dict[str, Any]) -> str:
    """A footprint's GeoJSON geometry (coordinates and type) and its size properties."""
    geometry = footprint.get("geometry")
    if type(geometry) is not dict or geometry.keys() != {"coordinates", "type"}:
        raise _Irregular
    coordinates = geometry["coordinates"]
    if type(coordinates) is not list:
        raise _Irregular
    kind = geometry["type"]
    text = f'{{"geometry":{{"coordinates":{_array(coordinates)},"type":'
    text += (_S(kind) if type(kind) is str else _N(kind)) + "}"
    for key in sorted(footprint):  # "geometry" sorts before both "half_width_m" and "radius_m"
        if key == "geometry":
            continue
        if type(key) is not str or not key.isascii() or key < "geometry":
            raise _Irregular
        text += f",{_S(key)}:{_N(footprint[key])}"
    return text + "}"


def _array(items: Sequence[Any]) -> str:
    """Nested lists of numbers (coordinates), canonical."""
    return (
        "["
        + ",".join([_array(x) if type(x) is list or type(x) is tuple else _N(x) for x in items])
        + "]"
    )


def volumes_from_json(text: str) -> tuple[Volume4D, ...]:
    """The volumes kept as ``text``. Building a footprint is most of the cost of reading a
    record (its geodesic outline), and the hub reads the same versions again and again (the
    detector, each party's event stream, listings), so the volumes of the last texts read, or
    written (:func:`canonical_volumes`), are kept: equal text, equal (immutable) volumes."""
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


def _parse_volumes(text: str) -> tuple[Volume4D, ...]:
    try:
        return tuple(volume_from_dict(item) for item in json.loads(text))
    except InvalidInput as error:  # the store's fault, not the caller's (security.md §3.1)
        raise CorruptRecord(f"stored volumes are invalid: {error}") from None
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise CorruptRecord(f"stored volumes are malformed: {error!r}") from None


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
