"""Several ``deconflict serve`` processes on one database (a SQLite file or PostgreSQL): a notice
filed through one reaches a party's event stream open on another within a second, whichever of
them holds the detector lease; ``--workers N`` serves."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from pathlib import Path

import pytest
from tests.api.harness import circle, make_db

from deconflict.api import issue_local_token
from deconflict.client import Client, Event
from deconflict.settings import local_state_path
from deconflict.testing import served


def _first_event(client: Client, notice: str, into: queue.Queue[Event]) -> threading.Thread:
    """A thread putting the first event of ``client``'s stream naming ``notice`` into ``into``."""

    def listen() -> None:
        with contextlib.closing(client.events()) as events:
            for event in events:
                if event.data["notice_id"] == notice:
                    into.put(event)
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    return thread


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database several processes share: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(make_db(tmp_path))
    url: str = request.getfixturevalue("pg_url")
    make_db(tmp_path, url)
    return url


def test_a_notice_reaches_a_stream_on_another_process(target: str) -> None:
    """Two processes, the first holding the lease: RU's notice filed through the leader reaches
    US's stream on the standby within a second, and the next one, filed through the standby,
    reaches US's stream on the leader within a second (the leader wakes its detector for the
    other process's commit, not at its next poll)."""
    state = local_state_path(target)
    ru_token = issue_local_token(state, "RU", ["read", "notice"])
    us_token = issue_local_token(state, "US", ["read", "ack"])
    with served(target) as leader, served(target) as standby:
        for filed_on, stream_on, n in ((leader, standby, 1), (standby, leader, 2)):
            ru, us = Client(filed_on, ru_token), Client(stream_on, us_token)
            received: queue.Queue[Event] = queue.Queue()
            _first_event(us, f"RU-N{n}", received)
            time.sleep(0.5)  # the stream is open and waiting
            started = time.monotonic()
            ru.file_notice([circle(f"ru-{n}", lon=39.0 + 0.1 * n)], "hazard-area", f"RU-N{n}")
            event = received.get(timeout=10)
            assert event.data["notice_id"] == f"RU-N{n}"
            assert time.monotonic() - started < 1.0
            ru.close()
            us.close()


def test_workers_option_serves(target: str) -> None:
    """``--workers 2`` starts two processes on one port that file and deliver."""
    state = local_state_path(target)
    with served(target, "--workers", "2") as url:
        ru = Client(url, issue_local_token(state, "RU", ["read", "notice"]))
        us = Client(url, issue_local_token(state, "US", ["read", "ack"]))
        received: queue.Queue[Event] = queue.Queue()
        _first_event(us, "RU-N1", received)
        time.sleep(0.5)
        ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
        assert received.get(timeout=10).data["notice_id"] == "RU-N1"
        ru.close()
        us.close()
