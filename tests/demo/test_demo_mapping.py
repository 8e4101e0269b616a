"""The TopoJSON decoder, finding the world atlas, and the PNG map."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from deconflict.demo.mapping import (
    conflict_geometry,
    decode_topology,
    read_countries,
    render_map,
    unwrap_ring,
)
from deconflict.demo.report import ReportConflict, ReportVolume
from deconflict.errors import InvalidDocument
from deconflict.geo import Circle, Polygon, Volume4D
from deconflict.web import assets
from deconflict.web.assets import ATLAS_ENV, WebAssetsMissing, countries_file

#: Two unit squares sharing the edge x = 1 (arc 1), quantized with scale 0.5 and delta-encoded:
#: arc 0 is the left square's outer edge, arc 1 the shared edge, arc 2 the right square's.
TINY: dict[str, Any] = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.5], "translate": [10.0, 20.0]},
    "arcs": [
        [[2, 0], [-2, 0], [0, 2], [2, 0]],  # (11,20) -> (10,20) -> (10,21) -> (11,21)
        [[2, 2], [0, -2]],  # (11,21) -> (11,20)
        [[2, 2], [2, 0], [0, -2], [-2, 0]],  # (11,21) -> (12,21) -> (12,20) -> (11,20)
    ],
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "id": "L", "properties": {"name": "Left"}, "arcs": [[0, 1]]},
                {
                    "type": "MultiPolygon",
                    "id": "R",
                    "properties": {"name": "Right"},
                    "arcs": [[[2, ~1]]],
                },
                {"type": None, "id": "N", "properties": {"name": "Nowhere"}},
            ],
        }
    },
}


def test_decode_tiny_topology() -> None:
    """Quantized delta arcs decode to absolute positions; ~1 walks the shared arc backwards."""
    left, right, nowhere = decode_topology(TINY)
    assert (left.id, left.name) == ("L", "Left")
    assert left.polygons == (
        (((11.0, 20.0), (10.0, 20.0), (10.0, 21.0), (11.0, 21.0), (11.0, 20.0)),),
    )
    assert right.polygons == (
        (((11.0, 21.0), (12.0, 21.0), (12.0, 20.0), (11.0, 20.0), (11.0, 21.0)),),
    )
    assert nowhere.polygons == ()


def test_decode_untransformed_topology() -> None:
    """Without a transform, arcs hold absolute positions."""
    topology = {
        "type": "Topology",
        "arcs": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]],
        "objects": {"countries": {"type": "Polygon", "arcs": [[0]]}},
    }
    (country,) = decode_topology(topology)
    assert country.polygons[0][0] == ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0))


@pytest.mark.parametrize(
    "topology",
    [
        {"type": "FeatureCollection"},
        {"type": "Topology", "arcs": [], "objects": {}},
        {
            "type": "Topology",
            "arcs": [],
            "objects": {"countries": {"type": "Polygon", "arcs": [[5]]}},
        },
    ],
)
def test_bad_topology(topology: dict[str, Any]) -> None:
    """A document that is not a usable topology is an InvalidDocument."""
    with pytest.raises(InvalidDocument):
        decode_topology(topology)


def test_unwrap_ring_across_the_antimeridian() -> None:
    """A ring crossing 180 degrees becomes continuous and sits nearest the centre asked for."""
    ring = [(179.0, 0.0), (-179.0, 0.0), (-179.0, 1.0), (179.0, 1.0), (179.0, 0.0)]
    assert unwrap_ring(ring, 180.0) == [
        (179.0, 0.0),
        (181.0, 0.0),
        (181.0, 1.0),
        (179.0, 1.0),
        (179.0, 0.0),
    ]
    assert unwrap_ring(ring, -180.0)[0] == (-181.0, 0.0)


def test_unwrap_ring_around_a_pole() -> None:
    """A ring that goes once around the south pole is closed along the pole."""
    ring = [(-180.0, -80.0), (-90.0, -78.0), (0.0, -80.0), (90.0, -78.0), (180.0, -80.0)]
    out = unwrap_ring(ring)
    assert out[-2:] == [(180.0, -90.0), (-180.0, -90.0)]


def test_countries_file_from_env(tmp_path: Path) -> None:
    """The environment variable wins; one naming a missing file is a clear error."""
    atlas = tmp_path / "countries.json"
    atlas.write_text("{}", encoding="utf-8")
    assert countries_file({ATLAS_ENV: str(atlas)}) == atlas
    with pytest.raises(WebAssetsMissing, match="not a file"):
        countries_file({ATLAS_ENV: str(tmp_path / "none.json")})


def test_countries_file_missing_names_path_and_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the variable and without the vendored file (a checkout before `make setup`),
    the error names the path and `make setup`."""
    monkeypatch.setattr(assets, "vendor_dir", lambda: tmp_path / "vendor")
    with pytest.raises(WebAssetsMissing, match="make setup") as caught:
        countries_file({})
    assert str(tmp_path / "vendor/world-atlas/countries-50m.json") in str(caught.value)


def test_countries_file_in_the_package() -> None:
    """Without the variable, the package's copy of world-atlas is found and decodes."""
    path = countries_file({})
    assert path.parent == assets.vendor_dir() / "world-atlas"
    assert path.name == "countries-50m.json"
    countries = read_countries(path)
    assert {"Syria", "Iraq", "Turkey", "Russia", "Fiji"} <= {c.name for c in countries}


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def demo_volumes() -> tuple[list[ReportVolume], list[ReportConflict]]:
    day = 1_447_740_000.0
    area = Volume4D.build("RU-A", Circle((39.01, 35.95), 40_000), 0, 12_500, day, day + 3600)
    box = Polygon([(38.8, 36.2), (39.6, 36.2), (39.6, 36.7), (38.8, 36.7)])
    plan = Volume4D.build("US-B", box, 6100, 7600, day, day + 7200)
    volumes = [
        ReportVolume("RU-A", "RU", "notice", "RU-N", "hazard-area", area),
        ReportVolume("US-B", "US", "plan", "US-P", "air-activity", plan),
    ]
    conflict = ReportConflict(
        "C1", ("US-B", "RU-A"), ("US", "RU"), day, day + 3600, day - 36_000, "US", day - 36_000
    )
    return volumes, [conflict]


def test_conflict_geometry_overlap_and_gap() -> None:
    """Overlapping outlines meet in an area; apart, in the shortest line between them."""
    volumes, _ = demo_volumes()
    a, b = (v.volume.footprint.outline() for v in volumes)
    assert conflict_geometry(a, b).area > 0
    far = Circle((39.01, 37.2), 10_000).outline()
    line = conflict_geometry(a, far)
    assert line.geom_type == "LineString"
    assert line.length > 0


def test_render_map_writes_a_real_png(tmp_path: Path) -> None:
    """The map is a PNG of a sensible size with more than a few colours in it."""
    volumes, conflicts = demo_volumes()
    countries = decode_topology(TINY)
    path = render_map(tmp_path / "map.png", volumes, conflicts, countries, title="test")
    width, height = png_size(path)
    assert width >= 600
    assert height >= 400
    assert path.stat().st_size > 20_000
    assert len(set(_pixels(path))) > 20


def _pixels(path: Path) -> bytes:
    """The decompressed image data (filter bytes included): enough to tell a blank image."""
    data = path.read_bytes()
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return zlib.decompress(b"".join(chunks))
