"""Several ``deconflict serve`` processes on one database (a SQLite file or PostgreSQL): a notice
filed through one reaches a party's event stream open on another as it happens (woken, not at
the stream's 15 s keep-alive), whichever of them holds the detector lease; ``--workers N``
serves, and a log its detector process finds broken stops every worker's filings."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.api.harness import circle, make_db, notice_body
from tests.api.streams import LiveStream
from tests.processes import commits, until

from deconflict.api import issue_local_token
from deconflict.client import Client
from deconflict.settings import local_state_path
from deconflict.store import open_store
from deconflict.store.engines import postgres_url
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


def test_a_log_broken_under_workers_halts_the_filings_of_every_worker(target: str) -> None:
    """Issue 19: ``--workers 2`` (two HTTP workers, and the detector process that ticks); the
    log's stored hashes zeroed behind their backs, so that it no longer gives the root the hub
    signed. The detector process's tick finds it and records the halt, and then the filings
    through the port, each on a connection of its own (so either worker takes it), are
    refused, 503, eight in a row; nothing more is signed. While the halt was the detector
    process's memory, the workers went on filing. Each condition is waited for at most 10 s,
    looked at again when the store tells of a commit (``tests.processes.until``)."""
    engine = sa.create_engine(postgres_url(target) if "://" in target else f"sqlite:///{target}")
    headers = {
        "Authorization": f"Bearer {issue_local_token(local_state_path(target), 'RU', ['notice'])}"
    }

    def read(query: str) -> object:
        with engine.connect() as c:
            return c.execute(sa.text(query)).scalar()

    def filed(url: str, n: int) -> int:
        with httpx.Client(base_url=url) as http:  # a connection of its own: either worker
            body = notice_body(circle(f"ru-{n}", lon=39.0 + 0.01 * n), id=f"RU-N{n}")
            return http.post("/v1/notices", json=body, headers=headers).status_code

    store = open_store(target)
    try:
        with served(target, "--workers", "2") as url, contextlib.closing(commits(store)) as woken:
            assert filed(url, 0) == 201
            assert until(lambda: read("SELECT max(size) FROM ledger_checkpoints"), 10, woken)
            with engine.begin() as c:
                zeroed = c.execute(sa.text("UPDATE ledger_nodes SET hash = :h"), {"h": bytes(32)})
            assert zeroed.rowcount > 0
            assert until(lambda: read("SELECT count(*) FROM ledger_halt"), 10, woken)
            signed = read("SELECT max(size) FROM ledger_checkpoints")
            numbers = iter(range(1, 1000))
            refused = lambda: all(filed(url, next(numbers)) == 503 for _ in range(8))  # noqa: E731
            assert until(refused, 10, woken)
            assert read("SELECT max(size) FROM ledger_checkpoints") == signed
    finally:
        store.close()
        engine.dispose()
