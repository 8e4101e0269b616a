"""``deconflict serve`` detects in a process of its own (``api/background.py``): a read after a
write still sees its detection; if the detector process dies an HTTP worker takes the lease over
and a new detector process is started; and it never outlives the server, even one killed with
SIGKILL. Every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.harness import circle, make_db
from tests.hub.scenario import make_hub, vol
from tests.processes import commits, gone, live_processes, until

from deconflict.api import ApiSettings, issue_local_token
from deconflict.client import Client
from deconflict.hub import Hub
from deconflict.runtime.detector_process import DetectorProcess
from deconflict.settings import local_state_path
from deconflict.testing import served, serving

LEASE_S = 5.0  # DetectorWorker's period: a standby takes a dead holder's lease after it


def _server_pid(url: str) -> int:
    port = url.rpartition(":")[2]
    return next(pid for pid, (_, cmd) in live_processes().items() if f"--port {port} " in cmd + " ")


def _detectors(server: int) -> list[int]:
    """The detector processes of the server ``server`` (its spawned children; not the
    resource tracker multiprocessing starts beside them)."""
    return [
        pid
        for pid, (parent, cmd) in live_processes().items()
        if parent == server and "spawn_main" in cmd
    ]


def _leading(url: str, db: Path) -> float:
    operator = issue_local_token(local_state_path(str(db)), "CAOC", ["metrics"])
    headers = {"Authorization": f"Bearer {operator}"}
    metrics = httpx.get(f"{url}/metrics", headers=headers, timeout=10).text
    line = next(x for x in metrics.splitlines() if x.startswith("deconflict_detector_leading "))
    return float(line.split()[1])


@pytest.fixture
def hub(tmp_path: Path) -> tuple[Path, str, str]:
    db = make_db(tmp_path)
    state = local_state_path(str(db))
    return (
        db,
        issue_local_token(state, "RU", ["read", "notice"]),
        issue_local_token(state, "US", ["read", "notice"]),
    )


def test_a_read_after_a_write_sees_its_detection(hub: tuple[Path, str, str]) -> None:
    """The HTTP process does not detect (the detector process holds the lease), yet a read
    right after two conflicting filings finds their conflict: it waited for the detector."""
    db, ru_token, us_token = hub
    with served(db) as url:
        assert _leading(url, db) == 0.0
        assert len(_detectors(_server_pid(url))) == 1
        with Client(url, ru_token) as ru, Client(url, us_token) as us:
            for n in range(3):
                ru.file_notice([circle(f"ru-{n}", lon=30.0 + n)], "hazard-area", f"RU-N{n}")
                us.file_notice([circle(f"us-{n}", lon=30.0 + n)], "air-activity", f"US-N{n}")
                found = us.conflicts()
                assert len(found) == n + 1


@pytest.mark.parametrize("how", ["option", "environment"])
def test_in_one_process_with_no_detector_process(hub: tuple[Path, str, str], how: str) -> None:
    """``--no-detector-process`` (or ``DECONFLICT_DETECTOR_PROCESS=0``): the HTTP process
    holds the lease and detects itself."""
    db, ru_token, us_token = hub
    options = ("--no-detector-process",) if how == "option" else ()
    env = dict(os.environ, DECONFLICT_DETECTOR_PROCESS="0") if how == "environment" else None
    with served(db, *options, env=env) as url:
        assert _leading(url, db) == 1.0
        assert _detectors(_server_pid(url)) == []
        with Client(url, ru_token) as ru, Client(url, us_token) as us:
            ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
            us.file_notice([circle("us-1")], "air-activity", "US-N1")
            assert len(us.conflicts()) == 1


@pytest.mark.slow
def test_a_killed_detector_process_is_taken_over_and_started_again(
    hub: tuple[Path, str, str],
) -> None:
    """SIGKILL the detector process: filings still get their conflicts (the HTTP worker takes
    the lease when it lapses), and the server starts a new detector process."""
    db, ru_token, us_token = hub
    with (
        serving(db) as server,
        Hub.open(db) as reader,
        contextlib.closing(commits(reader.store)) as woken,
    ):
        parent = _server_pid(server.url)
        (detector,) = _detectors(parent)
        os.kill(detector, signal.SIGKILL)
        with Client(server.url, ru_token) as ru, Client(server.url, us_token) as us:
            ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
            us.file_notice([circle("us-1")], "air-activity", "US-N1")
            # Detected by the HTTP worker once the lease lapses: its commit wakes the wait.
            assert until(lambda: len(us.conflicts()) == 1, LEASE_S * 4, woken)
        # The supervisor says when it has started another (a line of its log, as it comes).
        assert server.output.wait_for(rb'"detector\.process", "change": "started"', LEASE_S * 2)
        assert _detectors(parent) not in ([], [detector])


@pytest.mark.slow
def test_the_detector_process_does_not_outlive_its_server(hub: tuple[Path, str, str]) -> None:
    """SIGKILL the server (no chance to stop anything): its detector process stops too."""
    db, _, _ = hub
    with served(db) as url:
        server = _server_pid(url)
        (detector,) = _detectors(server)
        os.kill(server, signal.SIGKILL)
        assert gone([detector], 15.0)


@contextlib.contextmanager
def _waiting_for_the_word(tmp_path: Path, *notices: Any) -> Iterator[tuple[Path, DetectorProcess]]:
    """A detector process on a hub where ``notices`` (party, volume) were filed undetected,
    started as ``serve`` starts it up to its word: spawned, let open, holding the lease.
    Stopped however the test ends."""
    hub, _ = make_hub(tmp_path)
    for n, (party, volume) in enumerate(notices):
        hub.file_notice(party, [volume], "air-activity", f"N{n}")
    hub.close()
    path = tmp_path / "hub.db"
    detector = DetectorProcess(ApiSettings(db=path))
    try:
        detector.spawn()
        detector.open()
        detector.wait_started()
        yield path, detector
    finally:
        detector.stop()


def test_the_detector_process_leads_while_it_builds_and_detects_only_once_told(
    tmp_path: Path,
) -> None:
    """``serve``'s start (cli/serve.py): the process takes the lease before it has rebuilt
    its index (the HTTP workers may start, on standby), then detects nothing, and signs
    nothing, until the supervisor's word that the ledger checked good; then it detects."""
    # Ahead of the process's clock, the real one: a pair already over is no conflict.
    soon = {"start_s": time.time() + 3_600.0, "end_s": time.time() + 7_200.0}
    notices = (("usaf", vol("a", **soon)), ("faf", vol("b", lat=35.97, **soon)))
    with (
        _waiting_for_the_word(tmp_path, *notices) as (path, detector),
        Hub.open(path) as hub,
        contextlib.closing(commits(hub.store)) as woken,
    ):
        assert hub.store.lease_holder(time.time()).pid == detector.pid
        assert hub.store.list_conflicts() == []
        assert hub.store.detector_cursor() == 0
        assert hub.store.ledger_latest_checkpoint() is None
        detector.go(checked=True)
        assert until(lambda: len(hub.store.list_conflicts()) == 1, 60.0, woken)


def test_a_start_stopped_before_serve_s_word_lets_the_lease_go(tmp_path: Path) -> None:
    """serve stopped (its ledger check failed, Ctrl-C) while its detector process holds the
    lease and waits for the word: the process releases the lease as it ends, so that another
    serve on the database need not wait for it to lapse; it detected nothing."""
    with (
        _waiting_for_the_word(tmp_path, ("usaf", vol("a"))) as (path, detector),
        Hub.open(path) as hub,
    ):
        assert hub.store.lease_holder(time.time()).pid == detector.pid
    with Hub.open(path) as hub:
        assert hub.store.lease_holder(time.time()).pid == 0
        assert hub.store.detector_cursor() == 0
