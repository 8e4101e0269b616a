"""Processes that supervise (issue 19 item 3; docs/security.md §4.5): the detector keeps its
lease while its work is slow and gets it back from an HTTP worker, every change of holder is
logged and counted, a detector process killed with SIGKILL is started again and leads, a
supervisor killed with SIGKILL takes its workers and its detector with it (and the port is free
again), and a stop with an event stream open is quick and quiet.

The process tests kill for real. Each server runs in a session of its own and the fixture kills
that whole process group however the test ends; every wait is for what the process says (a line
of its log, its exit), bounded by a generous deadline."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.harness import circle, make_db
from tests.hub.scenario import T0, vol
from tests.processes import gone, live_processes

from deconflict.api import issue_local_token
from deconflict.client import Client
from deconflict.errors import InvalidInput
from deconflict.hub import DetectorWorker, Hub, SimulatedClock
from deconflict.runtime.runner import HubRunner
from deconflict.settings import local_state_path
from deconflict.testing import Line, ServeOutput, free_port

DEADLINE_S = 60.0  # the most any condition below is waited for


class Wall:
    """A hand-driven wall clock for the lease."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


# -- the lease beside slow work (in one process, a hand-driven wall clock) --------------------


@pytest.fixture
def hubs(store_target: str) -> Iterator[tuple[Hub, Hub]]:
    clock = SimulatedClock(T0)
    first = Hub.open(store_target, clock)
    first.add_party("usaf", "US Air Force")
    first.add_party("faf", "French Air Force")
    second = Hub.open(store_target, clock)
    yield first, second
    first.close()
    second.close()


class _SlowStep:
    """Makes ``hub``'s next detector pass block until :meth:`finish` (a detection unit that
    takes as long as the test says), telling when it has started."""

    def __init__(self, hub: Hub) -> None:
        self.started = threading.Event()
        self._finish = threading.Event()
        real = hub.process

        def slow(*args: object, **kwargs: object) -> object:
            self.started.set()
            self._finish.wait(DEADLINE_S)
            return real(*args, **kwargs)  # type: ignore[arg-type]

        hub.process = slow  # type: ignore[assignment,method-assign]

    def finish(self) -> None:
        self._finish.set()


def _renewals(worker: DetectorWorker) -> threading.Event:
    """Set whenever ``worker``'s keeper renews its lease beside its work (the renewal's own
    thread sets it: waited for, not looked for)."""
    renewed = threading.Event()
    renew = worker._renew_beside

    def watched(store: Any) -> None:
        before = worker.renewals
        renew(store)
        if worker.renewals > before:
            renewed.set()

    worker._renew_beside = watched  # type: ignore[method-assign]
    return renewed


def _step_in_thread(worker: DetectorWorker) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.step()), daemon=True)
    thread.start()
    return thread, outcome


def test_a_renewal_does_not_wait_behind_a_long_detection_step(hubs: tuple[Hub, Hub]) -> None:
    """security.md §4.5: while the leader's detection step runs three lease periods long, the
    renewal beside it keeps the lease: a standby does not take it, and the step commits under
    its token. (On main the lease lapsed behind the step and the standby took it for good.)"""
    one, two = hubs
    wall = Wall()
    leader = DetectorWorker(one, lease_s=5.0, wall=wall, preferred=True, renew_beside_s=0.01)
    standby = DetectorWorker(two, lease_s=5.0, wall=wall)
    assert leader.step() is not None
    token = leader.token
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    slow = _SlowStep(one)
    renewed = _renewals(leader)
    thread, outcome = _step_in_thread(leader)
    try:
        assert slow.started.wait(DEADLINE_S)
        renewed.clear()
        wall.now += 15.0  # three lease periods into the step
        assert renewed.wait(DEADLINE_S)  # renewed at the new time, beside it
        assert standby.step() is None
        assert standby.token is None
    finally:
        slow.finish()
        thread.join(DEADLINE_S)
    (report,) = outcome
    assert report is not None
    assert report.changes == 1  # committed under its token, not refused as a lost lease
    assert leader.token == token
    leader.release()


def test_a_stalled_leader_still_loses_the_lease(hubs: tuple[Hub, Hub]) -> None:
    """security.md §4.5: the renewal beside the work is bounded: a step stuck for longer than
    ``stall_s`` is not renewed for, so a standby takes the lease and detects."""
    one, two = hubs
    wall = Wall()
    leader = DetectorWorker(one, lease_s=5.0, wall=wall, renew_beside_s=0.01, stall_s=30.0)
    standby = DetectorWorker(two, lease_s=5.0, wall=wall)
    assert leader.step() is not None
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    slow = _SlowStep(one)
    thread, _ = _step_in_thread(leader)
    try:
        assert slow.started.wait(DEADLINE_S)
        wall.now += 40.0  # stuck past stall_s and the lease
        assert standby.step() is not None  # the stalled leader's keeper renews no more
        assert standby.token == 2
    finally:
        slow.finish()
        thread.join(DEADLINE_S)
    assert leader.step() is None  # its commit was fenced off; it is on standby now
    standby.release()


def test_a_worker_that_is_not_preferred_gives_the_lease_back(hubs: tuple[Hub, Hub]) -> None:
    """security.md §4.5: an HTTP worker that took the lease while the detector process was
    down gives it back when a new one asks, at its next renewal, and does not take it again
    while it is asked for; the detector process then takes it and detects."""
    one, two = hubs
    wall = Wall()
    http_worker = DetectorWorker(one, lease_s=5.0, wall=wall)
    detector = DetectorWorker(two, lease_s=5.0, wall=wall, preferred=True)
    assert http_worker.step() is not None
    assert detector.step() is None  # asks for it
    wall.now += 2.0  # past the holder's renewal time
    assert http_worker.step() is None  # gave it back
    assert http_worker.step() is None  # released, but kept for the one that asked
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    report = detector.step()
    assert report is not None
    assert report.changes == 1
    assert detector.token == 2
    wall.now += 2.0
    assert http_worker.step() is None  # a preferred holder is not asked to give it back
    assert detector.step() is not None
    detector.release()


@pytest.mark.anyio
async def test_a_handover_is_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """security.md §4.5: two runners on one store, an HTTP worker's leading: when a detector
    process's runner starts, the worker gives the lease back, logging a WARNING (JSON, event
    ``detector.lease``) and counting "lost", and the detector process counts "taken"."""
    db = tmp_path / "hub.db"
    Hub.open(db).close()
    seen: dict[str, list[str]] = {"worker": [], "detector": []}
    worker = HubRunner(lambda: Hub.open(db), on_handover=seen["worker"].append)
    detector = HubRunner(lambda: Hub.open(db), preferred=True, on_handover=seen["detector"].append)
    caplog.set_level(logging.INFO, logger="deconflict.runtime")
    await worker.start()
    try:
        assert worker.leading
        await detector.start()
        try:
            deadline = time.monotonic() + DEADLINE_S
            while not detector.leading and time.monotonic() < deadline:
                await detector.changed(0.05)
            assert detector.leading
            assert not worker.leading
        finally:
            await detector.stop()
    finally:
        await worker.stop()
    assert seen["worker"][:2] == ["taken", "lost"]
    assert seen["detector"][:1] == ["taken"]
    warned = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.levelno == logging.WARNING and "detector.lease" in r.getMessage()
    ]
    assert warned, caplog.text
    assert {k: warned[0][k] for k in ("event", "change", "role", "pid")} == {
        "event": "detector.lease",
        "change": "lost",
        "role": "http worker",
        "pid": os.getpid(),
    }


# -- real processes ------------------------------------------------------------------------


def _descendants(root: int) -> set[int]:
    every = live_processes()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (parent, _) in every.items() if parent in frontier} - found
        found |= frontier
    return found


def _detectors(server: int) -> list[int]:
    """The detector processes of the server ``server`` (its spawned children)."""
    return [
        pid
        for pid, (parent, cmd) in live_processes().items()
        if parent == server and "spawn_main" in cmd
    ]


class Serve:
    """One ``deconflict serve`` in a session of its own, its output copied to a file as it
    comes (``deconflict.testing.ServeOutput``: a test waits for a line of it)."""

    def __init__(self, db: Path, port: int, log: Path, *options: str) -> None:
        command = [sys.executable, "-c", "from deconflict.cli.main import run; run()", "serve"]
        command += ["--db", str(db), "--host", "127.0.0.1", "--port", str(port), *options]
        self.url = f"http://127.0.0.1:{port}"
        self.db = db
        self.log = log
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        assert self.process.stdout is not None  # a pipe, asked for above
        self._copy = log.open("w+b")
        self.output = ServeOutput(self.process.stdout, self._copy)
        self.pid = self.process.pid

    def holder_taken(self, pid: str, *, after: int = 0) -> Line | None:
        """The line of its log saying a detector process (``pid``: a regular expression of
        its pid) took the lease, once it is written (from byte ``after`` of the log on)."""
        pattern = rb'"detector\.lease", "change": "taken", "token": \d+, "pid": ' + pid.encode()
        pattern += rb', "role": "detector process"'
        return self.output.wait_for(pattern, DEADLINE_S, after=after)

    def metric(self, name: str) -> float | None:
        """A metric of ``/metrics`` (of whichever worker answers), None if it is not there."""
        headers = {}
        # The operator's metrics scope, where /metrics asks for one (not every version has it).
        with contextlib.suppress(InvalidInput):
            operator = issue_local_token(local_state_path(str(self.db)), "CAOC", ["metrics"])
            headers["Authorization"] = f"Bearer {operator}"
        with contextlib.suppress(httpx.HTTPError):
            text = httpx.get(f"{self.url}/metrics", headers=headers, timeout=5.0).text
            for line in text.splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
        return None

    def end(self) -> None:
        """Kill the whole process group (the server, its workers and detector, orphans)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(DEADLINE_S)
        self.output.close()
        self._copy.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """Starts servers on the test's database; kills each one's process group at the end."""
    db = make_db(tmp_path)
    started: list[Serve] = []

    def start(*options: str, port: int | None = None) -> Serve:
        server = Serve(db, port or free_port(), tmp_path / f"serve-{len(started)}.log", *options)
        started.append(server)
        server.output.wait_ready(server.url, DEADLINE_S)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.end()


@pytest.mark.slow
def test_a_killed_detector_process_comes_back_and_leads(serve: Callable[..., Serve]) -> None:
    """security.md §4.5: SIGKILL the detector process: a new one is started, stays up and
    takes the lease back (``/metrics`` names its pid as the holder), and it detects. (On main
    every new one died at once, and detection stayed in the HTTP worker.)"""
    server = serve()
    (first,) = _detectors(server.pid)
    took = server.holder_taken(str(first))
    assert took is not None, server.log.read_text()[-3000:]
    assert server.metric("deconflict_detector_lease_holder_pid") == first
    os.kill(first, signal.SIGKILL)
    # The next detector process to take the lease says so in the log, as it does.
    again = server.holder_taken(r"(\d+)", after=took.end)
    assert again is not None, server.log.read_text()[-3000:]
    second = int(json.loads(again.text[again.text.index(b"{") :])["pid"])
    assert second != first
    assert _detectors(server.pid) == [second]
    assert server.metric("deconflict_detector_leading") == 0.0  # not the HTTP worker
    state = local_state_path(str(server.db))
    with (
        Client(server.url, issue_local_token(state, "RU", ["read", "notice"])) as ru,
        Client(server.url, issue_local_token(state, "US", ["read", "notice"])) as us,
    ):
        ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
        us.file_notice([circle("us-1")], "air-activity", "US-N1")
        assert len(us.conflicts()) == 1  # a read after the writes waits for their detection
    assert server.metric("deconflict_detector_lease_holder_pid") == second
    assert _detectors(server.pid) == [second]
    log = server.log.read_text()
    assert '"event": "detector.process", "change": "exited"' in log
    assert '"change": "started"' in log


@pytest.mark.slow
def test_a_killed_supervisor_takes_its_workers_and_detector_with_it(
    serve: Callable[..., Serve],
) -> None:
    """security.md §4.5: SIGKILL the supervisor of ``serve --workers 2``: its workers and its
    detector process exit by themselves, and a new ``serve`` on the same port starts at once.
    (On main the workers went on serving, unmanaged, and the new serve found the port taken.)"""
    server = serve("--workers", "2")
    children = _descendants(server.pid)
    assert len(children) >= 3  # two workers and the detector process (and helpers)
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait(DEADLINE_S)
    assert gone(children, DEADLINE_S), [live_processes().get(pid) for pid in children]
    port = int(server.url.rpartition(":")[2])
    again = serve("--workers", "2", port=port)
    assert again.metric("deconflict_detector_leading") == 0.0


def _open_stream(url: str, token: str) -> tuple[threading.Thread, list[object]]:
    """A thread reading ``url``'s event stream to its end; its outcome: the bytes, or the error."""
    outcome: list[object] = []
    opened = threading.Event()

    def read() -> None:
        received = b""
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.stream("GET", f"{url}/v1/events", headers=headers, timeout=60.0) as answer:
                for chunk in answer.iter_bytes():
                    received += chunk
                    opened.set()
            outcome.append(received)
        except httpx.HTTPError as error:
            outcome.append(error)
        finally:
            opened.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert opened.wait(DEADLINE_S)
    return thread, outcome


@pytest.mark.slow
@pytest.mark.parametrize(("workers", "how"), [("1", "SIGTERM"), ("2", "SIGTERM"), ("1", "Ctrl-C")])
def test_a_stop_with_a_stream_open_is_quick_and_quiet(
    serve: Callable[..., Serve], workers: str, how: str
) -> None:
    """security.md §4.5: SIGTERM to the server (or Ctrl-C: SIGINT to its process group) with an
    event stream open: the stream ends cleanly, the server exits within uvicorn's graceful
    timeout (its "timeout graceful shutdown exceeded" is not logged) and nothing in its log
    is an ERROR or a traceback. (On main it waited the whole 5 s and logged an ERROR.)"""
    server = serve("--workers", workers)
    token = issue_local_token(local_state_path(str(server.db)), "US", ["read"])
    thread, outcome = _open_stream(server.url, token)
    if how == "SIGTERM":
        os.kill(server.pid, signal.SIGTERM)
    else:
        os.killpg(server.pid, signal.SIGINT)
    assert server.process.wait(DEADLINE_S) == 0  # and it stopped its detector process first
    thread.join(DEADLINE_S)
    (received,) = outcome
    assert isinstance(received, bytes), received  # ended by the server, not cut off
    assert received.startswith(b"retry: 1000")
    log = server.log.read_text()
    assert "timeout graceful shutdown exceeded" not in log
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert not any(
        json.loads(line).get("level") == "error" for line in log.splitlines() if line[:1] == "{"
    )
