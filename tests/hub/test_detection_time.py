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
from deconflict.runtime.events import next_page


def test_a_detector_whose_clock_is_behind_detects_after_the_last(
    tmp_path: Path, store_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, clock = make_hub(tmp_path, relay="CAOC", target=store_target)
    try:
        clock.advance(100.0)
        first.file_notice("usaf", [vol("u")], "air-activity", "U")
        first.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
        first.process()
        seen, position, _ = next_page(first, "CAOC", None, None, 100)
        assert seen  # the conflict, relayed
        latest = max(n.created_at_s for n in seen)
    finally:
        first.close()
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
