"""Engine benchmark: deconflict's VolumeIndex beside a brute-force scan and PostgreSQL/PostGIS.

    python -m benchmarks.engine --sizes 10000,100000,1000000 --json bench-engine.json

For each size, on the same seeded clustered data (:mod:`benchmarks.data`) and the same query
volumes, under the same separation minima:

- volume construction time (Volume4D.build validates, as intake does) and memory, measured apart
  from the index; and the time to read them back as a restart does, from the JSON text the store
  keeps, many at once (the same volumes, checked);
- index bulk-build time and memory (VmRSS delta around the build);
- sparse and dense query latency, p50 and p99, for the engine, a brute-force exact scan (a bounded
  handful of queries) and PostGIS (GiST candidates plus the same exact rule on the client, see
  :mod:`benchmarks.postgis`); the result sets are compared query by query; a query's time is its
  median over three passes (the machine is shared and noisy);
- all-pairs throughput: every conflicting pair of the indexed volumes, by the index's sweep, in
  ``--processes`` processes (one a core by default).

A Markdown table goes to stdout, the figures to ``--json``. Every loop is bounded in count and in
time (``--budget``). The exit status is 1 when any result sets differ.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import data
from benchmarks.data import MINIMA, Query
from deconflict.engine import Entry, VolumeIndex, brute_conflicts_with, brute_pairs
from deconflict.hub.collection import collection_paused
from deconflict.store.codec import volume_columns_from_json_many, volumes_to_json

__all__ = ["main", "run_size"]

Keys = frozenset[str]
Timed = list[tuple[float, Keys]]
_KINDS = ("sparse", "dense")
_WARMUP = 20
_READ_PAGE = 10_000  # records a page, as the detector's rebuild reads them
_PASSES = 3


def rss_mb() -> float:
    """Resident set size of this process, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _keys(entries: Sequence[Entry]) -> Keys:
    return frozenset(e.key for e in entries)


def time_queries(
    run: Callable[[Query], Sequence[Entry]], queries: Sequence[Query], budget_s: float
) -> Timed:
    """Run ``queries`` in order until done or out of budget; (seconds, result keys) per query."""
    out: Timed = []
    deadline = time.perf_counter() + budget_s
    for query in queries:
        started = time.perf_counter()
        found = run(query)
        out.append((time.perf_counter() - started, _keys(found)))
        if time.perf_counter() > deadline:
            break
    return out


def time_passes(
    run: Callable[[Query], Sequence[Entry]], queries: Sequence[Query], budget_s: float
) -> Timed:
    """``_PASSES`` passes over the queries (sharing the budget); each query's time is its median
    over the passes, so that a burst of noise on this shared machine does not make a p99.
    Result sets are those of the first pass, and every pass must agree with it."""
    passes = [time_queries(run, queries, budget_s / _PASSES) for _ in range(_PASSES)]
    count = min(len(p) for p in passes)
    first = passes[0]
    for other in passes[1:]:
        assert all(a[1] == b[1] for a, b in zip(first, other, strict=False)), "unstable results"
    return [(statistics.median(p[i][0] for p in passes), first[i][1]) for i in range(count)]


def latency(timed: Timed) -> dict[str, float]:
    """p50, p99 and mean in milliseconds, and the mean number of conflicts."""
    if not timed:
        return {}
    ms = sorted(t * 1e3 for t, _ in timed)
    return {
        "count": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
        "mean_ms": statistics.fmean(ms),
        "mean_conflicts": statistics.fmean(len(keys) for _, keys in timed),
    }


def mismatches(reference: Timed, other: Timed) -> int:
    """Queries (over the common prefix) whose result sets differ."""
    return sum(a[1] != b[1] for a, b in zip(reference, other, strict=False))


def build_volumes(n: int, seed: int, span_s: float) -> tuple[list[Entry], dict[str, float]]:
    """The volumes built as intake builds them (one at a time, validated), and then read back
    as a restart reads them: from the JSON text the store keeps, a page of many at once, into
    arrays (``volume_columns_from_json_many``), from which the same volumes must be made; the
    memory the arrays hold is the RSS grown over the read."""
    gc.collect()
    before, started = rss_mb(), time.perf_counter()
    entries = data.generate(n, seed, span_s)
    built = {"build_s": time.perf_counter() - started, "rss_mb": rss_mb() - before}
    texts = [volumes_to_json((e.volume,)) for e in entries]
    gc.collect()
    before, started = rss_mb(), time.perf_counter()
    with collection_paused():  # as the detector's rebuild reads them: a page at a time
        pages = [
            volume_columns_from_json_many(texts[at : at + _READ_PAGE])
            for at in range(0, len(texts), _READ_PAGE)
        ]
    built["read_back_s"] = time.perf_counter() - started
    built["read_back_rss_mb"] = rss_mb() - before
    with collection_paused():
        read = [record for page in pages for record in page.volumes]
    same = all(
        r.footprint.to_geojson() == e.volume.footprint.to_geojson()
        and r.footprint.cap_rad == e.volume.footprint.cap_rad
        for (r,), e in zip(read, entries, strict=True)
    )
    built["read_back_identical"] = float(same)
    return entries, built


def build_index(entries: Sequence[Entry]) -> tuple[VolumeIndex, dict[str, float]]:
    gc.collect()
    before, started = rss_mb(), time.perf_counter()
    index = VolumeIndex(entries)
    return index, {"build_s": time.perf_counter() - started, "rss_mb": rss_mb() - before}


def engine_queries(index: VolumeIndex, queries: Sequence[Query], budget_s: float) -> Timed:
    def run(query: Query) -> list[Entry]:
        return index.conflicts_with(query.entry.volume, query.entry.party, MINIMA)

    time_queries(run, queries[:_WARMUP], budget_s)
    return time_passes(run, queries, budget_s)


def brute_queries(entries: Sequence[Entry], queries: Sequence[Query], budget_s: float) -> Timed:
    return time_queries(lambda q: brute_conflicts_with(entries, q.entry, MINIMA), queries, budget_s)


def all_pairs(index: VolumeIndex, processes: int) -> dict[str, float]:
    """Every conflicting pair of the index, by its sweep (:meth:`VolumeIndex.all_pairs`) in
    ``processes`` processes."""
    started = time.perf_counter()
    found = index.all_pairs(MINIMA, processes=processes)
    seconds = time.perf_counter() - started
    return {
        "volumes": len(index),
        "processes": processes,
        "seconds": seconds,
        "volumes_per_s": len(index) / seconds if seconds else 0.0,
        "pairs_found": len(found),
    }


def check_pairs(index: VolumeIndex, entries: Sequence[Entry]) -> bool:
    """Whether the index's all_pairs equals brute_pairs (small sizes only: quadratic)."""

    def pairs(found: Sequence[tuple[Entry, Entry]]) -> set[frozenset[str]]:
        return {frozenset((a.key, b.key)) for a, b in found}

    return pairs(index.all_pairs(MINIMA)) == pairs(brute_pairs(entries, MINIMA))


def postgis_queries(
    side: Any, queries: Sequence[Query], budget_s: float
) -> tuple[Timed, dict[str, float]]:
    """Time PostGIS over the queries; parameters (the query outline as WKB) are made untimed."""
    params = {id(q): side.params(q.entry, MINIMA) for q in queries}

    def run(query: Query) -> list[Entry]:
        found: list[Entry] = side.conflicts_with(query.entry, params[id(query)], MINIMA)
        return found

    time_queries(run, queries[:_WARMUP], budget_s)
    side.coarse.clear()
    timed = time_passes(run, queries, budget_s)
    return timed, coarse_stats(side.coarse)


def coarse_stats(coarse: Sequence[tuple[float, int]]) -> dict[str, float]:
    """p50 of the coarse stage (index or SQL alone) and its mean number of candidates."""
    if not coarse:
        return {}
    return {
        "coarse_p50_ms": statistics.median(t for t, _ in coarse) * 1e3,
        "candidates": statistics.fmean(c for _, c in coarse),
    }


def engine_coarse(
    index: VolumeIndex, queries: Sequence[Query], budget_s: float
) -> dict[str, float]:
    """The index's coarse stage alone (R-tree candidates, before the exact rule), same queries."""
    coarse = []
    deadline = time.perf_counter() + budget_s
    for query in queries:
        started = time.perf_counter()
        found = index.candidates(query.entry.volume, MINIMA)
        coarse.append((time.perf_counter() - started, len(found)))
        if time.perf_counter() > deadline:
            break
    return coarse_stats(coarse)


def run_postgis(
    entries: Sequence[Entry], queries: dict[str, list[Query]], args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, tuple[Timed, dict[str, float]]]]:
    """Load, index and query PostGIS; ({} and {}) when it is off or unavailable."""
    if args.no_postgis:
        return {"status": "off"}, {}
    from benchmarks import postgis

    conn = None
    try:
        conn = postgis.connect(args.dsn)
        version = postgis.ensure_postgis(conn, install=args.install_postgis)
    except Exception as error:  # reported, and the test decides whether that is a failure
        print(f"# PostGIS unavailable: {error}", file=sys.stderr)
        if conn is not None:
            conn.close()
        return {"status": f"unavailable: {error}"}, {}
    side = postgis.PostgisSide(conn, entries)
    try:
        side.load()
        runs = {k: postgis_queries(side, queries[k], args.budget) for k in _KINDS}
    finally:
        side.drop()
        conn.close()
    info = {
        "status": "ok",
        "version": version,
        "load_s": side.load_s,
        "index_s": side.index_s,
        "size_mb": side.size_mb,
    }
    return info, runs


def _ratio(slow: dict[str, float], fast: dict[str, float], key: str) -> float | None:
    if not slow or not fast or not fast.get(key):
        return None
    return slow[key] / fast[key]


def compare(engine: Timed, other: Timed) -> dict[str, Any]:
    """Latency of ``other`` and of the engine on the same queries, the speed-up, mismatches."""
    common = engine[: len(other)]
    mine, theirs = latency(common), latency(other)
    return {
        **theirs,
        "engine_same_queries": mine,
        "speedup_p50": _ratio(theirs, mine, "p50_ms"),
        "speedup_p99": _ratio(theirs, mine, "p99_ms"),
        "mismatches": mismatches(common, other),
    }


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Everything for one size; the engine's results are the reference for the others."""
    print(f"# n={n:,}: building volumes", file=sys.stderr, flush=True)
    span_s = args.span_days * 86_400.0
    entries, volumes = build_volumes(n, args.seed, span_s)
    index, built = build_index(entries)
    qs = data.queries(args.queries, args.seed + 1, span_s)
    by_kind = {k: [q for q in qs if q.kind == k] for k in _KINDS}
    print(f"# n={n:,}: engine and brute queries", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"n": n, "volumes": volumes, "index": built, "queries": {}}
    engine = {k: engine_queries(index, by_kind[k], args.budget) for k in _KINDS}
    for kind in _KINDS:
        brute = brute_queries(entries, by_kind[kind][: args.brute_queries], args.budget)
        result["queries"][kind] = {
            "engine": {**latency(engine[kind]), **engine_coarse(index, by_kind[kind], args.budget)},
            "brute": compare(engine[kind], brute),
        }
    result["all_pairs"] = all_pairs(index, args.processes)
    if n <= args.brute_pairs_max:
        result["all_pairs"]["identical_to_brute"] = check_pairs(index, entries)
    print(f"# n={n:,}: PostGIS", file=sys.stderr, flush=True)
    result["postgis"], pg = run_postgis(entries, by_kind, args)
    for kind, (timed, coarse) in pg.items():
        result["queries"][kind]["postgis"] = {**compare(engine[kind], timed), **coarse}
    return result


def identical(result: dict[str, Any]) -> bool:
    """No mismatch anywhere in one size's results."""
    for per_kind in result["queries"].values():
        for side in ("brute", "postgis"):
            if per_kind.get(side, {}).get("mismatches", 0):
                return False
    if not result["volumes"].get("read_back_identical", 1.0):
        return False
    return result["all_pairs"].get("identical_to_brute", True) is not False


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def query_table(results: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| volumes | queries | n | conflicts/query | engine p50 ms | engine p99 ms | brute p50 ms "
        "(n) | PostGIS p50 ms | PostGIS p99 ms | engine vs PostGIS p50 | engine vs PostGIS p99 "
        "| engine vs brute p50 | identical |",
        "|" + "---:|" * 13,
    ]
    for r in results:
        for kind in _KINDS:
            q = r["queries"][kind]
            eng, brute, pg = q["engine"], q["brute"], q.get("postgis", {})
            lines.append(
                f"| {r['n']:,} | {kind} | {eng['count']} | {eng['mean_conflicts']:.2f} "
                f"| {_fmt(eng['p50_ms'])} | {_fmt(eng['p99_ms'])} "
                f"| {_fmt(brute.get('p50_ms'))} ({brute.get('count', 0)}) "
                f"| {_fmt(pg.get('p50_ms'))} | {_fmt(pg.get('p99_ms'))} "
                f"| {_fmt(pg.get('speedup_p50'), 1)}x | {_fmt(pg.get('speedup_p99'), 1)}x "
                f"| {_fmt(brute.get('speedup_p50'), 0)}x | {'yes' if identical(r) else 'NO'} |"
            )
    return lines


def build_table(results: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| volumes | built at intake s | volumes MB | read back at start s | read back MB "
        "| index build s | index MB | all-pairs processes | all-pairs volumes/s | all-pairs s "
        "| PostGIS load s | PostGIS index s | PostGIS table+index MB |",
        "|" + "---:|" * 13,
    ]
    for r in results:
        pairs, pg = r["all_pairs"], r["postgis"]
        volumes = r["volumes"]
        lines.append(
            f"| {r['n']:,} | {_fmt(volumes['build_s'], 1)} | {_fmt(volumes['rss_mb'], 0)} "
            f"| {_fmt(volumes['read_back_s'], 1)} | {_fmt(volumes.get('read_back_rss_mb'), 0)} "
            f"| {_fmt(r['index']['build_s'], 2)} | {_fmt(r['index']['rss_mb'], 0)} "
            f"| {pairs['processes']} | {_fmt(pairs['volumes_per_s'], 0)} "
            f"| {_fmt(pairs['seconds'], 1)} "
            f"| {_fmt(pg.get('load_s'), 1)} | {_fmt(pg.get('index_s'), 1)} "
            f"| {_fmt(pg.get('size_mb'), 0)} |"
        )
    return lines


def coarse_table(results: Sequence[dict[str, Any]]) -> list[str]:
    """Where the time goes: the coarse stage alone, and how many candidates the exact rule gets."""
    lines = [
        "| volumes | queries | engine candidates | engine coarse p50 ms | PostGIS candidates "
        "| PostGIS SQL p50 ms | exact rule share (1 - coarse p50 / p50) |",
        "|" + "---:|" * 7,
    ]
    for r in results:
        for kind in _KINDS:
            eng = r["queries"][kind]["engine"]
            pg = r["queries"][kind].get("postgis", {})
            share = 1.0 - eng["coarse_p50_ms"] / eng["p50_ms"] if eng.get("p50_ms") else None
            lines.append(
                f"| {r['n']:,} | {kind} | {_fmt(eng.get('candidates'), 1)} "
                f"| {_fmt(eng.get('coarse_p50_ms'))} | {_fmt(pg.get('candidates'), 1)} "
                f"| {_fmt(pg.get('coarse_p50_ms'))} "
                f"| {'-' if share is None else f'{share:.0%}'} |"
            )
    return lines


def markdown(results: Sequence[dict[str, Any]]) -> str:
    """The Markdown tables: queries, coarse stage, then build and throughput."""
    notes = (
        f"Minima: {MINIMA.horizontal_m:g} m, {MINIMA.vertical_m:g} m, {MINIMA.time_s:g} s. "
        "Ratios are how many times faster the engine is, on the same queries."
    )
    return "\n".join(
        [
            "",
            *query_table(results),
            "",
            *coarse_table(results),
            "",
            *build_table(results),
            "",
            notes,
            "",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument("--queries", type=int, default=1000, help="per kind (sparse, dense)")
    parser.add_argument("--brute-queries", type=int, default=20, help="per kind, at most")
    parser.add_argument("--brute-pairs-max", type=int, default=2000)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per timed loop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--span-days", type=float, default=7.0, help="time windows lie within this many days"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes the all-pairs sweep runs in (default: one a core)",
    )
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--no-postgis", action="store_true")
    parser.add_argument(
        "--no-install",
        dest="install_postgis",
        action="store_false",
        help="do not apt-get install PostGIS when it is missing",
    )
    args = parser.parse_args(argv)
    if args.dsn is None:
        from benchmarks.postgis import DEFAULT_DSN

        args.dsn = DEFAULT_DSN
    return args


def _commit() -> str:
    """The checkout measured (``git describe --always --dirty``), or "?" outside git."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return done.stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    commit = _commit()  # at the start: other work may change the checkout during a long run
    results = []
    for n in sizes:
        results.append(run_size(n, args))
        gc.collect()
    print(markdown(results), flush=True)
    if args.json:
        report = {
            "commit": commit,
            "machine": platform.platform(),
            "python": platform.python_version(),
            "minima": MINIMA.__repr__(),
            "args": vars(args),
            "results": results,
        }
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0 if all(identical(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
