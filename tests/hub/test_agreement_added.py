"""An agreement added after the notices it links were filed is applied to them at once: the
conflicts its terms make are found and told with their true lead time. A twenty-fourth reader
added an agreement an hour after two meeting notices were filed six hours ahead: no one was
told until one of the activities started, with a lead time of none (an agreement's row in the
change log only reloaded the agreements)."""

from __future__ import annotations

from pathlib import Path

from tests.hub.scenario import HOUR, T0, vol

from deconflict.engine import SeparationMinima
from deconflict.hub import Hub, SimulatedClock
from deconflict.model import Agreement, Disclosure, NotificationKind


def _agreement(ident: str, horizontal_m: float = 1_000.0) -> Agreement:
    return Agreement(
        id=ident,
        parties=("usaf", "faf"),
        minima=SeparationMinima(horizontal_m=horizontal_m, vertical_m=300.0, time_s=0.0),
        default_disclosure=Disclosure.FULL,
        ack_deadline_s=900.0,
    )


def _hub(path: Path) -> tuple[Hub, SimulatedClock]:
    clock = SimulatedClock(T0)
    hub = Hub.open(path / "hub.db", clock)
    hub.add_party("usaf", "US Air Force")
    hub.add_party("faf", "French Air Force")
    return hub, clock


def _conflicts(hub: Hub) -> list[tuple[str, str]]:
    return sorted((c.a.record_key, c.b.record_key) for c in hub.store.list_conflicts())


def test_an_agreement_added_later_finds_and_tells_the_conflicts_it_makes(tmp_path: Path) -> None:
    hub, clock = _hub(tmp_path)
    try:
        hub.file_notice("usaf", [vol("u")], "air-activity", "U")  # six hours ahead
        hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
        hub.process()
        assert _conflicts(hub) == []  # nothing links them yet
        clock.advance(HOUR)
        hub.add_agreement(_agreement("mou"))
        hub.process()
        assert len(_conflicts(hub)) == 1
        for party in ("usaf", "faf"):
            told = [n for n in hub.list_notifications(party) if n.kind is NotificationKind.CONFLICT]
            assert len(told) == 1
            assert told[0].lead_time_s == 5 * HOUR  # from now to the conflict's start
    finally:
        hub.close()


def test_an_agreement_added_to_parties_already_linked_tells_nothing_twice(tmp_path: Path) -> None:
    """The conflicts held stay as they are, one carried over an amendment too (its id names
    the volume's older version); a second agreement with the same terms makes none."""
    hub, clock = _hub(tmp_path)
    try:
        hub.add_agreement(_agreement("mou"))
        hub.file_notice("usaf", [vol("u"), vol("w", lon=45.0)], "air-activity", "U")
        hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
        hub.process()
        hub.amend_notice("usaf", "U", 1, [vol("u"), vol("w", lon=46.0)])  # u carried
        hub.process()
        held = _conflicts(hub)
        assert len(held) == 1
        told = len(hub.list_notifications("usaf")) + len(hub.list_notifications("faf"))
        clock.advance(HOUR)
        hub.add_agreement(_agreement("second"))
        hub.process()
        assert _conflicts(hub) == held
        assert len(hub.list_notifications("usaf")) + len(hub.list_notifications("faf")) == told
    finally:
        hub.close()


def test_wider_minima_added_find_the_conflicts_they_make(tmp_path: Path) -> None:
    """Notices 3 km apart (edge to edge, 5 km circles 13 km apart) are clear under 1 km
    minima; an agreement of 5 km finds them in conflict at once."""
    hub, _ = _hub(tmp_path)
    try:
        hub.add_agreement(_agreement("mou"))
        hub.file_notice("usaf", [vol("u")], "air-activity", "U")
        hub.file_notice("faf", [vol("f", lon=39.0 + 13_000 / 90_000)], "air-activity", "F")
        hub.process()
        assert _conflicts(hub) == []
        hub.add_agreement(_agreement("wide", horizontal_m=5_000.0))
        hub.process()
        assert len(_conflicts(hub)) == 1
    finally:
        hub.close()
