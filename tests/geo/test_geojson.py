"""A bad feature of a FeatureCollection is refused saying where: the feature's index and the
member at fault, first in the message (``features[1].geometry.coordinates: ...``) and as a JSON
pointer in the error's ``field``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from deconflict.errors import InvalidDocument, InvalidVolume
from deconflict.geo import GeoLimits
from deconflict.geo.geojson import parse_feature_collection


def circle(volume_id: str = "v1", **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [39.0, 35.9]},
        "properties": {
            "id": volume_id,
            "party": "US",
            "radius_m": 1_000.0,
            "lower_m": 0.0,
            "upper_m": 1_000.0,
            "start": "2099-01-01T00:00:00Z",
            "end": "2099-01-01T01:00:00Z",
            **properties,
        },
    }


def with_geometry(kind: str, coordinates: Any, **properties: Any) -> dict[str, Any]:
    feature = circle("v2", **properties)
    feature["geometry"] = {"type": kind, "coordinates": coordinates}
    return feature


def without(name: str) -> dict[str, Any]:
    feature = circle("v2")
    del feature["properties"][name]
    return feature


SQUARE = [[39.0, 35.0], [39.1, 35.0], [39.1, 35.1], [39.0, 35.1], [39.0, 35.0]]
BOWTIE = [[39.0, 35.0], [39.1, 35.1], [39.1, 35.0], [39.0, 35.1], [39.0, 35.0]]


@pytest.mark.parametrize(
    ("bad", "path", "kind"),
    [
        (5, "features[1]", InvalidDocument),
        ({"type": "Feature"}, "features[1].properties", InvalidDocument),
        (circle(""), "features[1].properties.id", InvalidDocument),
        (circle("v1"), "features[1].properties.id", InvalidVolume),  # the first's id again
        (circle("v2", party=""), "features[1].properties.party", InvalidVolume),
        (without("start"), "features[1].properties.start", InvalidVolume),
        (circle("v2", end="tomorrow"), "features[1].properties.end", InvalidVolume),
        (without("lower_m"), "features[1].properties.lower_m", InvalidVolume),
        (circle("v2", lower_m=2_000.0), "features[1].properties.upper_m", InvalidVolume),
        (circle("v2", end="2100-06-01T00:00:00Z"), "features[1].properties.end", InvalidVolume),
        (without("radius_m"), "features[1].properties.radius_m", InvalidVolume),
        (circle("v2", radius_m=-5.0), "features[1].properties.radius_m", InvalidVolume),
        ({**circle("v2"), "geometry": [39, 35]}, "features[1].geometry", InvalidVolume),
        (with_geometry("MultiPoint", []), "features[1].geometry.type", InvalidVolume),
        (with_geometry("Point", [39.0]), "features[1].geometry.coordinates", InvalidVolume),
        (
            with_geometry("Point", [39.0, 91.0]),
            "features[1].geometry.coordinates",
            InvalidVolume,
        ),
        (
            with_geometry("Polygon", [SQUARE, SQUARE]),
            "features[1].geometry.coordinates",
            InvalidVolume,
        ),
        (with_geometry("Polygon", [BOWTIE]), "features[1].geometry.coordinates", InvalidVolume),
        (
            with_geometry("LineString", [[39.0, 35.0], [39.0, 35.0]], half_width_m=50.0),
            "features[1].geometry.coordinates",
            InvalidVolume,
        ),
        (
            with_geometry("LineString", [[39.0, 35.0], [39.1, 35.0]]),
            "features[1].properties.half_width_m",
            InvalidVolume,
        ),
    ],
    ids=[
        "not-an-object",
        "no-properties",
        "blank-id",
        "id-used-twice",
        "blank-party",
        "no-start",
        "bad-end",
        "no-lower",
        "lower-above-upper",
        "window-too-long",
        "point-without-radius",
        "negative-radius",
        "geometry-not-an-object",
        "unknown-geometry-type",
        "point-of-one-number",
        "latitude-out-of-range",
        "polygon-with-a-hole",
        "self-intersecting-ring",
        "corridor-of-one-position",
        "corridor-without-width",
    ],
)
def test_a_bad_feature_is_named_by_index_and_member(bad: Any, path: str, kind: type) -> None:
    """The feature after a good one is refused: its error starts with its path, and its
    ``field`` is the same place as a JSON pointer."""
    with pytest.raises(kind) as refused:
        parse_feature_collection({"type": "FeatureCollection", "features": [circle(), bad]})
    assert str(refused.value).startswith(f"{path}: ")
    pointer = "/" + path.replace("[", ".").replace("]", "").replace(".", "/")
    assert refused.value.field == pointer


def test_a_volume_error_still_names_the_volume() -> None:
    """The volume's id and the reason follow the place, as before."""
    with pytest.raises(InvalidVolume) as refused:
        parse_feature_collection(
            {"type": "FeatureCollection", "features": [circle("v7", radius_m=-5.0)]}
        )
    assert str(refused.value) == (
        "features[0].properties.radius_m: volume 'v7': circle radius_m must be > 0, got -5"
    )
    assert (refused.value.volume, refused.value.part) == ("v7", "radius_m")


def test_a_circle_too_large_is_its_radius_and_a_bad_centre_its_coordinates() -> None:
    """A circle's faults of no particular part are told apart: the area a radius gives it is
    the radius's, a centre out of range the coordinates'."""
    small = GeoLimits(max_area_m2=1e6)
    document = {"type": "FeatureCollection", "features": [circle(radius_m=10_000.0)]}
    with pytest.raises(InvalidVolume, match="over the cap") as refused:
        parse_feature_collection(document, small)
    assert refused.value.field == "/features/0/properties/radius_m"
    off = copy.deepcopy(document)
    off["features"][0]["geometry"]["coordinates"] = [181.0, 35.9]
    with pytest.raises(InvalidVolume, match="out of range") as refused:
        parse_feature_collection(off, small)
    assert refused.value.field == "/features/0/geometry/coordinates"


def test_the_point_budget_names_the_feature_that_crossed_it() -> None:
    """The densified outlines of all features past the record's budget: refused at the
    feature whose outline crossed it (a point, then a square of 5 positions given, 1 + 6
    points densified, against a budget of 6)."""
    document = {
        "type": "FeatureCollection",
        "features": [circle(), with_geometry("Polygon", [SQUARE])],
    }
    assert len(parse_feature_collection(document, GeoLimits(max_record_points=7))) == 2
    with pytest.raises(InvalidDocument) as refused:
        parse_feature_collection(document, GeoLimits(max_record_points=6))
    assert str(refused.value).startswith("features[1].geometry.coordinates: ")
    assert refused.value.field == "/features/1/geometry/coordinates"
