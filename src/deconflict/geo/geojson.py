"""GeoJSON in and out: one Feature per volume.

The format of ``deconflict detect`` (others script against it): a FeatureCollection whose features
each carry one volume. Geometry ``Polygon`` (lon/lat, geodesic edges; one ring, holes are refused),
``Point`` with property ``radius_m`` (a circle) or ``LineString`` with property ``half_width_m`` (a
corridor); properties ``id`` (unique string), ``party``, ``lower_m``, ``upper_m`` (metres W84),
``start``, ``end`` (RFC 3339 UTC). Parsing works on already-decoded JSON; reading files is the
caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deconflict.errors import InvalidDocument, InvalidGeometry, InvalidVolume
from deconflict.geo.footprint import DEFAULT_LIMITS, Circle, Corridor, Footprint, GeoLimits, Polygon
from deconflict.geo.units import epoch_to_rfc3339, parse_rfc3339
from deconflict.geo.volume import Volume4D

__all__ = ["PartyVolume", "feature", "footprint_from_geojson", "parse_feature_collection"]


@dataclass(frozen=True, slots=True)
class PartyVolume:
    """A volume and the party it belongs to, as read from a feature."""

    party: str
    volume: Volume4D


def footprint_from_geojson(
    geometry: object, properties: Mapping[str, Any], limits: GeoLimits = DEFAULT_LIMITS
) -> Footprint:
    """The footprint a GeoJSON geometry (plus ``radius_m`` / ``half_width_m``) describes."""
    if not isinstance(geometry, Mapping):
        raise InvalidGeometry("geometry must be a GeoJSON object")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise InvalidGeometry("Polygon coordinates must be a list of rings")
        if len(coordinates) > 1:
            raise InvalidGeometry("Polygon holes are not supported: give one ring")
        return Polygon(coordinates[0], limits)
    if kind == "Point":
        if "radius_m" not in properties:
            raise InvalidGeometry("a Point needs the property radius_m (a circle)", "radius_m")
        return Circle(_position(coordinates), properties["radius_m"], limits)
    if kind == "LineString":
        if "half_width_m" not in properties:
            raise InvalidGeometry(
                "a LineString needs the property half_width_m (a corridor)", "half_width_m"
            )
        return Corridor(coordinates, properties["half_width_m"], limits)  # type: ignore[arg-type]
    raise InvalidGeometry(f"geometry type {kind!r} is not Polygon, Point or LineString")


def _position(coordinates: object) -> list[float]:
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        raise InvalidGeometry("Point coordinates must be [lon, lat]")
    return coordinates


def _time(properties: Mapping[str, Any], name: str) -> float:
    if name not in properties:
        raise InvalidGeometry(f"property {name!r} is missing", name)
    try:
        return parse_rfc3339(properties[name])
    except ValueError as error:
        raise InvalidGeometry(f"{name}: {error}", name) from None


def _volume_from_feature(
    item: object, position: int, seen: set[str], limits: GeoLimits, default_party: str | None
) -> PartyVolume:
    if not isinstance(item, Mapping) or item.get("type") != "Feature":
        raise InvalidDocument(f"features[{position}] is not a GeoJSON Feature")
    properties = item.get("properties")
    if not isinstance(properties, Mapping):
        raise InvalidDocument(f"features[{position}] has no properties object")
    volume_id = properties.get("id")
    if not isinstance(volume_id, str) or not volume_id:
        raise InvalidDocument(f"features[{position}] needs a non-empty string property 'id'")
    if volume_id in seen:
        raise InvalidVolume(volume_id, "id is used by an earlier feature")
    seen.add(volume_id)
    party = properties.get("party", default_party)
    if not isinstance(party, str) or not party:
        raise InvalidVolume(volume_id, "property 'party' must be a non-empty string")
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
            raise InvalidDocument(
                f"features[{i}]: the features' outlines have more than {budget:,} points in "
                "all (long geodesic edges are densified every 10 km), the limit of a record"
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
