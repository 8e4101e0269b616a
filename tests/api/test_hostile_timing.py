"""Another party's filings do not slow a party's reads (issue 18, security.md §3.5): a read
waits for the detection of its own party's writes only, so how long it takes tells the reader
nothing of what others file, and the party that filed still reads its filing's outcome.
Detection is held back by the test (the hub thread's queue, or a gate on the lease holder's
passes), never timed; every wait is bounded, so a regression fails instead of hanging."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.api.harness import (
    READ_ROUTES,
    circle,
    client_with,
    detected,
    leader_and_standby,
    make_db,
    notice_body,
    token,
)

from deconflict.api import ApiSettings, create_app
from deconflict.geo import Circle, Volume4D
from deconflict.hub import Hub
from deconflict.runtime import runner as runner_module
from deconflict.runtime.freshness import FRESHNESS, Freshness
from deconflict.runtime.runner import HubRunner

T = TypeVar("T")

pytestmark = pytest.mark.anyio

START_S = 4_102_444_800.0  # 2100: never late
BOUND_S = 20.0  # a bound on a hang: no step here takes longer


def _filing(party: str, notice_id: str) -> Callable[[Hub], str]:
    """A write filing ``party``'s notice: one circle, in the place and hour of every other, so
    the notices of US and FR (who share in full, make_db) conflict."""
    volume = Volume4D.build(
        "v", Circle((39.0, 35.95), 1_000.0), 0.0, 1_000.0, START_S, START_S + 600.0
    )
    return lambda hub: hub.file_notice(party, [volume], "air-activity", notice_id).notice.id


def _conflicts(party: str) -> Callable[[Hub], list[str]]:
    return lambda hub: [conflict.id for conflict in hub.list_conflicts(party)]


def _submitted(runner: HubRunner, count: int) -> asyncio.Event:
    """Set once ``count`` more jobs are handed to ``runner``'s hub thread (in the order they
    were handed: its one thread runs them so)."""
    handed = asyncio.Event()
    jobs: list[object] = []
    submit = runner._submit

    async def counting(job: Callable[[], T]) -> T:
        jobs.append(job)
        if len(jobs) >= count:
            handed.set()
        return await submit(job)

    runner._submit = counting  # type: ignore[method-assign]
    return handed


async def test_a_read_runs_no_detection_of_another_party_s_filing(tmp_path: Path) -> None:
    """On the process that detects, US's read queued right behind FR's filing (both behind
    a job holding the hub thread, so no detector pass can come between them) is answered
    from what is stored: it runs no detection of FR's filing (every read ran it, paying for
    it), so it does not see their conflict yet. FR's own read after its filing does, and
    US's reads once it is detected."""
    db = make_db(tmp_path)
    runner = HubRunner(lambda: Hub.open(db), interval_s=BOUND_S)
    await runner.start()
    try:
        async with asyncio.timeout(BOUND_S):
            await runner.run_write(_filing("US", "U1"), party="US")
            assert await runner.run(_conflicts("US"), party="US") == []
            gate = threading.Event()
            queued = _submitted(runner, 3)
            held = asyncio.create_task(runner.run(lambda _hub: gate.wait(BOUND_S), party=None))
            filed = asyncio.create_task(runner.run_write(_filing("FR", "F1"), party="FR"))
            read = asyncio.create_task(runner.run(_conflicts("US"), party="US"))
            await queued.wait()  # the three are queued on the hub thread, in order
            gate.set()
            await held
            assert await filed == "F1"
            assert await read == []  # answered before FR's filing was detected
            found = await runner.run(_conflicts("FR"), party="FR")
            assert len(found) == 1  # FR reads its own filing's outcome
            assert await runner.run(_conflicts("US"), party="US") == found
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()


async def test_on_standby_a_read_waits_for_its_own_party_s_writes_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside a lease holder whose detection the test holds, US's read through a standby is
    answered at once, although FR filed through the same process just before (it waited,
    up to ``_CATCH_UP_S``, for the holder to detect every write of the process). FR's own
    read waits for its filing's detection, and sees its conflict once detection runs."""
    monkeypatch.setattr(runner_module, "_CATCH_UP_S", 10 * BOUND_S)  # past the bound below
    gate = threading.Event()
    async with leader_and_standby(make_db(tmp_path)) as (leader, standby):
        try:
            async with asyncio.timeout(BOUND_S):
                await _fr_filed_undetected(leader, standby, gate)
                own = asyncio.create_task(standby.run(_conflicts("FR"), party="FR"))
                assert await standby.run(_conflicts("US"), party="US") == []
                assert not own.done()  # detection is held: FR's read is still waiting for it
                gate.set()
                assert len(await own) == 1
        finally:
            gate.set()


async def _fr_filed_undetected(
    leader: HubRunner, standby: HubRunner, gate: threading.Event
) -> None:
    """US's notice filed and detected through ``leader``; then its detection held until
    ``gate`` is set, and FR's conflicting notice filed through ``standby``."""
    await leader.run_write(_filing("US", "U1"), party="US")
    await leader.settle("US")
    await _hold_detection(await leader.run(lambda hub: hub, party=None), gate)
    await standby.run_write(_filing("FR", "F1"), party="FR", group=True)


async def _hold_detection(hub: Hub, gate: threading.Event) -> None:
    """Make ``hub``'s detector passes wait (on its hub thread) until ``gate`` is set; back once
    one waits, so that no pass begun before can detect what is written next."""
    waiting = threading.Event()
    real = hub.process

    def held(*args: Any, **kwargs: Any) -> Any:
        waiting.set()
        gate.wait(BOUND_S)
        return real(*args, **kwargs)

    hub.process = held  # type: ignore[method-assign]
    if not await asyncio.to_thread(waiting.wait, BOUND_S):
        raise AssertionError("no detector pass began")


async def test_a_read_answered_before_its_own_filing_was_detected_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On standby, detection held past ``_CATCH_UP_S`` (a detector process still building its
    index as ``serve`` starts): FR's read after its filing is answered from what is stored and
    marked behind (the API's ``Deconflict-Detection: pending``), and so are FR's next reads,
    which no longer wait; US's read, with no write of its own there, is not. Once detection
    has passed FR's filing, FR's read shows the conflict, unmarked."""
    monkeypatch.setattr(runner_module, "_CATCH_UP_S", 0.2)  # the runner's own bound
    gate = threading.Event()
    async with leader_and_standby(make_db(tmp_path)) as (leader, standby):
        try:
            async with asyncio.timeout(BOUND_S):
                await _fr_filed_undetected(leader, standby, gate)
                assert await _read(standby, "FR") == ([], True)
                assert await _read(standby, "FR") == ([], True)
                assert await _read(standby, "US") == ([], False)
                gate.set()
                while (found := await _read(standby, "FR"))[1]:
                    await standby.changed(0.05)
                assert len(found[0]) == 1
        finally:
            gate.set()


async def _read(runner: HubRunner, party: str) -> tuple[list[str], bool]:
    """``party``'s conflicts through ``runner``, and whether the answer was marked behind."""
    heard = Freshness()
    token = FRESHNESS.set(heard)
    try:
        return await runner.run(_conflicts(party), party=party), heard.behind
    finally:
        FRESHNESS.reset(token)


async def test_a_process_started_while_detection_is_behind_marks_every_party_s_reads(
    tmp_path: Path,
) -> None:
    """``serve``'s HTTP workers start while its detector process still builds its index: what
    was filed before they started (through another process, before a restart) is not yet
    detected, so every party's read through them is marked behind, also one that wrote
    nothing anywhere (the same for all: it tells no party of another's filings); once
    detection has passed it, none is, and the conflict is there."""
    gate = threading.Event()
    db = make_db(tmp_path)
    async with leader_and_standby(db) as (leader, standby):
        late = HubRunner(lambda: Hub.open(db), interval_s=0.02)
        try:
            async with asyncio.timeout(BOUND_S):
                await _fr_filed_undetected(leader, standby, gate)
                await late.start()  # on standby: the leader holds the lease
                assert await _read(late, "US") == ([], True)
                assert await _read(late, "RU") == ([], True)
                gate.set()
                while (found := await _read(late, "US"))[1]:
                    await late.changed(0.05)
                assert len(found[0]) == 1
                assert (await _read(late, "RU"))[1] is False
        finally:
            gate.set()
            async with asyncio.timeout(BOUND_S):
                await late.stop()


async def test_a_read_does_not_queue_behind_another_party_s_group_commit(tmp_path: Path) -> None:
    """security.md §3.5, §4.2: every call ran on the hub thread, in order, so US's read waited
    for FR's group commit (and any detection pass) queued before it: how long it took told US
    that someone was filing, and a burst of filings slowed every party's reads. With the hub
    thread held (a job waiting on a gate) and FR's grouped filing queued behind it, US's read
    is answered; FR's filing then commits, and FR's own read (which waits for its filing's
    detection) shows it."""
    db = make_db(tmp_path)
    runner = HubRunner(lambda: Hub.open(db), interval_s=BOUND_S)
    await runner.start()
    gate = threading.Event()
    try:
        async with asyncio.timeout(BOUND_S):
            await runner.run_write(_filing("US", "U1"), party="US")
            await runner.settle("US")
            held = await _holding(runner, gate)
            filed = asyncio.create_task(
                runner.run_write(_filing("FR", "F1"), party="FR", group=True)
            )
            assert await runner.read(_conflicts("US"), party="US") == []
            assert not held.done()  # answered while the hub thread was still held
            gate.set()
            await held
            assert await filed == "F1"
            assert len(await runner.read(_conflicts("FR"), party="FR")) == 1
    finally:
        gate.set()
        async with asyncio.timeout(BOUND_S):
            await runner.stop()


async def test_every_read_route_answers_while_the_hub_thread_is_held(tmp_path: Path) -> None:
    """The same through the API: with the hub thread held, each of a party's read routes
    answers (those that sign or measure the hub itself excepted: an on-demand checkpoint,
    ``/readyz``), so no party's read waits for what others' writes hold on that thread."""
    db = make_db(tmp_path)
    app = create_app(ApiSettings(db=db))
    gate = threading.Event()
    us = token(db, "US")
    hub_thread = ("/v1/ledger/checkpoint", "/readyz")
    routes = [r for r in READ_ROUTES if r not in hub_thread] + ["/v1/conflicts?open=true"]
    async with client_with(app) as http:
        created = await http.post("/v1/notices", json=notice_body(circle("v")), headers=us)
        assert created.status_code == 201, created.text
        await detected(http, us)
        runner = app.state.service.runner
        held = await _holding(runner, gate, 3 * BOUND_S)  # longer than a route may take
        try:
            for route in routes:
                try:
                    async with asyncio.timeout(BOUND_S):
                        answer = await http.get(route, headers=us)
                except TimeoutError:
                    raise AssertionError(f"{route} waited for the hub thread") from None
                assert answer.status_code == 200, (route, answer.text)
            assert not held.done()
        finally:
            gate.set()
            await held


async def _holding(
    runner: HubRunner, gate: threading.Event, bound_s: float = BOUND_S
) -> asyncio.Task[bool]:
    """A job holding ``runner``'s hub thread until ``gate`` is set (at most ``bound_s``),
    returned once it holds it: whatever is sent to that thread after waits behind it."""
    holding = threading.Event()

    def hold(_hub: Hub) -> bool:
        holding.set()
        return gate.wait(bound_s)

    held = asyncio.create_task(runner.run(hold, party=None))
    if not await asyncio.to_thread(holding.wait, BOUND_S):
        raise AssertionError("the hub thread was not held")
    return held


async def test_a_read_beside_the_writes_sees_an_agreement_just_added(tmp_path: Path) -> None:
    """The reads beside run on a hub of their own, whose copy of the agreements was refreshed
    only by some calls: the ledger's entries about another party's notice read the owners a
    party may see from it, so FR, just given an agreement with RU, was still shown none of
    RU's entries (found by a second reader). Each read reads the agreements as stored."""
    db = make_db(tmp_path)
    ru, fr = token(db, "RU"), token(db, "FR")
    async with client_with(create_app(ApiSettings(db=db))) as http:
        filed = await http.post("/v1/notices", json=notice_body(circle("v"), id="N1"), headers=ru)
        assert filed.status_code == 201, filed.text
        await detected(http, ru)
        about = {"record": "N1"}  # of whichever owner FR may see: the agreements say
        before = await http.get("/v1/ledger/entries", params=about, headers=fr)
        assert (before.status_code, before.json()) == (200, [])  # no agreement yet
        agreement = {"id": "NEW", "parties": ["FR", "RU"], "default_disclosure": "full"}
        admin = token(db, "US", ["admin"])  # not FR: FR has no write of its own to wait for
        made = await http.post("/v1/agreements", json=agreement, headers=admin)
        assert made.status_code == 201, made.text
        after = await http.get("/v1/ledger/entries", params=about, headers=fr)
        assert after.status_code == 200
        assert after.json() != []
        seen = await http.get("/v1/notices/N1", params={"party": "RU"}, headers=fr)
        assert seen.status_code == 200
