"""The hub runner: group commit and its fallback when a batch fails as a whole, and waiters that
stop when cancelled. Every wait here is bounded (``asyncio.timeout``), so a regression fails the
test instead of hanging the run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from tests.api.harness import leader_and_standby, make_db
from tests.calls import counted

from deconflict.errors import AlreadyExists, InvalidInput, NotFound
from deconflict.geo import Circle, Volume4D
from deconflict.hub import Hub
from deconflict.runtime import runner as runner_module
from deconflict.runtime.runner import HubRunner
from deconflict.store.retry import Retryable

pytestmark = pytest.mark.anyio

START_S = 4_102_444_800.0  # 2100: never late
BOUND_S = 20.0  # no step of these tests may take longer


def _volume(i: int) -> Volume4D:
    return Volume4D.build(
        f"v{i}", Circle((30.0 + i, 20.0), 1_000.0), 0.0, 1_000.0, START_S, START_S + 600.0
    )


def _file(i: int, party: str = "US") -> Callable[[Hub], tuple[str, bool]]:
    """A grouped write: files notice W<i>; says whether it ran inside a unit of work."""

    def write(hub: Hub) -> tuple[str, bool]:
        in_unit = hub.store._unit is not None  # type: ignore[attr-defined]
        return hub.file_notice(party, [_volume(i)], "air-activity", f"W{i}").notice.id, in_unit

    return write


class _Noted(list[Any]):
    """A runner's queue of grouped writes that sets ``full`` once ``count`` are in it."""

    def __init__(self, count: int, full: asyncio.Event) -> None:
        super().__init__()
        self.count, self.full = count, full

    def append(self, write: Any) -> None:
        super().append(write)
        if len(self) >= self.count:
            self.full.set()


def _queued(runner: HubRunner, count: int) -> asyncio.Event:
    """Set once ``count`` grouped writes wait in ``runner``'s queue (none is there yet)."""
    full = asyncio.Event()
    runner._groups._queued = _Noted(count, full)
    return full


async def _group(runner: HubRunner, writes: list[Callable[[Hub], Any]]) -> list[Any]:
    """Run ``writes`` as one batch: the hub thread is held until all are queued, then let go.
    Each outcome is the write's result or the exception it was answered with."""
    gate = threading.Event()
    async with asyncio.timeout(BOUND_S):
        held = asyncio.create_task(runner.run(lambda hub: gate.wait(BOUND_S), party=None))
        # Made at once, they queue in order, and the drainer, made by the first, takes them
        # all as one batch once the hub thread is let go.
        all_queued = _queued(runner, len(writes))
        tasks = [asyncio.create_task(runner.run_write(w, party="US", group=True)) for w in writes]
        await all_queued.wait()
        gate.set()
        await held
        return list(await asyncio.gather(*tasks, return_exceptions=True))


class _Tally(list[int]):
    """How many things each call of a hub's method did (rows a detector pass read, deliveries
    a mark wrote), appended as the call ends (on the hub thread); :meth:`reached` waits for
    the calls themselves, not for time."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self._changed = threading.Condition()

    def record(self, rows: int) -> None:
        with self._changed:
            self.append(rows)
            self._changed.notify_all()

    async def reached(self, rows: int, within_s: float = BOUND_S) -> None:
        """Once the passes so far have read ``rows`` rows in all (AssertionError after
        ``within_s``: a bound on a hang, or below a timed pass that must not be the one)."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: sum(self) >= rows, within_s)

        if not await asyncio.to_thread(wait):
            raise AssertionError(f"{self.what} did not reach {rows}: {list(self)}")


async def _count_passes(runner: HubRunner) -> _Tally:
    """The passes of ``runner``'s hub's detector, from now on: the rows each read."""
    passes = _Tally("the rows the detector read")
    hub = await runner.run(lambda hub: hub, party=None)
    real = hub.process

    def counting(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        passes.record(report.changes)
        return report

    hub.process = counting  # type: ignore[method-assign]
    return passes


async def _count_marks(runner: HubRunner) -> _Tally:
    """The marks of queued deliveries by ``runner``'s hub, from now on: how many each marked."""
    marks = _Tally("the deliveries marked")
    hub = await runner.run(lambda hub: hub, party=None)
    real = hub.mark_queued_deliveries

    def counting(*args: Any, **kwargs: Any) -> Any:
        marked = real(*args, **kwargs)
        marks.record(len(marked))
        return marked

    hub.mark_queued_deliveries = counting  # type: ignore[method-assign]
    return marks


async def test_a_failed_batch_runs_each_write_alone(tmp_path: Path) -> None:
    """When a batch fails as a whole (a store error, here a serialization failure raised by one
    write the first time it runs), each write runs again on its own: the others still commit,
    one that fails on its own is answered with its own error, nobody is answered twice."""
    db = make_db(tmp_path)
    calls = {"flaky": 0}

    def flaky(hub: Hub) -> tuple[str, bool]:
        calls["flaky"] += 1
        result = _file(2)(hub)
        if calls["flaky"] == 1:
            raise Retryable("serialization failure (simulated)")
        return result

    def invalid(hub: Hub) -> tuple[str, bool]:
        return _file(3, party="NOBODY")(hub)

    runner = HubRunner(lambda: Hub.open(db))
    await runner.start()
    try:
        outcomes = await _group(runner, [_file(1), flaky, invalid, _file(4)])
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()
    assert outcomes[0] == ("W1", False)  # run again on its own, outside the failed unit
    assert outcomes[1] == ("W2", False)
    assert isinstance(outcomes[2], InvalidInput)
    assert outcomes[3] == ("W4", False)
    assert calls["flaky"] == 2
    with Hub.open(db) as hub:
        assert {n.id for n in hub.store.list_notices()} == {"W1", "W2", "W4"}
        assert [c.entity_id for c in hub.store.changes_after(0) if c.entity == "notice"] == [
            "US/W1",
            "US/W2",
            "US/W4",
        ]
        hub.ledger.verify()


async def test_an_error_of_one_write_is_undone_alone(tmp_path: Path) -> None:
    """In a batch, a write that raises its own error (not a store failure) is undone alone by its
    savepoint and answered with that error, also one that fails after it wrote (its change-log
    row and its ledger entry, not yet written, go too); the others commit together in the
    batch, and the ledger verifies."""
    db = make_db(tmp_path)

    def regrets(hub: Hub) -> None:
        _file(4)(hub)
        raise RuntimeError("failed after filing")

    runner = HubRunner(lambda: Hub.open(db))
    await runner.start()
    try:
        outcomes = await _group(
            runner, [_file(1), lambda hub: _file(2, "NOBODY")(hub), regrets, _file(3)]
        )
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()
    assert outcomes[0] == ("W1", True)
    assert isinstance(outcomes[1], InvalidInput)
    assert isinstance(outcomes[2], RuntimeError)
    assert outcomes[3] == ("W3", True)
    with Hub.open(db) as hub:
        assert {n.id for n in hub.store.list_notices()} == {"W1", "W3"}
        for gone in ("W2", "W4"):
            with pytest.raises(NotFound):
                hub.store.get_notice(f"US/{gone}")
        assert hub.store.ledger_find("notice:US/W4") == []
        assert [kind for _, kind in hub.store.ledger_find("notice:US/W3")] == ["notice.filed"]
        hub.ledger.verify()


class _Watched(asyncio.Event):
    """A runner's wake-up event that sets ``waiting`` when a task starts waiting on it."""

    def __init__(self, waiting: asyncio.Event) -> None:
        super().__init__()
        self.waiting = waiting

    async def wait(self) -> Literal[True]:
        self.waiting.set()
        return await super().wait()


async def test_a_waiter_cancelled_as_it_is_woken_stops(tmp_path: Path) -> None:
    """A task waiting in ``changed()`` that is cancelled at the moment it is woken ends
    cancelled (``asyncio.wait_for`` on Python 3.11 swallowed such a cancellation, and the
    app's shutdown then waited for ever on the webhook sender)."""
    runner = HubRunner(lambda: Hub.open(make_db(tmp_path)))
    await runner.start()
    try:
        waiting = asyncio.Event()
        runner._wake = _Watched(waiting)
        waiter = asyncio.create_task(runner.changed(BOUND_S))
        await waiting.wait()  # it is waiting for the wake-up
        runner.wake()
        waiter.cancel()  # as the wake-up is on its way
        done, _ = await asyncio.wait({waiter}, timeout=BOUND_S)
        assert waiter in done
        assert waiter.cancelled()
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()


async def test_only_a_write_the_detector_reads_makes_a_pass_due(tmp_path: Path) -> None:
    """A filing is followed by a detector pass; a write with ``detects=False`` (an event
    stream's delivery) is not: it gives the detector nothing to read (and adds no change-log
    row, so the watch on the file wakes no detector either). Filings are not held
    back for a pass either (a grouped write commits first, the pass runs after it)."""
    runner = HubRunner(lambda: Hub.open(make_db(tmp_path)), interval_s=BOUND_S)
    await runner.start()
    passes = await _count_passes(runner)
    try:
        async with asyncio.timeout(BOUND_S):
            await runner.run_write(
                lambda hub: hub.deliver("US"), party="US", group=True, detects=False
            )
            # Nothing for the detector to read: no pass is due (the state that decides one),
            # and none ran; the next timed pass is far off.
            assert not runner._due
            assert passes == []
            await runner.run_write(_file(1), party="US", group=True)
            await passes.reached(1)
            assert passes[0] == 1  # one pass over the filing's change-log row
            # A read of US's waits for the detection of its writes: settled, nothing is due, and
            # any other pass (the file's watch may see the commit too) read nothing.
            await runner.run(lambda hub: None, party="US")
            assert not runner._due
            assert sum(passes) == 1
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()


async def test_the_leader_detects_another_process_s_filing_at_once(tmp_path: Path) -> None:
    """The lease holder's detector wakes when another process (here another hub on the same
    file) files a notice, not at its next timed pass (set far off here)."""
    db = make_db(tmp_path)
    runner = HubRunner(lambda: Hub.open(db), interval_s=BOUND_S)
    await runner.start()
    passes = await _count_passes(runner)
    try:
        assert runner.leading
        with Hub.open(db) as other:
            _file(1)(other)
        await passes.reached(1, within_s=BOUND_S / 4)  # woken: the timed pass is BOUND_S away
        assert sum(passes) == 1
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()


async def test_a_filing_the_ledger_cannot_record_fails_alone_in_its_batch(tmp_path: Path) -> None:
    """A volume id with a lone surrogate has no canonical JSON, so no ledger entry: that filing
    is refused, and the filings batched with it commit (its entry, which the others' are built
    beside at the unit's end, is built at once instead)."""
    db = make_db(tmp_path)
    runner = HubRunner(lambda: Hub.open(db))
    await runner.start()

    def odd(hub: Hub) -> str:
        where = Circle((39.0, 35.9), 1_000.0)
        volume = Volume4D.build("v\ud800", where, 0.0, 1.0, START_S, START_S + 60.0)
        return hub.file_notice("US", [volume], "air-activity", "ODD").notice.id

    try:
        outcomes = await _group(runner, [_file(1), odd, _file(2)])
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()
    assert outcomes[0] == ("W1", True)
    assert isinstance(outcomes[1], InvalidInput)
    assert outcomes[2] == ("W2", True)
    with Hub.open(db) as hub:
        assert {n.id for n in hub.store.list_notices()} == {"W1", "W2"}
        hub.ledger.verify()


async def test_a_duplicate_in_a_batch_is_refused_and_the_rest_commit_together(
    tmp_path: Path, store_target: str
) -> None:
    """Two filings of one id in a batch, with others around them: the second is answered with
    AlreadyExists and the rest commit in one unit of work, on SQLite and on PostgreSQL (where
    the failed insert aborts the transaction: the batch is run again without it)."""
    db = make_db(tmp_path, None if store_target.endswith(".db") else store_target)
    target = str(db) if store_target.endswith(".db") else store_target
    runner = HubRunner(lambda: Hub.open(target))
    await runner.start()
    try:
        outcomes = await _group(runner, [_file(1), _file(2), _file(1), _file(3)])
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()
    assert outcomes[0] == ("W1", True)
    assert outcomes[1] == ("W2", True)
    assert isinstance(outcomes[2], AlreadyExists)
    assert outcomes[3] == ("W3", True)
    with Hub.open(target) as hub:
        assert {n.id for n in hub.store.list_notices()} == {"W1", "W2", "W3"}
        assert [kind for _, kind in hub.store.ledger_find("notice:US/W1")] == ["notice.filed"]
        hub.ledger.verify()


async def test_a_filing_of_an_id_stored_before_its_batch_is_refused_alone(tmp_path: Path) -> None:
    """A grouped filing's rows are inserted with its batch's, at the unit's end: one whose id
    was stored before the batch is refused there, where no write can be named, so each write
    of the batch is run again alone and answered as it deserves: AlreadyExists for it, the
    others filed."""
    db = make_db(tmp_path)
    runner = HubRunner(lambda: Hub.open(db))
    await runner.start()
    try:
        async with asyncio.timeout(BOUND_S):
            await runner.run_write(_file(1), party="US", group=True)
        outcomes = await _group(runner, [_file(2), _file(1), _file(3)])
    finally:
        async with asyncio.timeout(BOUND_S):
            await runner.stop()
    assert outcomes[0] == ("W2", False)  # run alone, after the batch failed as a whole
    assert isinstance(outcomes[1], AlreadyExists)
    assert outcomes[2] == ("W3", False)
    with Hub.open(db) as hub:
        assert {n.id for n in hub.store.list_notices()} == {"W1", "W2", "W3"}
        assert [kind for _, kind in hub.store.ledger_find("notice:US/W1")] == ["notice.filed"]
        hub.ledger.verify()


async def test_a_standby_tries_for_the_lease_a_few_times_a_second_and_reads_after_writes(
    tmp_path: Path,
) -> None:
    """Beside a leader, a standby's writes do not each try for the lease (a read transaction
    each): 40 separate filings through it make a handful of tries at most. A read by one of
    the filing parties after them waits for the leader to detect its filings, so it sees
    their outcome."""
    async with leader_and_standby(make_db(tmp_path)) as (leader, standby):
        assert leader.leading
        assert not standby.leading
        hub = await standby.run(lambda hub: hub, party=None)
        tries = counted(hub.store, "acquire_lease")

        def file_here(i: int) -> Callable[[Hub], Any]:
            volume = Volume4D.build(
                f"v{i}", Circle((30.0, 20.0), 1_000.0), 0.0, 1_000.0, START_S, START_S + 600.0
            )
            return lambda hub: hub.file_notice(party_of(i), [volume], "air-activity", f"W{i}")

        def party_of(i: int) -> str:
            return "US" if i % 2 else "FR"

        async with asyncio.timeout(BOUND_S):
            started = time.monotonic()
            for i in range(40):
                await standby.run_write(file_here(i), party=party_of(i), group=True)
            most = (time.monotonic() - started) / runner_module._STANDBY_RETRY_S + 2
            assert len(tries) <= min(most, 39)  # every write (and loop turn) would make one
            notices = await standby.run(lambda hub: hub.list_notices("US"), party="US")
            conflicts = await standby.run(lambda hub: hub.list_conflicts("US"), party="US")
        assert len(notices) == 40  # US's 20 and FR's, shared in full
        assert conflicts  # neighbouring circles of the two parties: detected before the read
        assert not standby.leading


async def test_what_a_standby_s_streams_sent_is_marked_by_the_leader(tmp_path: Path) -> None:
    """Deliveries queued through a standby (as its streams' marks are) are marked delivered by
    the lease holder's detector loop, soon and with the times they were sent; the standby never
    marks any itself."""
    async with leader_and_standby(make_db(tmp_path)) as (leader, standby):
        hub = await standby.run(lambda hub: hub, party=None)
        marked_here = counted(hub, "mark_queued_deliveries")
        marked_there = await _count_marks(leader)
        async with asyncio.timeout(BOUND_S):
            await standby.run_write(_file(1, "US"), party="US", group=True)
            volume = _volume(1)
            await standby.run_write(
                lambda hub: hub.file_notice("FR", [volume], "air-activity", "F1"),
                party="FR",
                group=True,
            )
            await standby.settle("FR")  # FR's filing detected: US is told of it
            made = await standby.run(lambda hub: hub.list_notifications("US"), party="US")
            assert made  # US is told of FR's notice over its own
            sent = [(n.id, 1_000.0 + k) for k, n in enumerate(made)]
            await standby.run_write(
                lambda hub: hub.queue_deliveries(sent), party="US", group=True, detects=False
            )
            await marked_there.reached(len(sent))  # by the leader's loop, after its passes
            now = await standby.run(lambda hub: hub.list_notifications("US"), party=None)
        assert [(n.id, n.delivered_at_s) for n in now] == sent
        assert marked_here == []
        assert not standby.leading


async def test_writes_that_come_while_a_batch_waits_for_the_turn_join_it(tmp_path: Path) -> None:
    """A batch takes its writes once its unit holds the write turn: those sent while it waited
    for the turn (here held by another connection, as the detector's commit holds it) are in
    it, one unit for all, where they waited for the next batch and then for the turn again."""
    import contextlib
    import sqlite3

    db = make_db(tmp_path)
    waiting = threading.Event()
    units: list[str] = []

    def opened() -> Hub:
        hub = Hub.open(db)
        store: Any = hub.store
        unit = store.unit_of_work

        @contextlib.contextmanager
        def counted_unit(doing: str = "a unit of work") -> Any:
            units.append(doing)
            waiting.set()  # about to wait for the turn
            with unit(doing):
                yield

        store.unit_of_work = counted_unit
        return hub

    runner = HubRunner(opened)
    await runner.start()
    all_queued = _queued(runner, 3)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        async with asyncio.timeout(BOUND_S):
            other.execute("BEGIN IMMEDIATE")  # the turn, held elsewhere
            first = asyncio.create_task(runner.run_write(_file(1), party="US", group=True))
            assert await asyncio.to_thread(waiting.wait, BOUND_S)
            later = [
                asyncio.create_task(runner.run_write(_file(i), party="US", group=True))
                for i in (2, 3)
            ]
            await all_queued.wait()  # the first not yet taken: it waits for the turn
            other.execute("COMMIT")
            outcomes = await asyncio.gather(first, *later)
    finally:
        other.close()
        async with asyncio.timeout(BOUND_S):
            await runner.stop()
    assert outcomes == [("W1", True), ("W2", True), ("W3", True)]
    assert units == ["committing a group of writes"]
