"""Shared builders for CLI tests: the US-RU memorandum relayed by CAOC, as ``deconflict
agreement add`` reads it (volumes and the loopback server: ``tests.api.harness``)."""

from __future__ import annotations

#: RU tells US everything, US tells RU nothing; CAOC relays; notice due 6 h ahead
AGREEMENT = {
    "id": "MOU",
    "parties": ["US", "RU"],
    "relay": "CAOC",
    "min_lead_time_s": 21_600,
    "ack_deadline_s": 1_800,
    "separation": {"horizontal_m": 9_260, "vertical_m": 610, "time_s": 600},
    "disclosure": [
        {"from": "RU", "to": "US", "level": "full"},
        {"from": "US", "to": "RU", "level": "none"},
    ],
}
