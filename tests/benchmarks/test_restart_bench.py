"""Smoke test of the restart benchmark at a tiny size: it fills a store through the hub, starts
the hub on it again step by step and prints the table."""

from __future__ import annotations

import contextlib
import io
import json

from benchmarks.restart import main, serve_ready


def test_restart_bench_runs_small(tmp_path):
    """Every notice filed is indexed again at the restart, and each step has its figure."""
    out = tmp_path / "bench.json"
    stdout = io.StringIO()
    args = ["--sizes", "200", "--no-serve", "--keep", str(tmp_path / "kept")]
    with contextlib.redirect_stdout(stdout):
        code = main([*args, "--json", str(out)])
    assert code == 0
    assert "detector rebuild" in stdout.getvalue()
    (figures,) = json.loads(out.read_text())
    assert figures["fill"]["ledger_entries"] > 200
    restart = figures["sqlite"]
    assert restart["indexed"] == 200
    assert set(restart["rebuild_parts"]) == {"read_s", "volumes_s", "sides_s", "index_s"}


def test_serve_on_the_filled_store_listens_and_detects(tmp_path):
    """The benchmark's real ``serve``: both its marks are seen (listening, detecting)."""
    kept = tmp_path / "kept"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--sizes", "50", "--no-serve", "--keep", str(kept)]) == 0
    figures = serve_ready(kept / "restart-50.db", timeout_s=120.0)
    assert figures["ready_s"] is not None
    assert figures["detecting_s"] is not None
