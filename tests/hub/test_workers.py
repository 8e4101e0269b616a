"""Several hub processes on one store: every change detected exactly once, also across a kill -9.

Each process is a real subprocess (``tests/hub/procs.py``) filing a bounded load of notices and
running the detector under the lease. The outcome is checked against what the geometry makes
exact: one notice notification per notice, one conflict per even spot, two conflict notifications
per conflict, nothing more, every acknowledged filing stored, the log consumed to its end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.hub.procs import expected_conflicts
from tests.processes import commits, until

from deconflict.engine import SeparationMinima
from deconflict.model import Agreement, Disclosure, NotificationKind, RecordKind
from deconflict.store import Store, lease, open_store

ROOT = Path(__file__).parents[2]
COUNT = 30  # notices per party


def _setup(target: str) -> None:
    store = open_store(target)
    from deconflict.hub import Hub

    hub = Hub(store)
    hub.add_party("usaf", "US Air Force")
    hub.add_party("faf", "French Air Force")
    hub.add_agreement(
        Agreement(
            id="mou",
            parties=("usaf", "faf"),
            minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
            default_disclosure=Disclosure.FULL,
        )
    )
    hub.close()


class Proc:
    """One hub process and its files. What it says on standard output (``tests/hub/procs.py``:
    each filing acknowledged, each change of its hold on the lease) is read as it comes by a
    thread of this one, and waited for as it comes; its standard error goes to a file."""

    def __init__(self, tmp: Path, target: str, party: str, **options: object) -> None:
        self.acked = tmp / f"{party}.acked"
        self.report = tmp / f"{party}.report"
        self.errors = tmp / f"{party}.stderr"
        self.stop = tmp / "stop"
        self.args = [
            sys.executable,
            "-m",
            "tests.hub.procs",
            "--db",
            target,
            "--party",
            party,
            "--count",
            str(COUNT),
            "--acked",
            str(self.acked),
            "--stop",
            str(self.stop),
            "--report",
            str(self.report),
        ]
        for name, value in options.items():
            self.args += [f"--{name.replace('_', '-')}", str(value)]
        self.popen: subprocess.Popen[bytes] | None = None
        self._said: list[str] = []  # its lines on standard output, this run's
        self._more = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        with self.errors.open("ab") as errors:
            self.popen = subprocess.Popen(
                self.args, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors
            )
        with self._more:
            self._said = []
        self._reader = threading.Thread(target=self._read, args=(self.popen,), daemon=True)
        self._reader.start()

    def _read(self, popen: subprocess.Popen[bytes]) -> None:
        """Its lines as they come; at the pipe's end (it exited), "exited"."""
        assert popen.stdout is not None  # a pipe, asked for in start
        with popen.stdout:
            for line in popen.stdout:
                with self._more:
                    self._said.append(line.decode().strip())
                    self._more.notify_all()
        with self._more:
            self._said.append("exited")
            self._more.notify_all()

    def wait_said(self, done: Callable[[list[str]], bool], what: str, within_s: float) -> None:
        """Until ``done`` holds of what it said on this run (looked at again at each line);
        fails naming ``what``, with its standard error if it exited first."""
        with self._more:
            self._more.wait_for(lambda: done(self._said) or "exited" in self._said, within_s)
            if done(self._said):
                return
        self.alive()
        raise AssertionError(f"{what}: not within {within_s:g} s")

    def acked_ids(self) -> list[str]:
        return self.acked.read_text().split() if self.acked.exists() else []

    def alive(self) -> None:
        """AssertionError, with its standard error, if the process has exited."""
        assert self.popen is not None
        with self._more:
            said_exit = "exited" in self._said
        if said_exit:
            self.popen.wait(10.0)
        if self.popen.poll() is not None:
            raise AssertionError(f"the process exited: {self.errors.read_text()[-3000:]}")

    def wait_acked(self, n: int, within_s: float = 60.0) -> None:
        """Until ``n`` of its filings are acknowledged, over its runs (a run says each one
        after it records it)."""
        self.wait_said(lambda _: len(self.acked_ids()) >= n, f"{self.acked} below {n}", within_s)

    def wait_leading(self, within_s: float = 30.0) -> None:
        """Until it says it holds the lease (its last word on it)."""

        def leads(said: list[str]) -> bool:
            leases = [line for line in said if line.startswith("lease ")]
            return bool(leases) and leases[-1] != "lease none"

        self.wait_said(leads, "it never took the lease", within_s)

    def _ended(self, timeout_s: float) -> int:
        assert self.popen is not None
        assert self._reader is not None
        code = self.popen.wait(timeout_s)
        self._reader.join(timeout_s)  # its pipe ends with it
        return code

    def kill(self) -> None:
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        self._ended(10.0)

    def finish(self, timeout_s: float = 30.0) -> dict[str, int]:
        assert self._ended(timeout_s) == 0, self.errors.read_text()[-3000:]
        return json.loads(self.report.read_text())

    def cleanup(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.kill()
        self._ended(10.0)


def _wait_consumed(store: Store, procs: list[Proc], within_s: float = 90.0) -> None:
    """Until every filing is acknowledged and the detector's stored cursor is at the log's
    end. Final once it holds: only filings append to the log (a detection's outputs are not
    rows of it, ``_check_exactly_once`` checks), every filing has committed once acknowledged,
    and the cursor is stored in the commit of what the rows before it produced. (It was
    looked at again after 0.3 s, from when a detection's outputs were rows of the log too.)"""

    def consumed() -> bool:
        for p in procs:
            p.alive()
        if not all(len(p.acked_ids()) == COUNT for p in procs):
            return False
        return not store.changes_after(store.detector_cursor())

    with contextlib.closing(commits(store)) as signal:
        assert until(consumed, within_s, signal), "the change log was not consumed in time"


def _check_exactly_once(store: Store, acked: set[str]) -> None:
    notices = {n.id for n in store.list_notices()}
    everything = {f"{p}-{i}" for p in ("usaf", "faf") for i in range(COUNT)}
    assert acked <= notices, f"acknowledged but lost: {sorted(acked - notices)}"
    assert notices == everything
    conflicts = store.list_conflicts()
    pairs = set()
    for c in conflicts:
        assert (c.a.kind, c.b.kind) == (RecordKind.NOTICE, RecordKind.NOTICE)
        pairs.add(tuple(sorted((c.a.record_id, c.b.record_id))))
    assert pairs == expected_conflicts(COUNT)
    assert len(conflicts) == len(pairs)
    notes = store.list_notifications()
    told = Counter(
        (n.kind, n.notice_id, n.conflict_id, n.recipient)
        for n in notes
        if n.kind in (NotificationKind.NOTICE, NotificationKind.CONFLICT)
    )
    assert set(told.values()) == {1}, "a notification was produced twice"
    notice_told = {(nid, r) for (k, nid, _, r) in told if k is NotificationKind.NOTICE}
    other = {"usaf": "faf", "faf": "usaf"}
    assert notice_told == {(nid, other[nid.split("-")[0]]) for nid in everything}
    conflict_told = Counter(cid for (k, _, cid, _) in told if k is NotificationKind.CONFLICT)
    assert conflict_told == {c.id: 2 for c in conflicts}
    assert len(notes) == len(everything) + 2 * len(conflicts)
    ledger = Counter(json.loads(body)["type"] for _, body in store.ledger_entries())
    assert ledger["notification.created"] == len(notes)
    assert ledger["conflict.detected"] == len(conflicts)
    log = Counter(c.entity for c in store.changes_after(0))  # the detector's inputs only
    assert set(log) == {"party", "agreement", "notice"}


def _lease_token(store: Store) -> int:
    with store._engine.connect() as c:  # type: ignore[attr-defined]
        return lease._get(c, lease.TOKEN)


def _target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "hub.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _target(request, tmp_path)


@pytest.mark.slow
def test_two_hub_processes_detect_every_change_once(target, tmp_path):
    """Two processes file concurrently and hand the lease back and forth; every change is
    detected exactly once and both took turns as the detector."""
    _setup(target)
    procs = [Proc(tmp_path, target, party, lease_s=2.0, yield_every=2) for party in ("usaf", "faf")]
    store = open_store(target)
    try:
        for p in procs:
            p.start()
        _wait_consumed(store, procs)
        procs[0].stop.touch()
        reports = [p.finish() for p in procs]
        _check_exactly_once(store, {i for p in procs for i in p.acked_ids()})
        assert all(r["batches"] > 0 for r in reports), reports
    finally:
        for p in procs:
            p.cleanup()
        store.close()


@pytest.mark.slow
def test_kill_9_of_the_detector_loses_nothing_and_repeats_nothing(target, tmp_path):
    """The lease holder is killed with SIGKILL mid-load; the other takes over when the lease
    lapses, the killed one restarts and finishes its load: every acknowledged filing is stored
    and every notification exists exactly once."""
    _setup(target)
    # The first holds after a third of its load (detecting, the lease held), so that the kill
    # lands mid-load however fast a filing is; restarted, it files the rest.
    first = Proc(tmp_path, target, "usaf", lease_s=1.0, hold_after=COUNT // 3)
    second = Proc(tmp_path, target, "faf", lease_s=1.0)
    store = open_store(target)
    try:
        first.start()
        first.wait_acked(3)  # it has stepped: it holds the lease
        second.start()
        first.wait_acked(COUNT // 3)
        token = _lease_token(store)
        first.kill()
        killed_acked = set(first.acked_ids())
        assert len(killed_acked) < COUNT
        # The survivor takes over once the lease lapses (and says so).
        second.wait_leading()
        assert _lease_token(store) != token, "the survivor never took over"
        first.start()
        _wait_consumed(store, [first, second])
        first.stop.touch()
        reports = [p.finish() for p in (first, second)]
        assert reports[1]["batches"] > 0, "the survivor never took over"
        _check_exactly_once(store, killed_acked | set(first.acked_ids()) | set(second.acked_ids()))
    finally:
        for p in (first, second):
            p.cleanup()
        store.close()
