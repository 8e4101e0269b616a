"""``deconflict detect`` keeps its contract: sorted pairs on stdout, bad input exit 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from deconflict.cli.main import main

T = ("2015-11-17T05:00:00Z", "2015-11-17T08:00:00Z")


def feature(fid, party, geometry, lower=0, upper=1000, start=T[0], end=T[1], **extra):
    props = {
        "id": fid,
        "party": party,
        "lower_m": lower,
        "upper_m": upper,
        "start": start,
        "end": end,
        **extra,
    }
    return {"type": "Feature", "geometry": geometry, "properties": props}


def point(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


def ring(*coords):
    return {"type": "Polygon", "coordinates": [[*map(list, coords), list(coords[0])]]}


def run(tmp_path, capsys, features, *flags):
    path = tmp_path / "in.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    code = main(["detect", str(path), *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_pairs_are_sorted_and_only_across_parties(tmp_path, capsys):
    """Three overlapping circles of two parties give the two cross-party pairs, a < b, sorted."""
    features = [
        feature("z", "RU", point(39.0, 36.0), radius_m=5000),
        feature("b", "US", point(39.01, 36.0), radius_m=5000),
        feature("a", "US", point(39.02, 36.0), radius_m=5000),
    ]
    code, out, _ = run(tmp_path, capsys, features)
    assert code == 0
    rows = json.loads(out)
    assert [(r["a"], r["b"]) for r in rows] == [("a", "z"), ("b", "z")]
    assert all(r["horizontal_m"] == 0 for r in rows)
    assert rows[0]["overlap_start"] == T[0]


def test_minima_flags_change_the_answer(tmp_path, capsys):
    """Circles 1 km apart conflict only with a horizontal minimum above 1 km."""
    a = feature("a", "RU", point(39.0, 36.0), radius_m=1000)
    east = 39.0 + 3000 / (111_320 * math.cos(math.radians(36.0)))
    b = feature("b", "US", point(east, 36.0), radius_m=1000)
    assert json.loads(run(tmp_path, capsys, [a, b])[1]) == []
    rows = json.loads(run(tmp_path, capsys, [a, b], "--horizontal-m", "1500")[1])
    assert len(rows) == 1
    assert 900 < rows[0]["horizontal_m"] < 1100


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (feature("bad-1", "US", ring((0, 0), (1, 1), (1, 0), (0, 1))), "not simple"),
        (feature("bad-1", "US", ring((0, 0), (1, 0), (2, 0))), "degenerate"),
        (
            feature("bad-1", "US", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}),
            "at least 3",
        ),
        (
            feature(
                "bad-1",
                "US",
                ring(*[(math.cos(i / 1e3), math.sin(i / 1e3)) for i in range(10_001)]),
            ),
            "more than the limit",
        ),
        (feature("bad-1", "US", ring((0, 0), (1, 95), (1, 0))), "latitude 95"),
        (feature("bad-1", "US", ring((0, 0), (200, 1), (1, 0))), "longitude 200"),
        (feature("bad-1", "US", point(0, 0), radius_m=-1), "radius_m must be > 0"),
        (feature("bad-1", "US", point(0, 0)), "needs the property radius_m"),
        (feature("bad-1", "US", point(0, 0), lower=500, upper=500, radius_m=1), "below upper_m"),
        (
            feature("bad-1", "US", point(0, 0), start=T[1], end=T[1], radius_m=1),
            "end must be after",
        ),
        (feature("bad-1", "US", point(0, 0), start="yesterday", radius_m=1), "not RFC 3339"),
        (feature("bad-1", "US", ring((-14, -14), (14, -14), (14, 14), (-14, 14))), "over the cap"),
        (feature("bad-1", "", point(0, 0), radius_m=1), "party"),
        (feature("bad-1", "US", {"type": "MultiPoint", "coordinates": []}), "not Polygon"),
    ],
)
def test_invalid_feature_names_its_id(tmp_path, capsys, bad, reason):
    """An invalid feature is one line naming its id and the reason, exit 2, empty stdout."""
    good = feature("good", "RU", point(39.0, 36.0), radius_m=1000)
    code, out, err = run(tmp_path, capsys, [good, bad])
    assert code == 2
    assert out == ""
    assert "'bad-1'" in err
    assert reason in err
    assert len(err.strip().splitlines()) == 1


def test_nan_in_json_is_refused(tmp_path, capsys):
    """NaN (which Python's JSON reader accepts) is refused as not finite."""
    path = tmp_path / "nan.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point",'
        '"coordinates":[NaN,1]},"properties":{"id":"n","party":"US","radius_m":5,"lower_m":0,'
        '"upper_m":1,"start":"2015-11-17T05:00:00Z","end":"2015-11-17T06:00:00Z"}}]}'
    )
    assert main(["detect", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "'n'" in err
    assert "finite" in err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{", "not valid JSON"),
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": [1]}', "features[0]"),
        ("[" * 100_000 + "]" * 100_000, "nested too deep to read"),
        ('{"n": ' + "9" * 5_000 + "}", "a number too long to read"),
    ],
    ids=["truncated", "not-a-collection", "bad-feature", "deep", "long-number"],
)
def test_bad_documents(tmp_path, capsys, content, reason):
    """Malformed documents are one clear line and exit 2."""
    path = tmp_path / "doc.json"
    path.write_text(content)
    assert main(["detect", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert reason in err


def test_duplicate_ids_are_refused(tmp_path, capsys):
    """Ids must be unique."""
    f = feature("dup", "US", point(0, 0), radius_m=5)
    code, out, err = run(tmp_path, capsys, [f, f])
    assert code == 2
    assert out == ""
    assert "'dup'" in err


def test_console_script_runs(tmp_path):
    """The installed entry point works as a process, with no traceback on bad input."""
    path = tmp_path / "missing.geojson"
    done = subprocess.run(
        [sys.executable, "-m", "deconflict.cli.main", "detect", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "no such file" in done.stderr
    assert "Traceback" not in done.stderr


def test_limits_come_from_the_environment(tmp_path, capsys, monkeypatch):
    """DECONFLICT_MAX_VERTICES and DECONFLICT_MAX_AREA_M2 tighten the footprint limits."""
    square = feature("sq", "US", ring((38, 35), (38.1, 35), (38.1, 35.1), (38, 35.1)))
    assert run(tmp_path, capsys, [square])[0] == 0
    monkeypatch.setenv("DECONFLICT_MAX_VERTICES", "3")
    code, _, err = run(tmp_path, capsys, [square])
    assert code == 2
    assert "limit of 3" in err
    monkeypatch.setenv("DECONFLICT_MAX_VERTICES", "10000")
    monkeypatch.setenv("DECONFLICT_MAX_AREA_M2", "1e6")
    code, _, err = run(tmp_path, capsys, [square])
    assert code == 2
    assert "over the cap" in err
    monkeypatch.setenv("DECONFLICT_MAX_AREA_M2", "lots")
    code, _, err = run(tmp_path, capsys, [square])
    assert code == 2
    assert "DECONFLICT_MAX_AREA_M2='lots' is not a number" in err
