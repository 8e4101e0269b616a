"""Several ``deconflict serve`` processes on one PostgreSQL database: a notice filed through
one reaches a party's event stream open on another within a second, whichever of them holds
the detector lease; ``--workers N`` serves; SQLite refuses more than one worker."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from pathlib import Path

import pytest
from tests.api.harness import circle, make_db

from deconflict.api import issue_local_token
from deconflict.cli.main import main
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


@pytest.mark.postgres
def test_a_notice_reaches_a_stream_on_another_process(tmp_path: Path, pg_url: str) -> None:
    """Two processes, the first holding the lease: RU's notice filed through the leader reaches
    US's stream on the standby within a second, and the next one, filed through the standby,
    reaches US's stream on the leader within a second."""
    make_db(tmp_path, pg_url)
    state = local_state_path(pg_url)
    ru_token = issue_local_token(state, "RU", ["read", "notice"])
    us_token = issue_local_token(state, "US", ["read", "ack"])
    with served(pg_url) as leader, served(pg_url) as standby:
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


@pytest.mark.postgres
def test_workers_option_serves(tmp_path: Path, pg_url: str) -> None:
    """``--workers 2`` starts two processes on one port that file and deliver."""
    make_db(tmp_path, pg_url)
    state = local_state_path(pg_url)
    with served(pg_url, "--workers", "2") as url:
        ru = Client(url, issue_local_token(state, "RU", ["read", "notice"]))
        us = Client(url, issue_local_token(state, "US", ["read", "ack"]))
        received: queue.Queue[Event] = queue.Queue()
        _first_event(us, "RU-N1", received)
        time.sleep(0.5)
        ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
        assert received.get(timeout=10).data["notice_id"] == "RU-N1"
        ru.close()
        us.close()


def test_sqlite_refuses_several_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    db = make_db(tmp_path)
    assert main(["serve", "--db", str(db), "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert "--workers above 1 needs a postgresql:// database" in err
    assert len(err.strip().splitlines()) == 1
