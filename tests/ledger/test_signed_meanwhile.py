"""``ledger verify`` and ``ledger export`` beside a live hub: a checkpoint it signs while they
read is no finding. What the hub signed is read before the log, so the log read is at least as
long as any checkpoint read (an entry is committed before a checkpoint over it is signed)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from tests.hub.scenario import HOUR, T0, make_hub, vol


def _signing_meanwhile(hub: Any, monkeypatch: Any, read: str = "ledger_audit_data") -> list[int]:
    """After the store's first ``read`` of the log (the whole of it, by default), the hub files,
    detects and signs a checkpoint over the longer log (as a live ``serve`` would); the sizes
    signed."""
    store_type = type(hub.store)
    real = getattr(store_type, read)
    signed: list[int] = []

    def reading(self: Any) -> Any:
        found = real(self)
        if not signed:
            signed.append(0)
            late = vol("late", start_s=T0 + 9 * HOUR, end_s=T0 + 10 * HOUR)
            hub.file_notice("usaf", [late], "air-activity", "N-LATE")
            hub.process()
            hub.ledger.checkpoint()
            signed.append(hub.ledger.size)
        return found

    monkeypatch.setattr(store_type, read, reading)
    return signed


def _hub_with_a_checkpoint(tmp_path: Any) -> Any:
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.process()
    hub.ledger.checkpoint()
    return hub


def test_verify_holds_while_the_hub_signs_a_longer_log(tmp_path, monkeypatch):
    hub = _hub_with_a_checkpoint(tmp_path)
    before = hub.ledger.size
    signed = _signing_meanwhile(hub, monkeypatch)
    report = hub.ledger.verify()
    assert signed[-1] > before  # the hub did sign a longer log meanwhile
    assert report.size == before  # the log as read, which verify checked
    hub.close()


def test_export_finds_nothing_while_the_hub_signs_a_longer_log(tmp_path, monkeypatch):
    hub = _hub_with_a_checkpoint(tmp_path)
    signed = _signing_meanwhile(hub, monkeypatch)
    data = hub.ledger.export()
    assert signed[-1] > 0
    assert data["findings"] == {"log": None, "signing": None, "differs": []}
    hub.close()


def test_repair_is_not_refused_while_the_hub_signs_a_longer_log(tmp_path, monkeypatch):
    """``ledger repair`` reads the entries, then what was signed: read in that order, a
    checkpoint signed in between (a live hub, not halted) looked like entries deleted from the
    log, and repair refused, telling the operator to restore a backup."""
    hub = _hub_with_a_checkpoint(tmp_path)
    signed = _signing_meanwhile(hub, monkeypatch, "ledger_entries")
    done = hub.ledger.repair()
    assert signed[-1] > 0
    assert "rebuilt the ledger's hashes" in done
    hub.ledger.verify()
    hub.close()


def test_repair_beside_a_live_hub_that_appends_between_its_steps(tmp_path, monkeypatch):
    """``ledger repair`` run while ``serve`` runs: the live hub (another Hub on the same
    database, as another process would be) found the damaged hashes and is halted, but its
    detection goes on and appends (a halted hub still warns parties of what it holds). It
    appends between repair's reading of the entries and its rewriting of the hashes, and again
    between that rewrite (which drops every stored subtree hash) and the rebuild of the
    subtrees. Repair succeeds, the entries appended meanwhile keep their hashes, and the log is
    whole: the full check, ``verify``, and the live hub's next signature all hold."""
    from deconflict.errors import LedgerBroken
    from deconflict.hub import Hub
    from deconflict.hub.ledger import HALT_READ_PERIOD_S

    made = _hub_with_a_checkpoint(tmp_path)
    made.close()
    db = tmp_path / "hub.db"
    seconds = [0.0]  # the live hub's monotonic clock: when it reads the store's halt again
    live = Hub.open(db, made.clock, monotonic=lambda: seconds[0])
    for k in range(2):  # French notices on the US one, detected only while repair runs
        live.file_notice("faf", [vol(f"f{k}")], "air-activity", f"F{k}")
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE ledger_nodes SET hash = zeroblob(32)")  # damage to repair
    with pytest.raises(LedgerBroken):
        live.ledger.check()
    repairing = Hub.open(db)
    store_type = type(repairing.store)
    appended: list[int] = []

    def detect() -> None:
        before = live.ledger.size
        live.process(limit=1)  # one filing's detection: its conflict, its notifications
        appended.append(live.ledger.size)
        assert appended[-1] > before

    real_rehash, real_build = store_type.ledger_rehash, store_type.ledger_build_subtrees

    def rehash(self: Any, leaves: list[bytes]) -> int:
        if self is repairing.store and not appended:
            detect()  # between the entries read and their hashes rewritten
        return real_rehash(self, leaves)

    def build(self: Any, size: int) -> int:
        if self is repairing.store and len(appended) == 1:
            detect()  # between the hashes dropped and the subtrees built again
        return real_build(self, size)

    monkeypatch.setattr(store_type, "ledger_rehash", rehash)
    monkeypatch.setattr(store_type, "ledger_build_subtrees", build)
    done = repairing.ledger.repair()
    monkeypatch.undo()
    assert len(appended) == 2
    assert "rebuilt the ledger's hashes" in done
    assert repairing.ledger.problem() is None
    repairing.ledger.verify()
    seconds[0] += HALT_READ_PERIOD_S
    assert live.ledger.broken is None  # the halt is lifted for the live hub too, once read
    signed = live.ledger.checkpoint()  # which signs the longer log
    assert signed == live.store.ledger_latest_checkpoint()[1]
    assert live.ledger.problem() is None
    repairing.close()
    live.close()
