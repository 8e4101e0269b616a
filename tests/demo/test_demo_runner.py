"""The demo plays the Raqqa week through a real hub and meets every expectation."""

from __future__ import annotations

import json

from deconflict.cli.main import main
from deconflict.demo.runner import run_demo


def test_demo_meets_the_scenario(tmp_path):
    """Every outcome check passes and the report folder holds its three files."""
    lines: list[str] = []
    result = run_demo(tmp_path / "report", lines.append)
    assert result.ok
    assert len(result.checks) >= 10
    text = "\n".join(lines)
    assert "CONFLICT" in text
    assert "LATE" in text
    assert "ESCALATED" in text
    assert "via CAOC" in text
    assert text.count("ESCALATED") == 1
    geojson = json.loads(result.files.geojson.read_text())
    assert geojson["type"] == "FeatureCollection"
    assert result.files.map.stat().st_size > 20_000
    assert "RU-N3-1" in result.files.summary.read_text()


def test_the_demo_runs_again_in_its_own_folder(tmp_path):
    """A second run into the same folder starts a new log: the checkpoint the first run's hub
    signed, kept beside the key, halted the second's hub at once (a second `make demo` failed
    with "entries were deleted from its end")."""
    folder = tmp_path / "report"
    assert run_demo(folder, lambda line: None).ok
    assert run_demo(folder, lambda line: None).ok


def test_demo_command(tmp_path, capsys):
    """``deconflict demo --report DIR`` exits 0 and prints the timeline."""
    assert main(["demo", "--report", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Raqqa" in out
    assert "FAIL" not in out
