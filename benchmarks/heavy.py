"""Heavy input against a real ``deconflict serve``: how much one party's costly, valid filings
slow another party's reads.

    python -m benchmarks.heavy [--filings 4] [--vertices 10000] [--json bench-heavy.json]

Parties A and B share an agreement (full disclosure). B lists its own notices
(``GET /v1/notices?party=B``, so what a read shows does not grow with A's filings) one request
after another, the rate limit off: first on an idle hub (the baseline), then while A files
``--filings`` star polygons of ``--vertices`` vertices each, one after another (valid, and the
shape that makes validating them cost the most: every edge's bounding box overlaps every
other's). The table gives B's latency median and p90 in each case and their ratio to the
baseline, and how long A's filings took (security.md §4.2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from deconflict.api import issue_local_token
from deconflict.engine import SeparationMinima
from deconflict.hub import Hub
from deconflict.model import Agreement, Disclosure
from deconflict.settings import local_state_path
from deconflict.testing import served

__all__ = ["main", "star_feature"]

_BASELINE_READS = 60


def star_feature(fid: str, vertices: int, lon: float = 39.0, lat: float = 35.95) -> dict[str, Any]:
    """A valid star polygon of ``vertices`` vertices, 55 km out, as a GeoJSON Feature."""
    ring = []
    for k in range(vertices):
        angle = 2 * math.pi * k / vertices
        radius = 0.5 if k % 2 == 0 else 0.05
        ring.append(
            [
                lon + radius * math.cos(angle) / math.cos(math.radians(lat)),
                lat + radius * math.sin(angle),
            ]
        )
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        "properties": {
            "id": fid,
            "lower_m": 1_000.0,
            "upper_m": 3_000.0,
            "start": "2099-01-01T06:00:00Z",
            "end": "2099-01-01T08:00:00Z",
        },
    }


def _hub(folder: Path) -> Path:
    db = folder / "heavy.db"
    with Hub.open(db) as hub:
        for party in ("A", "B"):
            hub.add_party(party)
        hub.add_agreement(
            Agreement(
                id="AB",
                parties=("A", "B"),
                minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
                default_disclosure=Disclosure.FULL,
            )
        )
    return db


def _reads(http: httpx.Client, until: threading.Event | None, count: int) -> list[float]:
    """B's read latencies (ms): ``count`` of them, or as many as fit until ``until`` is set."""
    out: list[float] = []
    while (until is None and len(out) < count) or (until is not None and not until.is_set()):
        started = time.perf_counter()
        http.get("/v1/notices", params={"party": "B"}).raise_for_status()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _row(case: str, latencies: list[float], baseline: float) -> dict[str, Any]:
    median = statistics.median(latencies)
    p90 = statistics.quantiles(latencies, n=10)[-1] if len(latencies) >= 2 else latencies[0]
    return {
        "case": case,
        "reads": len(latencies),
        "median_ms": round(median, 2),
        "p90_ms": round(p90, 2),
        "ratio": round(median / baseline, 2),
    }


def run(filings: int, vertices: int) -> dict[str, Any]:
    """The measurement, on a fresh hub in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        db = _hub(Path(folder))
        state = local_state_path(str(db))
        a = {"Authorization": f"Bearer {issue_local_token(state, 'A', ['read', 'notice'])}"}
        b = {"Authorization": f"Bearer {issue_local_token(state, 'B', ['read'])}"}
        with (
            served(db, env={**os.environ, "DECONFLICT_RATE_PER_S": "0"}) as url,
            httpx.Client(base_url=url, headers=a, timeout=300) as filer,
            httpx.Client(base_url=url, headers=b, timeout=300) as reader,
        ):
            _reads(reader, None, 10)  # warm-up
            idle = _reads(reader, None, _BASELINE_READS)
            done = threading.Event()
            took: list[float] = []

            def file_all() -> None:
                try:
                    for n in range(filings):
                        body = {
                            "type": "FeatureCollection",
                            "category": "hazard-area",
                            "features": [star_feature(f"star-{n}", vertices, lon=30.0 + 2 * n)],
                        }
                        started = time.perf_counter()
                        filer.post("/v1/notices", json=body).raise_for_status()
                        took.append(time.perf_counter() - started)
                finally:
                    done.set()

            heavy = threading.Thread(target=file_all)
            heavy.start()
            busy = _reads(reader, done, 0)
            heavy.join()
    baseline = statistics.median(idle)
    return {
        "filings": filings,
        "vertices": vertices,
        "filing_s_median": round(statistics.median(took), 2) if took else None,
        "rows": [_row("idle", idle, baseline), _row("heavy filings", busy, baseline)],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filings", type=int, default=4)
    parser.add_argument("--vertices", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = run(args.filings, args.vertices)
    print(
        f"B's GET /v1/notices while A files {result['filings']} star polygons of "
        f"{result['vertices']:,} vertices (each filing {result['filing_s_median']} s median)"
    )
    print(f"{'case':<14} {'reads':>6} {'median ms':>10} {'p90 ms':>8} {'ratio':>6}")
    for row in result["rows"]:
        print(
            f"{row['case']:<14} {row['reads']:>6} {row['median_ms']:>10.2f} "
            f"{row['p90_ms']:>8.2f} {row['ratio']:>6.2f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
