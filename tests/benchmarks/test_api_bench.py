"""Smoke test of the API load benchmark: a real server on SQLite, a few notices, both tables."""

from __future__ import annotations

import contextlib
import io
import json

from benchmarks.api import main


def test_api_bench_runs_small(tmp_path):
    """A second of contended and spread traffic through ``deconflict serve``: every notice is
    filed and its notification reaches the other party's event stream."""
    out = tmp_path / "bench.json"
    stdout = io.StringIO()
    args = ["--backends", "sqlite", "--clients", "2", "--duration-s", "1", "--max-notices", "10"]
    with contextlib.redirect_stdout(stdout):
        code = main([*args, "--json", str(out)])
    assert code == 0
    assert "| sqlite | contended |" in stdout.getvalue()
    rows = json.loads(out.read_text())
    assert [r["traffic"] for r in rows] == ["contended", "spread"]
    for row in rows:
        assert row["errors"] == 0
        assert row["filed"] > 0
        assert row["delivered"] == row["filed"]
