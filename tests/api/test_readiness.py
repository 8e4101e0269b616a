"""/readyz needs no token, so whoever can reach the hub can ask it as fast as it likes: the
checks share one job on the hub thread, and its answer stands for a second (security.md §4.2)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from tests.api.harness import client_with, make_db

from deconflict.api import app as app_module
from deconflict.api.app import ApiSettings, Readiness, create_app
from deconflict.runtime.runner import HubRunner

pytestmark = pytest.mark.anyio

_BURST = 40
_GIVE_UP_S = 10.0


def readiness_jobs(monkeypatch: Any) -> list[None]:
    """A list that grows by one at each job a readiness check puts on the hub thread (other
    parts of the app, a sweep of webhooks say, may run jobs of their own meanwhile)."""
    jobs: list[None] = []
    real = HubRunner.run

    async def run(self: HubRunner, fn: Any, *, party: str | None) -> Any:
        if "Readiness" in fn.__qualname__:
            jobs.append(None)
        return await real(self, fn, party=party)

    monkeypatch.setattr(HubRunner, "run", run)
    return jobs


async def test_a_burst_of_readiness_checks_is_one_job_on_the_hub_thread(tmp_path, monkeypatch):
    """The hub thread is held while 40 checks arrive; once it is free they are all answered,
    and the hub thread ran one job for all of them."""
    monkeypatch.setattr(app_module, "READY_KEEP_S", 0.0)  # no answer stands: only sharing
    app = create_app(ApiSettings(db=make_db(tmp_path)))
    checks: list[None] = []
    all_in = asyncio.Event()  # set by the burst's last check, as it arrives
    real = Readiness.check

    async def check(self: Readiness) -> None:
        checks.append(None)
        if len(checks) == _BURST:
            all_in.set()
        await real(self)

    monkeypatch.setattr(Readiness, "check", check)
    release = threading.Event()
    async with client_with(app) as http:
        runner: HubRunner = app.state.service.runner
        jobs = readiness_jobs(monkeypatch)
        held = asyncio.create_task(runner.run(lambda hub: release.wait(_GIVE_UP_S), party=None))
        statuses = asyncio.gather(*(http.get("/readyz") for _ in range(_BURST)))
        arrived = asyncio.create_task(all_in.wait())
        # all in (or answered without: a failure the asserts below then show)
        await asyncio.wait({arrived, statuses}, return_when=asyncio.FIRST_COMPLETED)
        release.set()
        assert [answer.status_code for answer in await statuses] == [200] * _BURST
        assert await held
        arrived.cancel()
    assert len(checks) == _BURST
    assert len(jobs) == 1


async def test_an_answer_stands_for_its_time_and_no_longer(tmp_path, monkeypatch):
    monkeypatch.setattr(app_module, "READY_KEEP_S", 1e9)  # a "second" no machine outlasts
    app = create_app(ApiSettings(db=make_db(tmp_path)))
    async with client_with(app) as http:
        jobs = readiness_jobs(monkeypatch)
        for _ in range(5):
            assert (await http.get("/readyz")).status_code == 200
        assert len(jobs) == 1  # the first one's answer stands
        monkeypatch.setattr(app_module, "READY_KEEP_S", 0.0)
        for _ in range(3):
            assert (await http.get("/readyz")).status_code == 200
        assert len(jobs) == 4  # each one after its second
