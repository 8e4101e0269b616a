"""The detector's ledger entries are built before its write turn, on a read of their own
(``ledger_append.prebuild``), and used under the turn only when nothing they were built from
has changed: else they are built there, as before, and the ledger says the same either way."""

from __future__ import annotations

from typing import Any

from tests.hub.scenario import make_hub, vol

from deconflict.store import ledger_append


def _conflicting(tmp_path: Any) -> Any:
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    return hub


def _built_in_turn(monkeypatch: Any, then: Any = None) -> list[str]:
    """The kinds of the entries built after a prebuild (so under the write turn); ``then`` runs
    right after each prebuild, before the turn is taken."""
    kinds: list[str] = []
    real_build, real_prebuild = ledger_append.build_entry, ledger_append.prebuild

    def counting(c: Any, kind: str, *args: Any, **kwargs: Any) -> Any:
        kinds.append(kind)
        return real_build(c, kind, *args, **kwargs)

    def prebuild(c: Any, items: Any) -> Any:
        monkeypatch.setattr(ledger_append, "build_entry", real_build)
        found = real_prebuild(c, items)
        if then is not None:
            then()
        monkeypatch.setattr(ledger_append, "build_entry", counting)
        return found

    monkeypatch.setattr(ledger_append, "prebuild", prebuild)
    return kinds


def _entries(hub: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in map(hub.ledger.entry, range(hub.ledger.size)) if e["type"] == kind]


def test_the_detector_builds_no_entry_under_its_write_turn(tmp_path, monkeypatch):
    hub = _conflicting(tmp_path)
    in_turn = _built_in_turn(monkeypatch)
    report = hub.process()
    assert len(report.new_conflicts) == 1
    assert len(report.notifications) == 4
    assert in_turn == []
    assert len(_entries(hub, "conflict.detected")) == 1
    told = _entries(hub, "notification.created")
    assert len(told) == 4
    assert {e["notice_version"] for e in told} == {1}
    hub.ledger.verify()
    hub.close()


def test_entries_are_built_under_the_turn_when_a_notice_told_of_changed_meanwhile(
    tmp_path, monkeypatch
):
    """N1 amended between the prebuild and the turn: its newest commitment is no longer what
    the entries were built with, so they are built again under the turn, naming version 2,
    as an entry built there always did."""
    hub = _conflicting(tmp_path)
    amended: list[bool] = []

    def amend() -> None:
        if not amended:
            amended.append(True)
            hub.amend_notice("usaf", "N1", 1, [vol("a", lat=35.98)])

    in_turn = _built_in_turn(monkeypatch, amend)
    hub.process(limit=len(hub.store.changes_after(0)) - 1)  # the filings, not the amendment
    assert amended
    assert "notification.created" in in_turn
    told = [e for e in _entries(hub, "notification.created") if e["notice"] == "N1"]
    assert told
    assert {e["notice_version"] for e in told} == {2}
    hub.ledger.verify()
    hub.close()
