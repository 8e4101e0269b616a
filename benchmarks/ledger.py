"""Ledger benchmark: proofs at 10^6 entries, and what the ledger costs the filing path.

    python -m benchmarks.ledger --entries 1000000 --json bench-ledger.json

Proofs: a tree of ``--entries`` leaves is built in memory, then its perfect-subtree hashes are
bulk-loaded into a real SQLite store (the leaves in ``ledger_entries``, the subtrees above in
``ledger_nodes``: the layout the hub appends to). For random indices and sizes it times building
an inclusion proof and a consistency proof, both from memory and from the store (one SQL query
each), and verifying them (RFC 9162 2.1.3.2 and 2.1.4.2): median and p99 per operation.

Filing: the same hub (SQLite, WAL, ``synchronous=FULL``) files ``--filings`` notices with the
ledger, and again with the ledger's append replaced by a no-op; rounds alternate between the two,
each round on a fresh database; the median throughputs of ``--repeats`` rounds are compared, and
so is the median of the per-round ratios (each round runs both back to back, sharing the load).
An append stores the entry with its leaf hash (one row); the hashes of the subtrees above the
leaves are built by the next checkpoint, in its own transaction: that is timed apart, after each
round. Twice: one filing per commit, and ``--group`` filings per commit in one unit of work, as
``deconflict serve`` commits a burst of filings (no savepoint per filing: serve runs a failed
batch again without the write that failed).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from deconflict.geo import Circle, Volume4D
from deconflict.hub import Hub, SimulatedClock
from deconflict.ledger import (
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from deconflict.store import ledger_append, open_sqlite
from deconflict.store import sql as store_sql
from deconflict.store.sql import SqlStore

__all__ = ["main"]

T0 = 1_447_000_000.0


def _timed(samples: int, run: Callable[[int], object]) -> dict[str, float]:
    """Median and p99 of ``run(i)`` over ``samples`` calls, in microseconds."""
    times = []
    for i in range(samples):
        start = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return {"median_us": statistics.median(times), "p99_us": times[int(0.99 * (len(times) - 1))]}


def bench_proofs(entries: int, samples: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    start = time.perf_counter()
    tree = MemoryTree(leaf_hash(i.to_bytes(8, "big")) for i in range(entries))
    built_s = time.perf_counter() - start
    size = tree.size
    root = tree.root()
    indices = [rng.randrange(size) for _ in range(samples)]
    firsts = [rng.randrange(1, size) for _ in range(samples)]
    roots = {m: tree.root(m) for m in firsts}
    proofs = [tree.inclusion(i) for i in indices]
    cproofs = [tree.consistency(m) for m in firsts]
    out: dict[str, Any] = {"entries": size, "tree_build_s": built_s}
    out["inclusion_build_memory"] = _timed(samples, lambda k: tree.inclusion(indices[k]))
    out["inclusion_verify"] = _timed(
        samples,
        lambda k: verify_inclusion(tree.levels[0][indices[k]], indices[k], size, proofs[k], root),
    )
    out["consistency_build_memory"] = _timed(samples, lambda k: tree.consistency(firsts[k]))
    out["consistency_verify"] = _timed(
        samples,
        lambda k: verify_consistency(firsts[k], size, roots[firsts[k]], root, cproofs[k]),
    )
    with tempfile.TemporaryDirectory() as folder:
        store = open_sqlite(Path(folder) / "ledger.db")
        try:
            start = time.perf_counter()
            _load_nodes(store, tree)
            out["store_load_s"] = time.perf_counter() - start
            assert store.ledger_inclusion(indices[0], size) == proofs[0]
            out["inclusion_build_store"] = _timed(
                samples, lambda k: store.ledger_inclusion(indices[k], size)
            )
            out["consistency_build_store"] = _timed(
                samples, lambda k: store.ledger_consistency(firsts[k], size)
            )
        finally:
            store.close()
    return out


def _load_nodes(store: Any, tree: MemoryTree) -> None:
    """Bulk-load every perfect-subtree hash as a hub's appends and checkpoints store them: each
    leaf hash in its entry's row (a stand-in body), the subtrees above in ``ledger_nodes``."""
    from deconflict.store import ledger_tables as lt
    from deconflict.store.ledger_tables import NODE_LEVEL_SHIFT

    chunk = 50_000
    with store._engine.begin() as c:
        leaves = tree.levels[0]
        for lo in range(0, len(leaves), chunk):
            c.execute(
                lt.ledger_entries.insert(),
                [
                    {"idx": i, "type": "bench", "subject": "bench", "body": "{}", "at_s": T0}
                    | {"leaf": leaves[i]}
                    for i in range(lo, min(lo + chunk, len(leaves)))
                ],
            )
        for level, hashes in enumerate(tree.levels[1:], 1):
            for lo in range(0, len(hashes), chunk):
                c.execute(
                    lt.ledger_nodes.insert(),
                    [
                        {"node": (level << NODE_LEVEL_SHIFT) | i, "hash": hashes[i]}
                        for i in range(lo, min(lo + chunk, len(hashes)))
                    ],
                )


def _volume(i: int) -> Volume4D:
    lon = 38.0 + (i % 40) * 0.05
    lat = 35.0 + (i // 40 % 40) * 0.05
    start = T0 + 8 * 3600 + i * 60.0
    return Volume4D.build(
        f"v{i}", Circle((lon, lat), 3_000.0), 1_000.0, 8_000.0, start, start + 3600
    )


def _no_ledger(*_args: object, **_kwargs: object) -> None:
    """Stands in for the ledger append when measuring without it."""


def _filing_round(
    folder: Path, filings: int, ledger: bool, number: int, group: int = 1
) -> tuple[float, float | None]:
    """Notices filed per second on a fresh hub, with or without the ledger append; ``group``
    filings share one unit of work, as the service's group commit does.
    With the ledger, also the µs per entry of building the subtree hashes afterwards (what the
    next checkpoint does, in its own transaction)."""
    db = folder / f"round-{number}-{group}-{'ledger' if ledger else 'plain'}.db"
    clock = SimulatedClock(T0)
    patch = (
        mock.patch.object(store_sql, "record_changes", _no_ledger)
        if not ledger
        else mock.patch.object(store_sql, "record_changes", ledger_append.record_changes)
    )
    volumes = [_volume(i) for i in range(filings)]
    with patch, Hub.open(db, clock) as hub:
        hub.add_party("RU")
        start = time.perf_counter()
        for first in range(0, filings, group):
            with hub.store.unit_of_work("filing a group"):
                for i in range(first, min(filings, first + group)):
                    hub.file_notice("RU", [volumes[i]], "air-activity", f"N{i}")
        elapsed = time.perf_counter() - start
        if not ledger:
            return filings / elapsed, None
        if hub.ledger.size != filings + 1:
            raise RuntimeError("the ledger did not record every filing")
        # Off the filing path: the subtree hashes above the leaves, built at the next checkpoint.
        start = time.perf_counter()
        store = hub.store
        assert isinstance(store, SqlStore)  # the subtrees are the SQL store's own
        store.ledger_build_subtrees(filings + 1)
        built_us = (time.perf_counter() - start) * 1e6 / (filings + 1)
    return filings / elapsed, built_us


def bench_filing(filings: int, repeats: int, group: int = 1) -> dict[str, Any]:
    rates: dict[str, list[float]] = {"with": [], "without": []}
    builds: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        _filing_round(Path(folder), 20, True, -1, group)  # warm-up: imports, caches
        for number in range(repeats):
            order = (True, False) if number % 2 == 0 else (False, True)
            for ledger in order:
                rate, built_us = _filing_round(Path(folder), filings, ledger, number, group)
                rates["with" if ledger else "without"].append(rate)
                if built_us is not None:
                    builds.append(built_us)
    with_ledger = statistics.median(rates["with"])
    without = statistics.median(rates["without"])
    # Each round runs both back to back, so the machine's load is shared within a pair: the
    # median of the per-round ratios is steadier than the ratio of the medians.
    paired = statistics.median(w / o for w, o in zip(rates["with"], rates["without"], strict=True))
    return {
        "filings": filings,
        "repeats": repeats,
        "group": group,
        "with_ledger_per_s": with_ledger,
        "without_ledger_per_s": without,
        "ratio": with_ledger / without,
        "paired_ratio": paired,
        "subtree_build_us_per_entry": statistics.median(builds),
        "rounds": rates,
    }


def _table(proofs: dict[str, Any], filing: dict[str, Any], grouped: dict[str, Any]) -> str:
    rows = [
        f"### Ledger: proofs at {proofs['entries']:,} entries (median / p99)",
        "",
        "| operation | median | p99 |",
        "| --- | ---: | ---: |",
    ]
    for name in (
        "inclusion_build_memory",
        "inclusion_build_store",
        "inclusion_verify",
        "consistency_build_memory",
        "consistency_build_store",
        "consistency_verify",
    ):
        t = proofs[name]
        rows.append(
            f"| {name.replace('_', ' ')} | {t['median_us']:.1f} µs | {t['p99_us']:.1f} µs |"
        )
    rows += [
        "",
        f"tree built in memory in {proofs['tree_build_s']:.1f} s, loaded into SQLite in "
        f"{proofs['store_load_s']:.1f} s",
        "",
        f"### Ledger: filing throughput ({filing['filings']} notices, median of "
        f"{filing['repeats']} rounds)",
        "",
        f"| | one filing per commit | {grouped['group']} per commit (as `serve`) |",
        "| --- | ---: | ---: |",
        f"| without the ledger | {filing['without_ledger_per_s']:.1f} "
        f"| {grouped['without_ledger_per_s']:.1f} |",
        f"| with the ledger | {filing['with_ledger_per_s']:.1f} "
        f"| {grouped['with_ledger_per_s']:.1f} |",
        f"| ratio of medians (with / without) | {filing['ratio']:.3f} | {grouped['ratio']:.3f} |",
        f"| median of per-round ratios | {filing['paired_ratio']:.3f} "
        f"| {grouped['paired_ratio']:.3f} |",
        "",
        "subtree hashes built afterwards, at the next checkpoint (off the filing path): "
        f"{filing['subtree_build_us_per_entry']:.1f} µs per entry",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ledger", description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--filings", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=25)  # short paired rounds: the noise is slow
    parser.add_argument(
        "--group", type=int, default=32, help="filings per commit in the grouped comparison"
    )
    parser.add_argument("--seed", type=int, default=2015)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    proofs = bench_proofs(args.entries, args.samples, args.seed)
    filing = bench_filing(args.filings, args.repeats)
    grouped = bench_filing(args.filings, args.repeats, args.group)
    print(_table(proofs, filing, grouped))
    if args.json is not None:
        figures = {"proofs": proofs, "filing": filing, "filing_grouped": grouped}
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
