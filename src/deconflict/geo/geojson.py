"""GeoJSON in and out: one Feature per volume.

The format of ``deconflict detect`` (others script against it): a FeatureCollection whose features
each carry one volume. Geometry ``Polygon`` (lon/lat, geodesic edges; one ring, holes are refused),
``Point`` with property ``radius_m`` (a circle) or ``LineString`` with property ``half_width_m`` (a
corridor); properties ``id`` (unique string), ``party``, ``lower_m``, ``upper_m`` (metres W84),
``start``, ``end`` (RFC 3339 UTC). Parsing works on already-decoded JSON; reading files is the
caller's job.

An error in a feature says first where it is, as the feature's path in the document
(``features[3].geometry.coordinates: volume 'V3': polygon ring is not simple: ...``), and carries
the same place as a JSON pointer in its ``field`` (``/features/3/geometry/coordinates``), which the
API hands on to its client: a property by its name, the geometry's ``type`` or ``coordinates``,
or the feature itself when it is not a feature at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from deconflict.errors import InvalidDocument, InvalidGeometry, InvalidVolume
from deconflict.geo.footprint import DEFAULT_LIMITS, Circle, Corridor, Footprint, GeoLimits, Polygon
from deconflict.geo.units import epoch_to_rfc3339, parse_rfc3339
from deconflict.geo.volume import Volume4D
from deconflict.json_pointer import json_pointer

__all__ = ["PartyVolume", "feature", "footprint_from_geojson", "parse_feature_collection"]

#: The part of a feature its positions are.
_COORDINATES = "geometry.coordinates"


@dataclass(frozen=True, slots=True)
class PartyVolume:
    """A volume and the party it belongs to, as read from a feature."""

    party: str
    volume: Volume4D


def footprint_from_geojson(
    geometry: object, properties: Mapping[str, Any], limits: GeoLimits = DEFAULT_LIMITS
) -> Footprint:
    """The footprint a GeoJSON geometry (plus ``radius_m`` / ``half_width_m``) describes. An
    error's ``part`` is where it is in the feature: a property's name, ``geometry``,
    ``geometry.type`` or ``geometry.coordinates`` (see :func:`_path_in_feature`)."""
    if not isinstance(geometry, Mapping):
        raise InvalidGeometry("geometry must be a GeoJSON object", "geometry")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise InvalidGeometry("Polygon coordinates must be a list of rings", _COORDINATES)
        if len(coordinates) > 1:
            raise InvalidGeometry("Polygon holes are not supported: give one ring", _COORDINATES)
        return _in_coordinates(lambda: Polygon(coordinates[0], limits))
    if kind == "Point":
        if "radius_m" not in properties:
            raise InvalidGeometry("a Point needs the property radius_m (a circle)", "radius_m")
        return _circle(_position(coordinates), properties["radius_m"], limits)
    if kind == "LineString":
        if "half_width_m" not in properties:
            raise InvalidGeometry(
                "a LineString needs the property half_width_m (a corridor)", "half_width_m"
            )
        width = properties["half_width_m"]
        return _in_coordinates(lambda: Corridor(coordinates, width, limits))  # type: ignore[arg-type]
    raise InvalidGeometry(
        f"geometry type {kind!r} is not Polygon, Point or LineString", "geometry.type"
    )


def _in_coordinates(build: Callable[[], Footprint]) -> Footprint:
    """``build()``, a fault of no particular part in it said to be the coordinates': a
    polygon's or a corridor's faults that are not a property's (its positions, its ring, the
    extent and area they outline) are all in the positions it lists."""
    try:
        return build()
    except InvalidGeometry as error:
        if error.part is not None:
            raise
        raise InvalidGeometry(str(error), _COORDINATES) from None


def _circle(centre: list[float], radius_m: object, limits: GeoLimits) -> Circle:
    """The circle of a Point. A fault of no particular part is its centre's (the
    coordinates'), or else the extent or area its radius gives it: told apart by building
    the same centre with a radius of 1 m, on the error path only."""
    try:
        return Circle(centre, radius_m, limits)  # type: ignore[arg-type]
    except InvalidGeometry as error:
        if error.part is not None:
            raise
        try:
            Circle(centre, 1.0, limits)
        except InvalidGeometry:
            raise InvalidGeometry(str(error), _COORDINATES) from None
        raise InvalidGeometry(str(error), "radius_m") from None


def _position(coordinates: object) -> list[float]:
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        raise InvalidGeometry("Point coordinates must be [lon, lat]", _COORDINATES)
    return coordinates


def _time(properties: Mapping[str, Any], name: str) -> float:
    if name not in properties:
        raise InvalidGeometry(f"property {name!r} is missing", name)
    try:
        return parse_rfc3339(properties[name])
    except ValueError as error:
        raise InvalidGeometry(f"{name}: {error}", name) from None


def _path_in_feature(part: str | None) -> tuple[str, ...]:
    """Where in a feature a part at fault is: ``geometry`` and its members as they are
    (``geometry.coordinates``), a property's name under ``properties``; None, the feature."""
    if part is None:
        return ()
    steps = tuple(part.split("."))
    return steps if steps[0] == "geometry" else ("properties", part)


def _where(position: int, steps: tuple[str, ...]) -> tuple[str, str]:
    """Member ``steps`` of feature ``position`` as a path (``features[3].properties.start``)
    and as a JSON pointer (``/features/3/properties/start``)."""
    path = f"features[{position}]" + "".join(f".{step}" for step in steps)
    return path, json_pointer("features", position, *steps)


def _bad_feature(position: int, steps: tuple[str, ...], message: str) -> InvalidDocument:
    """The feature at ``position`` is malformed at member ``steps``: said where, first."""
    path, pointer = _where(position, steps)
    error = InvalidDocument(f"{path}: {message}")
    error.field = pointer
    return error


def _bad_volume(position: int, error: InvalidVolume) -> InvalidVolume:
    """The volume of the feature at ``position`` is refused (``error``): said where, first."""
    path, pointer = _where(position, _path_in_feature(error.part))
    located = InvalidVolume(error.volume, error.reason, error.part, where=path)
    located.field = pointer
    return located


def _volume_from_feature(
    item: object, position: int, seen: set[str], limits: GeoLimits, default_party: str | None
) -> PartyVolume:
    if not isinstance(item, Mapping) or item.get("type") != "Feature":
        raise _bad_feature(position, (), "not a GeoJSON Feature")
    properties = item.get("properties")
    if not isinstance(properties, Mapping):
        raise _bad_feature(position, ("properties",), "must be an object")
    volume_id = properties.get("id")
    if not isinstance(volume_id, str) or not volume_id:
        raise _bad_feature(position, ("properties", "id"), "must be a non-empty string")
    try:
        return _volume(item, properties, volume_id, seen, limits, default_party)
    except InvalidVolume as error:
        raise _bad_volume(position, error) from None


def _volume(
    item: Mapping[str, Any],
    properties: Mapping[str, Any],
    volume_id: str,
    seen: set[str],
    limits: GeoLimits,
    default_party: str | None,
) -> PartyVolume:
    """The volume of a feature whose id is ``volume_id``; InvalidVolume naming the part at
    fault."""
    if volume_id in seen:
        raise InvalidVolume(volume_id, "id is used by an earlier feature", "id")
    seen.add(volume_id)
    party = properties.get("party", default_party)
    if not isinstance(party, str) or not party:
        raise InvalidVolume(volume_id, "property 'party' must be a non-empty string", "party")
    try:
        start, end = _time(properties, "start"), _time(properties, "end")
        for name in ("lower_m", "upper_m"):
            if name not in properties:
                raise InvalidGeometry(f"property {name!r} is missing", name)
    except InvalidGeometry as error:
        raise InvalidVolume(volume_id, str(error), error.part) from None
    volume = Volume4D.build(
        volume_id,
        lambda: footprint_from_geojson(item.get("geometry"), properties, limits),
        properties["lower_m"],
        properties["upper_m"],
        start,
        end,
    )
    return PartyVolume(party, volume)


def parse_feature_collection(
    document: object, limits: GeoLimits = DEFAULT_LIMITS, default_party: str | None = None
) -> list[PartyVolume]:
    """Every feature of a FeatureCollection as a validated volume; the first bad one raises.
    A feature without a ``party`` property belongs to ``default_party`` when one is given."""
    if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
        raise InvalidDocument("the document is not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise InvalidDocument("the FeatureCollection has no 'features' list")
    budget = limits.max_record_points
    given = sum(_positions_given(item) for item in features)
    if given > budget:  # before any work per vertex, so a huge input costs nothing
        raise InvalidDocument(
            f"the features have {given:,} positions in all, more than the limit of {budget:,} "
            "a record"
        )
    seen: set[str] = set()
    out: list[PartyVolume] = []
    points = 0
    for i, item in enumerate(features):
        out.append(_volume_from_feature(item, i, seen, limits, default_party))
        points += len(out[-1].volume.footprint.core_lons)
        if points > budget:  # densified: what detection and drawing will work on
            raise _bad_feature(
                i,
                ("geometry", "coordinates"),
                f"the features' outlines have more than {budget:,} points in all (long "
                "geodesic edges are densified every 10 km), the limit of a record",
            )
    return out


def _positions_given(item: object) -> int:
    """How many positions a feature's geometry lists (0 for what is not a geometry)."""
    geometry = item.get("geometry") if isinstance(item, Mapping) else None
    coordinates = geometry.get("coordinates") if isinstance(geometry, Mapping) else None
    if not isinstance(coordinates, list):
        return 0
    if geometry is not None and geometry.get("type") == "Polygon":
        return sum(len(ring) for ring in coordinates if isinstance(ring, list))
    return len(coordinates) if geometry is not None and geometry.get("type") != "Point" else 1


def feature(volume: Volume4D, **properties: object) -> dict[str, object]:
    """A volume as a Feature in the same format, with extra ``properties`` added."""
    shape = volume.footprint.to_geojson()
    props: dict[str, object] = {
        "id": volume.id,
        **{k: v for k, v in shape.items() if k != "geometry"},
        "lower_m": volume.altitude.lower_m,
        "upper_m": volume.altitude.upper_m,
        "start": epoch_to_rfc3339(volume.window.start_s),
        "end": epoch_to_rfc3339(volume.window.end_s),
        **properties,
    }
    return {"type": "Feature", "geometry": shape["geometry"], "properties": props}
