"""The demo ends by settling the dispute: its receipt verifies with only the public key."""

from __future__ import annotations

import pytest

from deconflict.demo.runner import run_demo
from deconflict.errors import VerificationFailed
from deconflict.ledger import Verifier, verify_receipt


def test_demo_writes_a_receipt_that_settles_the_dispute(tmp_path):
    """The report holds the US's receipt for RU-N3 (through CAOC, acknowledged) and the key;
    it verifies from those files alone, and with one byte changed it does not."""
    folder = tmp_path / "report"
    lines: list[str] = []
    run_demo(folder, lines.append)
    (folder / "demo.db").unlink()  # offline: nothing but the two files
    key = Verifier.parse((folder / "ledger-key.pub").read_text())
    raw = (folder / "receipt-RU-N3-US.json").read_bytes()
    entry = verify_receipt(raw, key).entry
    assert entry["type"] == "notification.acknowledged"
    assert (entry["notice"], entry["recipient"], entry["via"]) == ("RU-N3", "US", "CAOC")
    assert entry["delivered_at"] == "2015-11-16T20:00:00Z"
    assert entry["acknowledged_at"] == "2015-11-16T20:15:00Z"
    changed = bytearray(raw)
    changed[len(raw) // 2] ^= 0x01
    with pytest.raises(VerificationFailed):
        verify_receipt(bytes(changed), key)
    assert any(line.startswith("settled: did RU give US notice of RU-N3?") for line in lines)
