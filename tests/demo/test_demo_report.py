"""The report folder: summary.md, volumes.geojson (valid RFC 7946) and map.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely

from deconflict.demo.report import (
    Report,
    ReportAdjustment,
    ReportAgreement,
    ReportConflict,
    ReportEscalation,
    ReportEvent,
    ReportLateNotice,
    ReportParty,
    ReportView,
    ReportVolume,
    volumes_geojson,
    write_report,
)
from deconflict.demo.scenario_document import load_scenario
from deconflict.geo import Circle, Volume4D

TUESDAY = 1_447_740_000.0  # 2015-11-17T06:00:00Z


def scenario_report() -> Report:
    """A report filled from the scenario as a runner would, with its expected outcomes."""
    scenario = load_scenario()
    volumes = [
        ReportVolume(v.id, n.party, "notice", n.id, n.category, v)
        for n in scenario.notices
        for v in n.volumes
    ] + [
        ReportVolume(v.id, p.party, "plan", p.id, p.category, v)
        for p in scenario.plans
        for v in p.volumes
    ]
    expected = scenario.expect.conflicts[0]
    conflict = ReportConflict(
        "C1",
        expected.volumes,
        ("US", "RU"),
        expected.starts_s,
        expected.starts_s + 7200,
        expected.detected_at_s,
        "US",
        expected.detected_at_s,
        "cleared",
        "US-P1 moved 2 h 10 min later",
    )
    late = scenario.expect.late_notices[0]
    escalation = scenario.expect.escalations[0]
    return Report(
        title=scenario.title,
        parties=[ReportParty.from_party(p) for p in scenario.parties],
        agreements=[
            ReportAgreement.from_agreement(a, scenario.agreement_titles[a.id])
            for a in scenario.agreements
        ],
        volumes=volumes,
        events=[
            ReportEvent(s.at_s, type(s).__name__, getattr(s, "by", "")) for s in scenario.steps
        ],
        conflicts=[conflict],
        adjustments=[ReportAdjustment(TUESDAY - 32_400, "US-P1", "US-P1-1", "time", 7800, ("C1",))],
        late_notices=[
            ReportLateNotice(late.notice, "RU", TUESDAY - 14_400, TUESDAY + 5400, late.required_s)
        ],
        escalations=[
            ReportEscalation(
                escalation.recipient,
                escalation.notice,
                escalation.deadline_s - 1800,
                escalation.deadline_s,
                escalation.deadline_s,
                "CAOC",
            )
        ],
        views=[
            ReportView("US", "RU-N1", "RU", "volumes", "volumes and times only"),
            ReportView("RU", "US-P1", "US", "none", "nothing"),
        ],
        notes=scenario.notes,
        sources=scenario.sources,
    )


def check_ring(ring: list[list[float]], exterior: bool) -> None:
    assert len(ring) >= 4
    assert ring[0] == ring[-1]
    for lon, lat in ring:
        assert -180.0 <= lon <= 180.0
        assert -90.0 <= lat <= 90.0
    ccw = shapely.LinearRing(ring).is_ccw
    assert ccw is exterior  # RFC 7946: exterior rings counterclockwise, holes clockwise


def check_geometry(geometry: dict[str, Any]) -> None:
    kind = geometry["type"]
    if kind == "Polygon":
        polygons = [geometry["coordinates"]]
    elif kind == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        assert kind == "LineString"
        assert len(geometry["coordinates"]) >= 2
        return
    for rings in polygons:
        for i, ring in enumerate(rings):
            check_ring(ring, exterior=(i == 0))
    assert shapely.from_geojson(json.dumps(geometry)).is_valid


def test_geojson_is_valid_with_one_feature_per_volume_and_conflict() -> None:
    """Every volume and every conflict is one valid feature with its properties."""
    report = scenario_report()
    collection = json.loads(json.dumps(volumes_geojson(report.volumes, report.conflicts)))
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert len(features) == len(report.volumes) + len(report.conflicts) == 13
    for feature in features:
        assert feature["type"] == "Feature"
        check_geometry(feature["geometry"])
    first = features[0]["properties"]
    assert set(first) >= {"id", "party", "kind", "lower_m", "upper_m", "start", "end"}
    assert first["start"].endswith("Z")
    conflict = features[-1]["properties"]
    assert conflict["kind"] == "conflict"
    assert conflict["lead_time"] == "10 h ahead"
    assert features[-1]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_an_adjusted_copy_keeps_its_own_name_on_the_map() -> None:
    """The demo shows a plan's volume moved by an adjustment beside the original, named apart
    ("US-P1-1 v2"): the map's feature says that name, not the volume's own id twice."""
    original = scenario_report().volumes[-1]
    moved = ReportVolume(
        f"{original.id} v2",
        original.party,
        "plan",
        original.owner,
        original.category,
        original.volume,
        "active",
    )
    collection = volumes_geojson([original, moved])
    assert [f["properties"]["id"] for f in collection["features"]] == [original.id, moved.id]


def test_geojson_splits_a_volume_across_the_antimeridian() -> None:
    """A circle on the antimeridian becomes a MultiPolygon cut at 180 degrees."""
    volume = Volume4D.build("FJ", Circle((180.0, -17.0), 50_000), 0, 1000, 0.0, 60.0)
    collection = volumes_geojson([ReportVolume("FJ", "X", "notice", "N", "air-activity", volume)])
    geometry = collection["features"][0]["geometry"]
    assert geometry["type"] == "MultiPolygon"
    check_geometry(geometry)
    lons = {lon for polygon in geometry["coordinates"] for lon, _ in polygon[0]}
    assert max(lons) == 180.0
    assert min(lons) == -180.0


def test_write_report_folder(tmp_path: Path) -> None:
    """The folder gets summary.md with every section, volumes.geojson and a PNG map."""
    atlas = tmp_path / "atlas.json"
    atlas.write_text(
        json.dumps(
            {
                "type": "Topology",
                "arcs": [[[36.0, 32.0], [42.0, 32.0], [42.0, 37.0], [36.0, 37.0], [36.0, 32.0]]],
                "objects": {
                    "countries": {
                        "type": "GeometryCollection",
                        "geometries": [
                            {"type": "Polygon", "arcs": [[0]], "properties": {"name": "Syria"}}
                        ],
                    }
                },
            }
        ),
        encoding="utf-8",
    )
    files = write_report(tmp_path / "report", scenario_report(), atlas=atlas)
    summary = files.summary.read_text(encoding="utf-8")
    for heading in (
        "## Parties",
        "## Agreements",
        "## Timeline",
        "## Conflicts",
        "## Adjustments",
        "## Late notices",
        "## Escalations",
        "## What each party sees",
        "### RU",
        "![Volumes and conflicts](map.png)",
    ):
        assert heading in summary
    assert "10 h ahead" in summary
    assert "moved 2 h 10 min later" in summary
    assert "5 h 30 min ahead, 30 min short of the 6 h required" in summary
    assert "US-RU-MOU | US - RU | CAOC | 6 h | 30 min | 9,260 m / 610 m / 10 min" in summary
    assert "Mon 16 Nov 2015 20:30Z" in summary
    assert json.loads(files.geojson.read_text(encoding="utf-8"))["features"]
    assert files.map.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_report_says_so(tmp_path: Path) -> None:
    """A report with nothing in it still writes all three files and says there was nothing."""
    files = write_report(tmp_path, Report(title="Empty"))
    summary = files.summary.read_text(encoding="utf-8")
    assert "No conflicts." in summary
    assert "Every notice met its minimum lead time." in summary
    assert json.loads(files.geojson.read_text(encoding="utf-8"))["features"] == []
    assert files.map.stat().st_size > 1000
