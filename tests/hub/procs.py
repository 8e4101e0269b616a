"""A hub process for the multi-worker tests, run as ``python -m tests.hub.procs``.

It files a bounded load of notices for one party (ids ``<party>-<i>``), writing each id to the
``--acked`` file (flushed and fsynced) only once the hub has acknowledged it, then to standard
output (``acked <id>``, what the test waits on; ``lease <token>`` when it takes the lease and
``lease none`` when it no longer holds it), and runs a
``DetectorWorker`` between filings and afterwards until the ``--stop`` file appears or ``--max-s``
pass. Restarted after a kill it skips the ids it has acknowledged; an id the store already holds
(committed, but killed before it was recorded) counts as filed. At the end it writes a JSON report:
how many batches and change-log rows it processed as the lease holder.

The geometry makes the expected outcome exact: spot i is 50 km from any other spot; faf's
notice i sits on usaf's notice i for even i (a conflict) and 25 km off for odd i (none).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from deconflict.errors import InvalidInput, NotFound
from deconflict.geo import Circle, Volume4D
from deconflict.hub import DetectorWorker, Hub
from deconflict.store.wakeup import ChangeSignal

START_S = 4_102_444_800.0  # 2100-01-01T00:00Z: never late, never active during a test


def spot(party: str, i: int) -> tuple[float, float]:
    lon = 30.0 + (i % 20) * 0.5
    lat = 20.0 + (i // 20) * 0.5
    if party == "faf" and i % 2:
        lat += 0.25
    return lon, lat


def volume(party: str, i: int) -> Volume4D:
    return Volume4D.build(
        "v", Circle(spot(party, i), 5_000.0), 1_000.0, 8_000.0, START_S, START_S + 7_200.0
    )


def expected_conflicts(count: int) -> set[tuple[str, str]]:
    """The (faf, usaf) notice pairs that conflict when each party files ``count`` notices."""
    return {(f"faf-{i}", f"usaf-{i}") for i in range(count) if i % 2 == 0}


def _record(path: Path, notice_id: str) -> None:
    with path.open("a") as out:
        out.write(notice_id + "\n")
        out.flush()
        os.fsync(out.fileno())
    _say(f"acked {notice_id}")


def _say(line: str) -> None:
    """A line for the test, which waits on this process's standard output as it comes."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _handed_over(hub: Hub, signal: ChangeSignal, looks: int = 50) -> bool:
    """After a release: until another process holds the lease (it tries at its next step,
    after a filing or when a commit wakes it), looked at again whenever another process
    commits (``signal``; at most every 20 ms where the store has no wake-ups), ``looks``
    times at most; whether it does. The test checks that both processes took turns: this
    waits for the turn to be taken, where a fixed pause hoped it would be."""
    for _ in range(looks):
        if hub.store.lease_holder(time.time()).pid not in (0, os.getpid()):
            return True
        signal.wait(0.02)
    return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--party", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--acked", type=Path, required=True)
    parser.add_argument("--stop", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--lease-s", type=float, default=1.0)
    parser.add_argument("--yield-every", type=int, default=0)
    parser.add_argument("--max-s", type=float, default=60.0)
    parser.add_argument(
        "--hold-after",
        type=int,
        default=0,
        help="on a first run (nothing acknowledged yet), file no more after this many: only "
        "detect, holding the lease, until stopped or killed (a kill then lands mid-load)",
    )
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.max_s
    done = set(args.acked.read_text().split()) if args.acked.exists() else set()
    hold_after = 0 if done else args.hold_after
    stats = {"batches": 0, "changes": 0, "releases": 0}
    with Hub.open(args.db) as hub, contextlib.closing(hub.store.change_signal()) as signal:
        worker = DetectorWorker(hub, lease_s=args.lease_s, batch=25)

        held: list[int | None] = [None]

        def step() -> int:
            report = worker.step()
            if worker.token != held[0]:
                held[0] = worker.token
                _say(f"lease {worker.token if worker.token is not None else 'none'}")
            if report is None or report.changes == 0:
                return 0
            stats["batches"] += 1
            stats["changes"] += report.changes
            if args.yield_every and stats["batches"] % args.yield_every == 0:
                worker.release()  # hand over, and let the other process take its turn
                held[0] = None
                _say("lease none")
                stats["releases"] += 1
                _handed_over(hub, signal)
            return report.changes

        for i in range(args.count):
            if hold_after and i == hold_after:
                break  # mid-load: the loop below detects until the test stops or kills it
            notice_id = f"{args.party}-{i}"
            if notice_id in done:
                continue
            try:
                hub.file_notice(args.party, [volume(args.party, i)], "air-activity", notice_id)
            except InvalidInput:
                try:  # committed before a kill, not yet recorded
                    hub.store.get_notice(notice_id)
                except NotFound:
                    raise
            _record(args.acked, notice_id)
            step()
        while not args.stop.exists() and time.monotonic() < deadline:
            if step() == 0:
                signal.wait(0.02)  # woken by another process's commit, or after 20 ms
        worker.release()
        _say("lease none")
    args.report.write_text(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
