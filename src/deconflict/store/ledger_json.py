"""The canonical JSON of a notice's entry and of the content it commits to, written by template.

Every filing, amendment and cancellation appends a notice entry, and a new version commits to its
content (the notice's category and volumes): on the filing path, the generic
:func:`~deconflict.ledger.canonical` (a pass over the value, then ``json``'s sorted-key encoder)
cost more than the rest of the append. These objects have a fixed shape, so their RFC 8785 text
is written here directly: the keys in their canonical order (ASCII, so UTF-16 order is byte
order), each string and number by :func:`~deconflict.ledger.canonical_string` and
:func:`~deconflict.ledger.canonical_number`, which write exactly what ``canonical`` writes for
them. Anything the template does not expect (a footprint of another shape, a non-ASCII key, a
lone surrogate) goes to ``canonical`` with the object itself; the tests check, for any notice,
that both give the same bytes and that these are the ``rfc8785`` package's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from deconflict.geo import Circle, Corridor, Footprint, Polygon, Volume4D
from deconflict.ledger import canonical, canonical_number, canonical_string
from deconflict.model import Notice
from deconflict.store.codec import volume_to_dict

__all__ = ["notice_content", "notice_content_object", "notice_entry", "notice_entry_object"]

_S = canonical_string
_N = canonical_number  # also right for any other JSON value: it falls back to ``canonical``


def _T(value: Any) -> str:
    """A string, or any other JSON value (None: an entry's unset time)."""
    return _S(value) if type(value) is str else _N(value)


class _Irregular(Exception):
    """A value the templates leave to :func:`canonical`."""


def notice_content_object(notice: Notice) -> dict[str, Any]:
    """What a notice version's commitment is to: its category and volumes, as the store keeps
    them."""
    return {
        "notice": notice.id,
        "party": notice.party,
        "version": notice.version,
        "category": notice.category,
        "volumes": [volume_to_dict(v) for v in notice.volumes],
    }


def notice_entry_object(
    kind: str, notice: Notice, at: str | None, commitment: str | None
) -> dict[str, Any]:
    """A notice entry: who filed which version, its state, when, and the commitment."""
    return {
        "type": kind,
        "notice": notice.id,
        "version": notice.version,
        "party": notice.party,
        "state": str(notice.state),
        "at": at,
        "commitment": commitment,
    }


def notice_entry(kind: str, notice: Notice, at: str | None, commitment: str | None) -> bytes:
    """The canonical JSON of :func:`notice_entry_object`."""
    try:
        return (
            f'{{"at":{_T(at)},"commitment":{_T(commitment)},"notice":{_S(notice.id)},'
            f'"party":{_S(notice.party)},"state":{_S(str(notice.state))},"type":{_S(kind)},'
            f'"version":{_N(notice.version)}}}'
        ).encode()
    except UnicodeEncodeError:
        return canonical(notice_entry_object(kind, notice, at, commitment))


def notice_content(notice: Notice) -> bytes:
    """The canonical JSON of :func:`notice_content_object`."""
    try:
        volumes = ",".join([_volume(v) for v in notice.volumes])
        return (
            f'{{"category":{_S(notice.category)},"notice":{_S(notice.id)},'
            f'"party":{_S(notice.party)},"version":{_N(notice.version)},"volumes":[{volumes}]}}'
        ).encode()
    except (_Irregular, UnicodeEncodeError):
        return canonical(notice_content_object(notice))


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
    text = f'{{"geometry":{{"coordinates":{_array(coordinates)},"type":{_T(geometry["type"])}}}'
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
