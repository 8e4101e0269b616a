"""Smoke test of the API load benchmark: a real server on SQLite, a few notices, both tables."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from benchmarks.api import main

from tests.pg import admin_url


def test_api_bench_runs_small(tmp_path):
    """A second of contended and spread traffic through ``deconflict serve``: every notice is
    filed and its notification reaches the other party's event stream."""
    out = tmp_path / "bench.json"
    stdout = io.StringIO()
    args = ["--backends", "sqlite", "--clients", "2", "--duration-s", "1", "--max-notices", "10"]
    with contextlib.redirect_stdout(stdout):
        code = main([*args, "--json", str(out)])
    assert code == 0
    assert "| sqlite | contended | 1 |" in stdout.getvalue()
    rows = json.loads(out.read_text())
    assert [r["traffic"] for r in rows] == ["contended", "spread"]
    for row in rows:
        assert row["errors"] == 0
        assert row["filed"] > 0
        assert row["delivered"] == row["filed"]
        # Filing and detecting cost the server CPU time, measured in its processes (/proc).
        assert 0 < row["server_cpu_ms"] < 10_000
        assert 0 < row["client_cpu_ms"] < 10_000


@pytest.mark.postgres
def test_api_bench_two_workers_on_postgres(tmp_path, pg_url):
    """With --workers 2 on PostgreSQL every notice filed reaches the other party's stream,
    whichever process each connection landed on."""
    out = tmp_path / "bench.json"
    args = ["--backends", "postgres", "--traffic", "contended", "--workers", "2"]
    args += ["--clients", "4", "--duration-s", "1", "--max-notices", "20"]
    args += ["--pg-url", admin_url()]  # it makes a scratch database there (pg_url: reachable)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["workers"] == 2
    assert row["errors"] == 0
    assert row["filed"] > 0
    assert row["delivered"] == row["filed"]


def test_api_bench_open_loop_files_on_schedule(tmp_path):
    """``--rates 20``: notices go out on a schedule (20 a second for a second and a half), not
    as answers come back; every one due is filed and delivered, and the rate is measured to
    the last answer."""
    out = tmp_path / "bench.json"
    args = ["--backends", "sqlite", "--traffic", "contended", "--rates", "20"]
    args += ["--clients", "2", "--duration-s", "1.5", "--max-notices", "100"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["offered"] == "20/s"
    assert row["errors"] == 0
    assert row["filed"] == 30  # due at 0, 1/20, ... up to the end of the 1.5 s
    assert row["delivered"] == row["filed"]
    assert 0 < row["per_s"] <= 21.0
