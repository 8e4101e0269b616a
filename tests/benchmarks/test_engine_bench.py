"""Smoke test of the engine benchmark at a tiny size: it runs, prints its tables, and every method
returns the same result sets as the index (brute force always; PostGIS when the extension can be
created, and then it must, when DECONFLICT_REQUIRE_POSTGIS=1)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from benchmarks.engine import main

QUERIES = 40


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, object]]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    args = ["--sizes", "500", "--queries", str(QUERIES), "--brute-queries", str(QUERIES)]
    # Half a day instead of a week, so that 500 volumes make a few conflicts to compare.
    args += ["--span-days", "0.5", "--budget", "10", "--no-install", "--json", str(out)]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(args)
    return code, stdout.getvalue(), json.loads(Path(out).read_text())


def test_prints_the_tables(bench: tuple[int, str, dict[str, object]]) -> None:
    code, stdout, _ = bench
    assert code == 0
    assert "| engine p50 ms |" in stdout
    assert "| 500 | sparse |" in stdout
    assert "| 500 | dense |" in stdout
    assert "| index build s |" in stdout


def test_engine_and_brute_agree(bench: tuple[int, str, dict[str, object]]) -> None:
    (result,) = bench[2]["results"]  # type: ignore[misc]
    conflicts = 0.0
    for kind in ("sparse", "dense"):
        per_kind = result["queries"][kind]
        assert per_kind["engine"]["count"] == QUERIES
        assert per_kind["brute"]["count"] == QUERIES
        assert per_kind["brute"]["mismatches"] == 0
        conflicts += per_kind["engine"]["mean_conflicts"]
    assert conflicts > 0, "the smoke data should make some conflicts, or the comparison is empty"
    assert result["all_pairs"]["identical_to_brute"] is True
    assert result["all_pairs"]["pairs_found"] > 0


def test_postgis_agrees_when_available(bench: tuple[int, str, dict[str, object]]) -> None:
    (result,) = bench[2]["results"]  # type: ignore[misc]
    status = result["postgis"]["status"]
    if status != "ok":
        assert os.environ.get("DECONFLICT_REQUIRE_POSTGIS") != "1", status
        return
    for kind in ("sparse", "dense"):
        per_kind = result["queries"][kind]["postgis"]
        assert per_kind["count"] == QUERIES
        assert per_kind["mismatches"] == 0
