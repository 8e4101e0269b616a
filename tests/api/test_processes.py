"""Several ``deconflict serve`` processes on one database (a SQLite file or PostgreSQL): a notice
filed through one reaches a party's event stream open on another as it happens (woken, not at
the stream's 15 s keep-alive), whichever of them holds the detector lease; ``--workers N``
serves."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.api.harness import circle, make_db
from tests.api.streams import LiveStream

from deconflict.api import issue_local_token
from deconflict.client import Client
from deconflict.settings import local_state_path
from deconflict.testing import served


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
    US's stream on the standby, and the next one, filed through the standby, reaches US's
    stream on the leader (the leader wakes its detector for the other process's commit, and
    the standby its streams for the leader's detections). Each is waited for at most 10 s,
    under the streams' 15 s keep-alive, which a stream nobody woke would wait for."""
    state = local_state_path(target)
    ru_token = issue_local_token(state, "RU", ["read", "notice"])
    us_token = issue_local_token(state, "US", ["read", "ack"])
    with served(target) as leader, served(target) as standby:
        for filed_on, stream_on, n in ((leader, standby, 1), (standby, leader, 2)):
            ru = Client(filed_on, ru_token)
            with LiveStream(stream_on, us_token) as stream:
                ru.file_notice([circle(f"ru-{n}", lon=39.0 + 0.1 * n)], "hazard-area", f"RU-N{n}")
                assert stream.notice(f"RU-N{n}", timeout_s=10)["notice_id"] == f"RU-N{n}"
            ru.close()


def test_workers_option_serves(target: str) -> None:
    """``--workers 2`` starts two processes on one port that file and deliver."""
    state = local_state_path(target)
    with served(target, "--workers", "2") as url:
        ru = Client(url, issue_local_token(state, "RU", ["read", "notice"]))
        with LiveStream(url, issue_local_token(state, "US", ["read", "ack"])) as stream:
            ru.file_notice([circle("ru-1")], "hazard-area", "RU-N1")
            assert stream.notice("RU-N1")["notice_id"] == "RU-N1"
        ru.close()
