"""The detector worker in one process: lease hand-over, a paused leader fenced off, resync,
the renewal beside the work."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from tests.calls import counted
from tests.hub.scenario import T0, vol

from deconflict.hub import DetectorWorker, Hub, SimulatedClock, consumer, rebuild
from deconflict.model import Agreement, Disclosure, NoticeState
from deconflict.store import LeaseLost

DEADLINE_S = 60.0  # the most a condition below is waited for (a bound on a hang)


class Wall:
    """A hand-driven wall clock for the lease."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class WatchedWall(Wall):
    """A hand-driven wall clock that knows when the lease's keeper thread (``renew_beside_s``)
    has read it: :meth:`advance` returns once the keeper has seen the new time."""

    def __init__(self) -> None:
        super().__init__()
        self._looked = threading.Condition()
        self._looks = 0

    def __call__(self) -> float:
        with self._looked:
            if threading.current_thread().name == "detector-lease":
                self._looks += 1
                self._looked.notify_all()
            return self.now

    def advance(self, seconds: float) -> None:
        with self._looked:
            self.now += seconds
            seen = self._looks
            assert self._looked.wait_for(lambda: self._looks > seen, DEADLINE_S)


@pytest.fixture
def hubs(store_target):
    clock = SimulatedClock(T0)
    first = Hub.open(store_target, clock)
    first.add_party("usaf", "US Air Force")
    first.add_party("faf", "French Air Force")
    second = Hub.open(store_target, clock)
    yield first, second
    first.close()
    second.close()


def test_paused_leader_is_fenced_and_the_new_one_sees_everything(hubs):
    """A leader paused past its lease cannot commit (LeaseLost, nothing written); the new leader
    rebuilds from the store, including an agreement another process added, and finds the
    conflict between notices filed through both processes."""
    one, two = hubs
    wall = Wall()
    a = DetectorWorker(one, lease_s=5.0, wall=wall)
    b = DetectorWorker(two, lease_s=5.0, wall=wall)
    two.add_agreement(Agreement("mou", ("usaf", "faf"), default_disclosure=Disclosure.FULL))
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    report = a.step()
    assert report is not None
    assert report.notifications  # `one` saw the agreement `two` added, through the log
    assert b.step() is None  # standby while `a` holds the lease
    held = a.token
    assert held is not None
    wall.now += 6.0  # `a` pauses past its lease
    two.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    report = b.step()
    assert report is not None
    assert [len(report.new_conflicts), b.token] == [1, held + 1]
    one.file_notice("usaf", [vol("c", lon=39.02)], "air-activity", "N3")
    with pytest.raises(LeaseLost):
        one.process(fence=held)  # what `a` would commit on waking: refused
    assert a.step() is None  # and its worker falls back to standby
    assert len(b.step().new_conflicts) == 1  # N3 x N2, found once, by the leader
    assert len(one.store.list_conflicts()) == 2


def test_release_hands_over_at_once(hubs):
    """A worker that stops releases the lease; a standby takes it without waiting for expiry."""
    one, two = hubs
    wall = Wall()
    a = DetectorWorker(one, wall=wall)
    b = DetectorWorker(two, wall=wall)
    assert a.step() is not None
    assert b.step() is None
    a.run(stop=lambda: True)  # stops at once, releasing
    assert b.step() is not None
    assert b.token is not None


def test_only_the_leader_ticks(hubs):
    """With ``tick`` the lease holder moves notices along by time; a standby does nothing."""
    one, two = hubs
    wall = Wall()
    a = DetectorWorker(one, wall=wall)
    b = DetectorWorker(two, wall=wall)
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    assert a.step() is not None
    one.clock.advance(7 * 3600.0)  # into N1's window
    assert b.step(tick=True) is None
    assert two.get_notice("usaf", "N1").state is NoticeState.FILED
    assert a.step(tick=True) is not None
    assert two.get_notice("usaf", "N1").state is NoticeState.ACTIVE


def test_a_standby_process_suggests_from_the_store(hubs):
    """A hub that is not the detector suggests the same adjustment as the one that is: it reads
    the other party's live notices from the store, not from its own (stale) index."""
    one, two = hubs
    one.add_agreement(Agreement("mou", ("usaf", "faf"), default_disclosure=Disclosure.FULL))
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    one.add_plan("faf", [vol("p", lon=39.05)], "P1")
    worker = DetectorWorker(one, wall=Wall())
    (conflict,) = worker.step().new_conflicts
    assert two.indexed == 0  # `two` never detected anything
    here, there = (hub.suggest_adjustment("faf", conflict.id) for hub in (one, two))
    assert here.time is not None
    assert there.time is not None
    assert here.altitude is not None
    assert there.altitude is not None
    assert (here.time.delta, here.altitude.delta) == (there.time.delta, there.altitude.delta)


def test_an_agreement_added_elsewhere_applies_at_once(hubs):
    """An agreement one hub process adds governs what another shows, without a restart."""
    one, two = hubs
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    assert two.list_notices("faf") == []
    one.add_agreement(Agreement("mou", ("usaf", "faf"), default_disclosure=Disclosure.FULL))
    assert [ag.id for ag in two.list_agreements("faf")] == ["mou"]
    assert [n.id for n in two.list_notices("faf")] == ["N1"]
    assert two.get_notice("faf", "N1").id == "N1"


def test_no_renewal_beside_while_the_hub_thread_keeps_up(hubs):
    """An idle leader stepping every second of lease time (as its tick does at the least) renews
    the lease itself, every third of its period; the keeper beside it, which saw every one of
    those times, writes nothing (it wrote at every turn: four writes a second on an idle hub)."""
    one, _ = hubs
    wall = WatchedWall()
    tries = counted(one.store, "acquire_lease")
    worker = DetectorWorker(one, lease_s=5.0, wall=wall, renew_beside_s=0.001)
    assert worker.step() is not None
    for _ in range(30):
        wall.advance(1.0)
        assert worker.step() is not None
    assert worker.renewals == 0
    assert len(tries) <= 30 / (5.0 / 3) + 1  # taken, then renewed every third of the lease
    worker.release()


def test_a_long_step_is_renewed_beside_and_never_lapses(hubs):
    """While one detection step lasts 20 s of lease time (held on an event), the keeper renews
    in the hub thread's place, about every half lease, not at each of its turns; a standby
    trying each second never gets the lease, and the step commits under the token it began
    with."""
    one, two = hubs
    wall = WatchedWall()
    leader = DetectorWorker(one, lease_s=5.0, wall=wall, renew_beside_s=0.001)
    standby = DetectorWorker(two, lease_s=5.0, wall=wall)
    assert leader.step() is not None
    token = leader.token
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    started, finish = threading.Event(), threading.Event()
    real = one.process

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        finish.wait(DEADLINE_S)
        return real(*args, **kwargs)

    one.process = held
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(leader.step()), daemon=True)
    thread.start()
    try:
        assert started.wait(DEADLINE_S)
        for _ in range(20):
            wall.advance(1.0)
            assert standby.step() is None
    finally:
        finish.set()
        thread.join(DEADLINE_S)
    assert 20 / 5.0 <= leader.renewals <= 20 / (5.0 / 3)  # once a lease at least, not each turn
    (report,) = outcome
    assert report.changes == 1  # committed under its token, not refused as a lost lease
    assert leader.token == token
    leader.release()


def test_a_holder_asked_for_the_lease_stores_its_cursor_before_it_gives_it_back(hubs, monkeypatch):
    """store/lease.py, "asked, not taken": an HTTP worker whose detector read past rows with no
    outputs (their cursor kept in memory) stores that cursor before it gives the lease to the
    detector process that asked, which then reads none of those rows again."""
    monkeypatch.setattr(consumer, "_CURSOR_EVERY_S", math.inf)  # stored by no pass alone
    one, two = hubs
    wall = Wall()
    http_worker = DetectorWorker(one, lease_s=5.0, wall=wall)
    detector = DetectorWorker(two, lease_s=5.0, wall=wall, preferred=True)
    assert http_worker.step() is not None  # the first pass stores its cursor
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")  # alone: no outputs
    assert http_worker.step().changes == 1
    assert one.store.detector_cursor() < one.store.last_change()  # read, not stored
    assert detector.step() is None  # asks for it
    wall.now += 2.0  # past the holder's renewal time
    assert http_worker.step() is None  # gave it back
    assert one.store.detector_cursor() == one.store.last_change()
    report = detector.step()
    assert report is not None
    assert report.changes == 0
    detector.release()


def test_a_rebuild_longer_than_the_stall_window_keeps_the_lease(hubs, monkeypatch):
    """A leader taking the lease rebuilds its index a page at a time; while pages keep coming
    it is working, not stalled: over a rebuild of 150 s of lease time (30 s a page, past the
    keeper's 60 s stall window) the keeper renews the lease, a standby trying at every page
    never gets it, and the leader detects under the token it took."""
    one, two = hubs
    for i in range(5):
        one.file_notice("usaf", [vol(f"a{i}", lon=39.0 + i)], "air-activity", f"N{i}")
    one.process()
    monkeypatch.setattr(rebuild, "PAGE", 1)
    wall = WatchedWall()
    leader = DetectorWorker(one, lease_s=5.0, wall=wall, renew_beside_s=0.001, stall_s=60.0)
    standby = DetectorWorker(two, lease_s=5.0, wall=wall)
    real = type(one.store).live_records  # the rebuild reads on a twin of the store
    pages: list[int] = []

    def slow(*args: Any, **kwargs: Any) -> Any:
        for _ in range(30):  # a second at a time, as the keeper renews before expiry
            wall.advance(1.0)
        assert standby.step() is None
        pages.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(type(one.store), "live_records", slow)
    assert leader.step() is not None
    assert len(pages) == 7  # a notice a page, the (empty) end of the notices, the plans
    token = leader.token
    assert token is not None
    assert leader.step() is not None  # not refused as a lost lease
    assert leader.token == token
    leader.release()


def test_a_long_wait_before_detecting_keeps_the_lease(hubs):
    """``serve``'s detector process holds the lease while it waits for serve's check of the
    ledger (``before_detecting``), past the keeper's stall window: saying it is alive, it keeps
    the lease (a standby trying all along never gets it), then detects under the same token."""
    one, two = hubs
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")
    wall = WatchedWall()
    standby = DetectorWorker(two, lease_s=5.0, wall=wall)
    waits: list[int] = []

    def before_detecting(hub: Hub, alive: Any) -> None:
        for _ in range(150):  # 150 s of lease time, a second at a time
            wall.advance(1.0)
            alive()
            assert standby.step() is None
        waits.append(1)

    leader = DetectorWorker(
        one,
        lease_s=5.0,
        wall=wall,
        renew_beside_s=0.001,
        stall_s=60.0,
        before_detecting=before_detecting,
    )
    report = leader.step()
    assert report is not None
    assert report.changes > 0  # detected, once the wait was over
    assert waits == [1]
    token = leader.token
    assert leader.step() is not None  # the hook ran once: not again
    assert waits == [1]
    assert leader.token == token
    leader.release()


def test_a_refusal_before_detecting_stands_at_every_step(hubs):
    """A hook that refuses (serve's check failed, or serve ended) stops every step before it
    detects or ticks, not only the first."""
    one, _ = hubs
    one.file_notice("usaf", [vol("a")], "air-activity", "N1")

    def refuse(hub: Hub, alive: Any) -> None:
        raise RuntimeError("no word")

    leader = DetectorWorker(one, wall=Wall(), before_detecting=refuse)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="no word"):
            leader.step()
    assert one.store.detector_cursor() == 0
    leader.release()
