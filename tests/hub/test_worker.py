"""The detector worker in one process: lease hand-over, a paused leader fenced off, resync."""

from __future__ import annotations

import pytest
from tests.hub.scenario import T0, vol

from deconflict.hub import DetectorWorker, Hub, SimulatedClock
from deconflict.model import Agreement, Disclosure, NoticeState
from deconflict.store import LeaseLost


class Wall:
    """A hand-driven wall clock for the lease."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


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
