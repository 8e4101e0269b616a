"""Smoke test of the ledger benchmark at a tiny size: it runs and prints both tables."""

from __future__ import annotations

import contextlib
import io
import json

from benchmarks.ledger import main


def test_ledger_bench_runs_small(tmp_path):
    """Proof timings and the with/without-ledger filing comparison, in Markdown and JSON."""
    out = tmp_path / "bench.json"
    stdout = io.StringIO()
    args = ["--entries", "300", "--samples", "20", "--filings", "10", "--repeats", "1"]
    with contextlib.redirect_stdout(stdout):
        code = main([*args, "--json", str(out)])
    assert code == 0
    assert "inclusion build store" in stdout.getvalue()
    figures = json.loads(out.read_text())
    assert figures["proofs"]["entries"] == 300
    assert figures["filing"]["ratio"] > 0
