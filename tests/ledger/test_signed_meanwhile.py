"""``ledger verify`` and ``ledger export`` beside a live hub: a checkpoint it signs while they
read is no finding. What the hub signed is read before the log, so the log read is at least as
long as any checkpoint read (an entry is committed before a checkpoint over it is signed)."""

from __future__ import annotations

from typing import Any

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
