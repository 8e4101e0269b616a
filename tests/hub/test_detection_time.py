"""A notification's creation time is its detection pass's, and no pass detects earlier than the
last one committed, whichever process ran it: a process that takes the detector over with its
clock behind the last holder's made notifications dated before ones already committed, and a
reader paging by creation time (a relay's event stream, a webhook) had passed them for good
(security.md §4.2)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tests.hub.scenario import T0, make_hub, vol

from deconflict.hub import Hub, SimulatedClock
from deconflict.model import Notification
from deconflict.runtime.events import Position, next_page


def _first_holder(
    tmp_path: Path, target: str, reader: str
) -> tuple[list[Notification], Position | None]:
    """A first lease holder 100 s ahead of T0 finds U and F meeting (relayed by CAOC): what
    ``reader`` pages of it, and the position after."""
    first, clock = make_hub(tmp_path, relay="CAOC", target=target)
    try:
        clock.advance(100.0)
        first.file_notice("usaf", [vol("u")], "air-activity", "U")
        first.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
        first.process()
        seen, position, _ = next_page(first, reader, None, None, 100)
    finally:
        first.close()
    assert seen  # the conflict, told and relayed
    return seen, position


def test_a_detector_whose_clock_is_behind_detects_after_the_last(
    tmp_path: Path, store_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen, position = _first_holder(tmp_path, store_target, "CAOC")
    latest = max(n.created_at_s for n in seen)
    behind = Hub.open(store_target, SimulatedClock(T0))  # 100 s behind: the next holder
    try:
        behind.file_notice("faf", [vol("g", lon=39.02)], "air-activity", "G")  # meets U
        with caplog.at_level(logging.WARNING, logger="deconflict.hub"):
            behind.process()
        assert "clock is 100.0 s behind the last detection" in caplog.text  # told, once
        made = [n for n in behind.list_notifications("CAOC") if n.id not in {m.id for m in seen}]
        assert made
        assert min(n.created_at_s for n in made) >= latest
        after, _, _ = next_page(behind, "CAOC", position, None, 100)
        assert sorted(n.id for n in after) == sorted(n.id for n in made)
    finally:
        behind.close()


@pytest.mark.parametrize("reader", ["CAOC", "usaf"])  # a relay's stream; a recipient's webhook
def test_passes_behind_the_clock_each_detect_after_the_last(
    tmp_path: Path, store_target: str, reader: str
) -> None:
    """Every pass of a holder whose clock stays behind detected at the same floor: the
    notifications of two passes shared a creation time, ordered by their keyed ids, and a
    reader paging by (created, id) passed for good those of the later pass that sorted first
    (28-32 of 12 passes' relayed notifications: a twenty-sixth reader)."""
    seen, position = _first_holder(tmp_path, store_target, reader)
    clock_behind = SimulatedClock(T0)  # 100 s behind the last holder, and staying so
    behind = Hub.open(store_target, clock_behind)
    lost: list[str] = []
    try:
        got = {n.id for n in seen}
        for i in range(12):
            behind.file_notice("faf", [vol(f"g{i}", lon=39.0 + 0.001 * i)], "air-activity", f"G{i}")
            behind.process()
            clock_behind.advance(1.0)
            made = {n.id for n in behind.list_notifications(reader)} - got
            assert made  # each pass told the reader something
            after, position, _ = next_page(behind, reader, position, None, 100)
            lost += sorted(made - {n.id for n in after})
            got |= made
        times = [n.created_at_s for n in behind.list_notifications(reader)]
    finally:
        behind.close()
    assert not lost, f"{len(lost)} notifications never paged"
    assert len(set(times)) == 13  # the first hub's pass, then each of the twelve its own time


class _Stepped(SimulatedClock):
    """A clock an operator's NTP stepped back by ``back`` seconds."""

    back = 0.0

    def now(self) -> float:
        return super().now() - self.back


def test_a_clock_stepped_back_loses_no_notification_and_dates_after_what_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One process whose clock NTP stepped back half a second: its passes until the clock
    caught up detected at the last pass's very time (lost as above); and dated after the last
    pass of any kind, a pass that told nothing (another's private plan filed) dated the next
    one's notifications (a twenty-sixth reader). Now each pass that tells comes two microseconds
    after the last that told."""
    import tests.hub.scenario as scenario

    clock = _Stepped(T0)
    monkeypatch.setattr(scenario, "SimulatedClock", lambda _t: clock)
    hub, _ = make_hub(tmp_path, relay="CAOC")
    try:
        hub.file_notice("usaf", [vol("u")], "air-activity", "U")
        hub.process()
        told = max(n.created_at_s for n in hub.list_notifications("faf"))
        _, position, _ = next_page(hub, "CAOC", None, None, 100)
        clock.advance(10.0)
        hub.add_plan("usaf", [vol("p", lon=-20.0)], "P")  # meets nothing: tells no one
        hub.process()
        clock.back = 10.3  # stepped back: behind the plan's pass, past the first pass
        got = {n.id for n in hub.list_notifications("CAOC")}
        lost: list[str] = []
        dated = []
        for i in range(12):
            hub.file_notice("faf", [vol(f"g{i}", lon=39.0 + 0.001 * i)], "air-activity", f"G{i}")
            hub.process()
            clock.advance(0.01)
            made = [n for n in hub.list_notifications("CAOC") if n.id not in got]
            dated.append(min(n.created_at_s for n in made))
            after, position, _ = next_page(hub, "CAOC", position, None, 100)
            lost += sorted({n.id for n in made} - {n.id for n in after})
            got |= {n.id for n in made}
    finally:
        hub.close()
    assert not lost, f"{len(lost)} relayed notifications never paged"
    assert dated[0] == pytest.approx(told + 2e-6, abs=1e-7)  # after the first pass, not the plan's
    micros = [round(t * 1e6) for t in dated]  # as event ids keep them
    assert micros == sorted(set(micros))  # each pass after the last, to the microsecond
