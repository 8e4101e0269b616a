"""Restart benchmark: a hub holding N active notices, from its store to serving (issue 21).

    python -m benchmarks.restart --sizes 100000,1000000 [--pg-url URL] [--keep DIR]

For each size a store is filled with N notices of one volume each, the volumes of the engine
benchmark (:func:`benchmarks.data.generate`, same seed), spread over the six parties of one
agreement, then the hub is started on it again as ``deconflict serve`` starts it, step by step:

- *quick check*: :func:`deconflict.store.health.check` (SQLite's ``PRAGMA quick_check``, every
  page read; on PostgreSQL the indexes' ``amcheck`` where installed);
- *open*: :func:`deconflict.store.open_store` (the engine, the migrations brought up to date: a
  check that finds them so);
- *hub*: the rest of :class:`deconflict.hub.Hub`'s construction (agreements, secrets; the
  detector's rebuild too where the hub still rebuilds as it is made);
- *ledger check*: :meth:`HubLedger.recheck`, the whole log against the newest checkpoint signed,
  as ``serve`` makes it before it starts;
- *key load*: the ledger's signing key read from its file;
- *rebuild*: the detector's index rebuilt from the store at its cursor
  (:meth:`Hub.resync`), split where the detector says how long each part took: reading the
  rows, decoding the volumes, building the index;
- the whole ledger checked again with the index built, as a detector process that ``serve``
  starts again after a crash does at its first tick (not counted in the in-process total, which
  is one hub's start; ``serve``'s first detector process is told the log was checked).

That start is made twice. First with no index file: the detector rebuilds from the store, then
writes its index file (timed, as a detector letting its lease go writes it). Then again, the
detector reading its index back from that file (:mod:`deconflict.hub.index_file`) and applying
the change log after it (nothing: the store has not moved). The first is the baseline of the
second, measured in the same run.

Then, once a size on SQLite, a real ``deconflict serve`` on the file (its detector in a process
of its own, as by default), from its start to its ``serve.ready`` log line (it listens, its HTTP
workers on standby) and to its detector process's ``index built`` line (it detects again), then
to its exit after SIGTERM; twice: with no index file (the first writes one as it stops), then
reading it.

How the store is filled: through the hub's own filing path (:meth:`Hub.file_notice`, a thousand
filings a unit of work, as ``serve`` groups a burst of them), so the records, their versions,
the change-log rows and the ledger entries are what filing writes, and a checkpoint is signed at
the end. What differs from a hub that served those filings: the detector is not run over them
(detecting a million notices is the all-pairs search, minutes of its own, and would record
conflicts and notifications the restart never reads); its cursor is moved to the end of the log
as a detector pass with no outputs stores it. So the store holds no conflict and no
notification: the restart reads neither. The engine benchmark's week is moved to start two days
from now, the notices filed a day before it: ``serve``, on the system clock, finds them all still
filed (live), none for its first tick to move.

A Markdown table goes to stdout; ``--json`` keeps the figures. Every loop is bounded: the fill
by N, the serve by ``--serve-timeout`` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.engine import rss_mb
from deconflict.geo import Volume4D
from deconflict.hub import Hub, SimulatedClock
from deconflict.hub.collection import collection_paused
from deconflict.hub.index_file import IndexFile
from deconflict.model import Agreement
from deconflict.store import Detection, open_store
from deconflict.store.health import check

__all__ = ["main"]

_GROUP = 1_000  # filings a unit of work
_FILED_AT_S = data.EPOCH_S - 86_400.0
_READY = b'"event": "serve.ready"'
_DETECTING = b'"change": "index built"'  # the detector process's, once it may detect


def fill(target: str, n: int, key: Path, seed: int = 1) -> dict[str, float]:
    """File ``n`` notices of one volume each on the store ``target`` (see the module's
    docstring), sign a checkpoint and move the detector's cursor to the end of the log."""
    started = time.perf_counter()
    with collection_paused():  # a million volumes, no cycle: the collector's passes were most
        entries = data.generate(n, seed)
    generated = time.perf_counter()
    shift = _shift_s()
    with Hub(open_store(target), SimulatedClock(_FILED_AT_S + shift), key) as hub:
        for party in data.PARTIES:
            hub.add_party(party)
        hub.add_agreement(
            Agreement("restart-bench", data.PARTIES, minima=data.MINIMA, ack_deadline_s=3600.0)
        )
        for first in range(0, n, _GROUP):
            with hub.store.unit_of_work("filing a group"):
                for entry in entries[first : first + _GROUP]:
                    hub.file_notice(entry.party, [_later(entry.volume, shift)], "air", entry.key)
        filed = time.perf_counter()
        hub.ledger.checkpoint()
        store = hub.store
        store.commit_detections([Detection(store.last_change(), _FILED_AT_S + shift)])
        ledger = hub.ledger.size
    done = time.perf_counter()
    return {
        "generate_s": generated - started,
        "file_s": filed - generated,
        "checkpoint_s": done - filed,
        "ledger_entries": ledger,
    }


def _shift_s() -> float:
    """How far the engine benchmark's week is moved: to start two days from today (UTC), so
    that a ``deconflict serve`` on the system clock finds every notice still to come (a kept
    store stays so for a day or more)."""
    return (time.time() // 86_400.0 + 2) * 86_400.0 - data.EPOCH_S


def _later(volume: Volume4D, shift_s: float) -> Volume4D:
    """``volume`` moved ``shift_s`` later (its footprint, band and duration kept)."""
    return volume.with_window(volume.window.shifted(shift_s))


def _timed(out: dict[str, float], name: str) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def timing() -> Iterator[None]:
        started = time.perf_counter()
        yield
        out[name] = time.perf_counter() - started

    return timing()


def restart(target: str, key: Path, index: IndexFile) -> dict[str, Any]:
    """Start a hub on ``target`` step by step (see the module's docstring); seconds a step.
    Its detector's index is read from the index file ``index`` if there is one, else rebuilt
    from the store and then written to it (timed: what a detector that lets its lease go
    does)."""
    cold = not index.path.exists()
    times: dict[str, Any] = {}
    rss = rss_mb()
    begun = time.perf_counter()
    with _timed(times, "quick_check_s"):
        health = check(target, full=False)
    if not health.sound:
        raise RuntimeError(f"the store is damaged: {health.summary()}")
    with _timed(times, "open_s"):
        store = open_store(target)
    with _timed(times, "hub_s"):
        hub = Hub(store, SimulatedClock(time.time()), key, index_file=index)
    try:
        with _timed(times, "ledger_check_s"):
            hub.ledger.recheck()
        with _timed(times, "key_load_s"):
            _ = hub.ledger.signer
        if hub.indexed == 0:  # the hub rebuilds when it detects first, not as it is made
            with _timed(times, "rebuild_s"):
                hub.resync()
        else:  # built as it was made (before issue 21): the same seconds, counted once
            times["rebuild_s"], times["hub_s"] = times["hub_s"], None
        times["rebuild_parts"] = {
            name: value for name, value in hub.rebuild_times.items() if name.endswith("_s")
        }
        times["indexed"] = hub.indexed
        if cold:
            with _timed(times, "save_s"):
                written = hub.save_index()
            times["file_mb"] = (written or 0) / 1e6
        # What the detector process of serve does at its first tick, with its index built:
        # the whole log checked again (the first time in that process).
        with _timed(times, "ledger_check_indexed_s"):
            hub.ledger.check(whole=True)
    finally:
        hub.close()
        del hub
    times["total_s"] = time.perf_counter() - begun - times["ledger_check_indexed_s"]
    times["rss_mb"] = rss_mb() - rss
    return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_ready(db: Path, timeout_s: float) -> dict[str, float | None]:
    """Seconds from starting ``deconflict serve`` on ``db`` to its ``serve.ready`` line (it
    listens: its HTTP workers serve, on standby) and to its detector process's ``index
    built`` line (it detects from then on), each None if not said within ``timeout_s`` (serve
    is stopped either way)."""
    exe = Path(sys.executable).with_name("deconflict")
    env = dict(os.environ, DECONFLICT_DB=str(db))
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(exe), "serve", "--db", str(db), "--port", str(_free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    seen: dict[bytes, float] = {}
    said = threading.Event()
    tail: list[bytes] = []
    said_line: list[bytes] = []  # the detector process's "index built" line

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            tail[:] = [*tail[-20:], line]
            for mark in (_READY, _DETECTING):
                if mark in line and mark not in seen:
                    seen[mark] = time.perf_counter() - started
                    if mark == _DETECTING:
                        said_line[:] = [line]
            if len(seen) == 2:
                break
        said.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    said.wait(timeout_s)
    stopping = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
        stop_s: float | None = time.perf_counter() - stopping
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        stop_s = None
    reader.join(5)
    if process.stdout is not None:
        process.stdout.close()
    if len(seen) < 2:
        sys.stderr.write(b"".join(tail).decode(errors="replace"))
    built = _logged(said_line[0]) if said_line else {}
    return {
        "ready_s": seen.get(_READY),
        "detecting_s": seen.get(_DETECTING),
        "from_file": built.get("from_file"),
        "stop_s": stop_s,
    }


def _logged(line: bytes) -> dict[str, Any]:
    """The JSON object a log line carries (after its prefix), {} if none."""
    text = line.decode(errors="replace")
    try:
        found = json.loads(text[text.index("{") :])
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@contextlib.contextmanager
def _pg_database(url: str, n: int) -> Iterator[str]:
    """A database of its own on the server ``url`` names, dropped after."""
    import psycopg

    name = f"deconflict_restart_{n}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(url)
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_size(n: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n}
    keep = Path(args.keep) if args.keep else folder
    keep.mkdir(parents=True, exist_ok=True)
    db = keep / f"restart-{n}.db"
    key = keep / f"restart-{n}.db.ledger-key"
    if not db.exists():
        filling = db.with_suffix(".filling")
        for stale in (key, *keep.glob(f"restart-{n}.filling*")):
            stale.unlink(missing_ok=True)
        out["fill"] = fill(str(filling), n, key)
        filling.rename(db)  # closed: the WAL checkpointed into it
        for companion in keep.glob(f"restart-{n}.filling*"):
            companion.unlink()
    index = IndexFile.at(db.with_name(db.name + ".index"), key)
    index.path.unlink(missing_ok=True)
    out["sqlite"] = restart(str(db), key, index)  # from the store, then the file written
    out["sqlite_file"] = restart(str(db), key, index)  # from the file
    if args.serve:
        index.path.unlink(missing_ok=True)
        for name in ("serve", "serve_file"):  # the first writes the file as it stops
            served = serve_ready(db, args.serve_timeout)
            for part in ("ready_s", "detecting_s", "stop_s"):
                out[f"{name}_{part}"] = served[part]
    if args.pg_url:
        with _pg_database(args.pg_url, n) as url:
            pg_key = folder / f"pg-{n}.ledger-key"
            pg_index = IndexFile.at(folder / f"pg-{n}.index", pg_key)
            pg_index.path.unlink(missing_ok=True)
            out["pg_fill"] = fill(url, n, pg_key)
            out["postgresql"] = restart(url, pg_key, pg_index)
            out["postgresql_file"] = restart(url, pg_key, pg_index)
    return out


_STEPS = (
    ("quick check", "quick_check_s"),
    ("open + migrations check", "open_s"),
    ("hub made (agreements, secrets)", "hub_s"),
    ("ledger check (whole log)", "ledger_check_s"),
    ("key load", "key_load_s"),
    ("detector rebuild", "rebuild_s"),
    (
        "ledger check again, index built (a detector process started again)",
        "ledger_check_indexed_s",
    ),
    ("index file written (after a rebuild from the store)", "save_s"),
)
_COLUMNS = (
    ("sqlite", "SQLite, from the store"),
    ("sqlite_file", "SQLite, from the index file"),
    ("postgresql", "PG, from the store"),
    ("postgresql_file", "PG, from the index file"),
)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: list[dict[str, Any]]) -> str:
    columns = [
        (f"{r['n']:,} ({label})", r[backend])
        for r in results
        for backend, label in _COLUMNS
        if backend in r
    ]
    lines = [
        "| step (s) | " + " | ".join(name for name, _ in columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    for label, name in _STEPS:
        lines.append(f"| {label} | " + " | ".join(_s(c.get(name)) for _, c in columns) + " |")
        if name == "rebuild_s":
            parts = sorted({p for _, c in columns for p in c.get("rebuild_parts", {})})
            for part in parts:
                lines.append(
                    f"| - {part.removesuffix('_s')} | "
                    + " | ".join(_s(c.get("rebuild_parts", {}).get(part)) for _, c in columns)
                    + " |"
                )
    lines.append(
        "| **in-process start** | "
        + " | ".join(f"**{_s(c['total_s'])}**" for _, c in columns)
        + " |"
    )
    lines.append(
        "| volumes indexed | " + " | ".join(f"{c['indexed']:,}" for _, c in columns) + " |"
    )
    lines.append(
        "| memory of the start (MB) | "
        + " | ".join(f"{c['rss_mb']:.0f}" for _, c in columns)
        + " |"
    )
    lines.append(
        "| index file (MB) | "
        + " | ".join(f"{c['file_mb']:.0f}" if "file_mb" in c else "-" for _, c in columns)
        + " |"
    )
    for label, name in (
        ("`deconflict serve` to serve.ready (listening)", "ready_s"),
        ("`deconflict serve` to its detector process detecting", "detecting_s"),
        ("`deconflict serve` stopped (SIGTERM; the file written as it stops)", "stop_s"),
    ):
        cells = [
            _s(r.get(f"serve{'_file' if backend.endswith('_file') else ''}_{name}"))
            if backend.startswith("sqlite")
            else "-"
            for r in results
            for backend, _ in _COLUMNS
            if backend in r
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated notice counts")
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL server to run on as well")
    parser.add_argument("--keep", default=None, help="keep the filled SQLite files here")
    parser.add_argument("--no-serve", dest="serve", action="store_false")
    parser.add_argument("--serve-timeout", type=float, default=600.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="restart-bench-") as folder:
        for n in (int(s) for s in args.sizes.split(",")):
            results.append(run_size(n, args, Path(folder)))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
