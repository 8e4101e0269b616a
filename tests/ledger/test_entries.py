"""The ledger's entries are built from plain values alone, with the commitments they refer to
looked up through :class:`~deconflict.ledger.entries.Refs` (here a dict, no store)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from deconflict.ledger import entries
from deconflict.ledger.entries import Told

AT = "2015-11-16T20:00:05Z"
NOTICE = {
    "id": "N1",
    "key": "usaf/N1",
    "party": "usaf",
    "version": 1,
    "state": "filed",
    "category": "air-activity",
    "volumes": [{"id": "a", "lower_m": 1000, "upper_m": 2500}],
}
ROW = {
    "id": "M-1",
    "kind": "notice",
    "recipient": "faf",
    "via": None,
    "notice_id": "usaf/N1",
    "discloses_notice": True,
    "conflict_id": None,
    "created_at_s": 2.0,
    "delivered_at_s": None,
    "acknowledged_at_s": None,
    "escalated_at_s": None,
    "ack_deadline_s": 3_602.0,
    "lead_time_s": 7_200.0,
}


class _Known:
    """The commitments made so far, by (subject, version)."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, int], str] = {}

    def at(self, subject: str, version: int) -> str | None:
        return self.made.get((subject, version))

    def told(self, key: str) -> Told:
        party, notice = key.split("/")
        version = max(v for (s, v) in self.made if s == f"notice:{key}")
        return Told(party, notice, version, self.made[(f"notice:{key}", version)])


def _time(at_s: float | None) -> str | None:
    return None if at_s is None else f"t+{at_s:g}"


def test_a_notice_change_refers_to_the_commitment_its_version_was_filed_with():
    """The filing commits to the version's content (the salt kept, the content left to the
    version's row); a later change of that version refers to that commitment, making none."""
    known = _Known()
    _, body, private = entries.notice("notice.filed", NOTICE, AT, known)
    assert private is not None
    assert private.content is None
    content = entries.notice_content(NOTICE)
    assert private.commitment == hashlib.sha256(private.salt + content).hexdigest()
    assert json.loads(body)["commitment"] == private.commitment
    known.made[("notice:usaf/N1", 1)] = private.commitment
    cancelled = {**NOTICE, "state": "cancelled"}
    _, body, private = entries.notice("notice.cancelled", cancelled, AT, known)
    assert private is None
    assert json.loads(body) == {
        "type": "notice.cancelled",
        "notice": "N1",
        "version": 1,
        "party": "usaf",
        "state": "cancelled",
        "at": AT,
        "commitment": known.made[("notice:usaf/N1", 1)],
    }


def test_a_notification_names_the_newest_commitment_of_the_notice_it_told_of():
    """Its party and id in the clear, the newest version and commitment, times as written."""
    known = _Known()
    known.made[("notice:usaf/N1", 1)] = "ab" * 32
    known.made[("notice:usaf/N1", 2)] = "cd" * 32
    _, body, private = entries.notification("notification.created", ROW, AT, _time, known)
    entry = json.loads(body)
    assert private is None
    assert (entry["notice_party"], entry["notice"]) == ("usaf", "N1")
    assert (entry["notice_version"], entry["notice_commitment"]) == (2, "cd" * 32)
    assert (entry["created_at"], entry["delivered_at"], entry["ack_deadline"]) == (
        "t+2",
        None,
        "t+3602",
    )


class _Nothing:
    """Refs that must not be asked."""

    def at(self, subject: str, version: int) -> str | None:
        raise AssertionError(f"looked up {subject}")

    def told(self, key: str) -> Told:
        raise AssertionError(f"looked up {key}")


@pytest.mark.parametrize("build", ["notification", "deliveries"])
def test_a_notification_its_recipient_may_not_see_the_notice_of_names_none_of_it(build: str):
    """Neither the notice, its party, version nor commitment: only the conflict, and nothing of
    the notice is looked up."""
    row: dict[str, Any] = {**ROW, "discloses_notice": False, "conflict_id": "C1"}
    if build == "notification":
        _, body, _ = entries.notification("notification.created", row, AT, _time, _Nothing())
        named = json.loads(body)
    else:
        _, body, _ = entries.deliveries(
            "notifications.delivered", "faf", None, [row], AT, _time, _Nothing()
        )
        named = json.loads(body)["notifications"][0]
    assert named["conflict"] == "C1"
    for field in ("notice", "notice_party", "notice_version", "notice_commitment"):
        assert named[field] is None


def test_a_deliveries_entry_names_its_notifications_in_id_order():
    """Whatever order the batch came in."""
    known = _Known()
    known.made[("notice:usaf/N1", 1)] = "ab" * 32
    rows = [{**ROW, "id": "M-3"}, {**ROW, "id": "M-1"}, {**ROW, "id": "M-2"}]
    _, body, _ = entries.deliveries(
        "notifications.delivered", "faf", "caoc", rows, AT, _time, known
    )
    assert [n["notification"] for n in json.loads(body)["notifications"]] == ["M-1", "M-2", "M-3"]


def test_a_conflict_resolved_refers_to_the_commitment_made_when_it_was_detected():
    """Detected: a fresh commitment to the row but its state and resolution time (nothing
    looked up); resolved: that commitment."""
    row = {"id": "C1", "a_party": "usaf", "b_party": "faf", "state": "open", "resolved_at_s": None}
    _, body, private = entries.conflict("conflict.detected", row, AT, _Nothing())
    assert private is not None
    assert json.loads(private.content or "") == {"id": "C1", "a_party": "usaf", "b_party": "faf"}
    assert json.loads(body)["parties"] == ["faf", "usaf"]
    known = _Known()
    known.made[("conflict:C1", 0)] = private.commitment
    resolved = {**row, "state": "resolved", "resolved_at_s": 9.0}
    _, body, again = entries.conflict("conflict.resolved", resolved, AT, known)
    assert again is None
    assert json.loads(body)["commitment"] == private.commitment
