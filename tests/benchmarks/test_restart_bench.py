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
    assert restart["file_mb"] > 0  # the index file written after the rebuild from the store
    again = figures["sqlite_file"]  # then read back from it
    assert again["indexed"] == 200
    assert "replay_s" in again["rebuild_parts"]
    assert "save_s" not in again


def test_serve_on_the_filled_store_listens_and_detects(tmp_path):
    """The benchmark's real ``serve``: both its marks are seen (listening, detecting)."""
    kept = tmp_path / "kept"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--sizes", "50", "--no-serve", "--keep", str(kept)]) == 0
    db = kept / "restart-50.db"
    index = kept / "restart-50.db.index"
    index.unlink()  # the benchmark's own: this serve rebuilds from the store
    figures = serve_ready(db, timeout_s=120.0)
    assert figures["ready_s"] is not None
    assert figures["detecting_s"] is not None
    assert figures["from_file"] == 0.0
    assert index.exists()  # written as serve stopped (its detector let the lease go)
    again = serve_ready(db, timeout_s=120.0)
    assert again["detecting_s"] is not None
    assert again["from_file"] == 1.0
