"""An agreement added after the notices it links were filed is applied to them at once: the
conflicts its terms make are found and told with their true lead time. A twenty-fourth reader
added an agreement an hour after two meeting notices were filed six hours ahead: no one was
told until one of the activities started, with a lead time of none (an agreement's row in the
change log only reloaded the agreements)."""

from __future__ import annotations

from pathlib import Path

from tests.hub.scenario import HOUR, T0, vol

from deconflict.engine import SeparationMinima, VolumeIndex
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


def _searches(monkeypatch) -> list[str]:
    """The parties whose volumes the index is asked to search around, call by call."""
    asked: list[str] = []
    real = VolumeIndex.conflicts_with

    def counted(self, volume, party, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(party)
        return real(self, volume, party, *args, **kwargs)

    monkeypatch.setattr(VolumeIndex, "conflicts_with", counted)
    return asked


def test_an_agreement_that_changes_no_terms_searches_nothing(tmp_path: Path, monkeypatch) -> None:
    """A twenty-fifth reader: an agreement with the terms the parties already had searched
    every volume of theirs again, seconds of one pass for every party at a few thousand."""
    hub, _ = _hub(tmp_path)
    try:
        hub.add_agreement(_agreement("mou"))
        hub.file_notice("usaf", [vol("u")], "air-activity", "U")
        hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
        hub.process()
        asked = _searches(monkeypatch)
        hub.add_agreement(_agreement("same"))
        hub.process()
        assert asked == []
    finally:
        hub.close()


def test_the_search_counts_no_party_s_plans(tmp_path: Path, monkeypatch) -> None:
    """Searched from the notices' volumes alone (every conflict has a notice's side): how long
    the pass took counted usaf's private plans, which another party timed (a twenty-fifth
    reader); a plan in conflict is still found, from the notice it meets."""
    searched = {}
    for plans in (0, 12):
        path = tmp_path / str(plans)
        path.mkdir()
        hub, _ = _hub(path)
        try:
            hub.add_agreement(_agreement("mou"))
            hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
            hub.file_notice("usaf", [vol("u", lon=50.0)], "air-activity", "U")
            for k in range(plans):
                hub.add_plan("usaf", [vol(f"p{k}", lon=20.0 + k)], f"P{k}")
            hub.add_plan("usaf", [vol("near", lon=39.0 + 13_000 / 90_000)], "NEAR")
            hub.process()
            asked = _searches(monkeypatch)
            hub.add_agreement(_agreement("wide", horizontal_m=5_000.0))
            hub.process()
            searched[plans] = len(asked)
            plan_conflicts = [
                c for c in hub.store.list_conflicts() if "NEAR" in (c.a.record_id, c.b.record_id)
            ]
            assert plan_conflicts, "the plan the wider minima put in conflict is found"
        finally:
            hub.close()
            monkeypatch.undo()
    assert searched[0] == searched[12]


def test_a_party_newly_shown_notices_whole_is_told_of_those_live(tmp_path: Path) -> None:
    """A twenty-fifth reader: faf, newly shown usaf's notices whole by an agreement, was never
    told of U, filed before it, and then was told of U's changes. It is told of U now, once."""
    hub, _ = _hub(tmp_path)
    try:
        hub.file_notice("usaf", [vol("u", lon=50.0)], "air-activity", "U")
        hub.process()
        assert hub.list_notifications("faf") == []
        hub.add_agreement(_agreement("mou"))
        hub.process()
        told = [(str(n.kind), n.notice_id) for n in hub.list_notifications("faf")]
        assert told == [("notice", "U")]
        hub.add_agreement(_agreement("again"))
        hub.process()
        assert len(hub.list_notifications("faf")) == 1
    finally:
        hub.close()
