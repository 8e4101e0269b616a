"""Every type of ledger entry has the same canonical bytes, and makes the same commitment, as
when entries were built in the store (the canonical bytes pinned before the building moved to
:mod:`deconflict.ledger.entries`, salts fixed): entries already in a ledger keep verifying."""

from __future__ import annotations

import hashlib
import json
import os
from types import SimpleNamespace
from typing import Any

import pytest

from deconflict.engine import ConflictDetail
from deconflict.geo import Circle, Volume4D
from deconflict.model import (
    Conflict,
    Notice,
    NoticeState,
    Notification,
    NotificationKind,
    Plan,
    RecordKind,
    Side,
)
from deconflict.store.ledger_entries import (
    Commitments,
    Delivered,
    Digest,
    Record,
    build_entry,
)
from deconflict.store.rows import notification_values

T0 = 1_447_704_000.25  # 2015-11-16T20:00:00.250000Z
TOLD = "ab" * 32  # the commitment of notice usaf/N1 version 1, as stored


class _Result(SimpleNamespace):
    """What a read gives: a scalar, a row, or no rows (no commitment stored)."""

    def __iter__(self) -> Any:
        return iter(())


class _Tx:
    """A transaction that answers the reads an entry may make from fixed rows (by table, the
    first column selected), and finds no commitment stored."""

    def __init__(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows

    def execute(self, statement: Any, params: Any = None) -> _Result:
        row = self.rows.get(statement.get_final_froms()[0].name)
        column = statement.selected_columns[0].name
        return _Result(
            scalar=lambda: None if row is None else row.get(column),
            one=lambda: SimpleNamespace(_mapping=row),
        )


def _volume(name: str, lat: float) -> Volume4D:
    return Volume4D.build(name, Circle((38.5, lat), 2_500.5), 1_000.0, 2_500.25, T0, T0 + 3_600.5)


NOTICE = Notice("N1", "usaf", (_volume("a", 35.9),), "air-activity", T0, 1, NoticeState.FILED)
PLAN = Plan("P1", "faf", (_volume("p", 35.95),), T0, 2)
DETAIL = ConflictDetail(T0, T0 + 600.0, 0.0, 0.0, 1_234.5)
CONFLICT = Conflict(
    "C1",
    Side(RecordKind.NOTICE, "N1", 1, "a", "usaf"),
    Side(RecordKind.NOTICE, "N2", 3, "b", "faf"),
    DETAIL,
    T0 + 1.0,
    b_masked=ConflictDetail(T0, T0 + 600.0, 0.0, 0.0, 2_000.0),
)
TOLD_OF_N1 = Notification(
    "M-1",
    "faf",
    NotificationKind.NOTICE,
    T0 + 2.0,
    T0 + 3_602.0,
    7_200.0,
    notice_id="N1",
    notice_party="usaf",
    via="caoc",
    delivered_at_s=T0 + 2.5,
)
UNDISCLOSED = Notification(
    "M-2",
    "rsaf",
    NotificationKind.CONFLICT,
    T0 + 2.0,
    T0 + 3_602.0,
    0.5,
    notice_id="N1",
    notice_party="usaf",
    conflict_id="C1",
    discloses_notice=False,
)
AGREEMENT = {"parties": ["usaf", "faf"], "lead_time_s": 3_600, "relay": "caoc"}

# (kind, entity id, record, rows readable): every type of entry, from a record at hand or read.
CASES: dict[str, tuple[str, str, Record, dict[str, dict[str, Any]]]] = {
    "notice filed": ("notice.filed", "usaf/N1", NOTICE, {}),
    "notice withdrawn": ("notice.withdrawn", "usaf/N1", NOTICE, {}),
    "notification at hand": ("notification.created", "M-1", TOLD_OF_N1, {}),
    "notification read": (
        "notification.delivered",
        "M-1",
        None,
        {"notifications": notification_values(TOLD_OF_N1)},
    ),
    "notification undisclosed": ("notification.created", "M-2", UNDISCLOSED, {}),
    "deliveries": (
        "notifications.delivered",
        "faf",
        Delivered("faf", "caoc", (UNDISCLOSED, TOLD_OF_N1)),
        {},
    ),
    "conflict detected": ("conflict.detected", "C1", CONFLICT, {}),
    "conflict resolved": ("conflict.resolved", "C1", CONFLICT, {}),
    "agreement": ("agreement.added", "A1", None, {"agreements": {"body": json.dumps(AGREEMENT)}}),
    "agreement gone": ("agreement.added", "A2", None, {}),
    "party": ("party.added", "usaf", None, {"parties": {"name": "US Air Force"}}),
    "plan": ("plan.added", "faf/P1", PLAN, {}),
    "digest": ("private.digest", "faf", Digest("faf", 4, ("cd" * 32, "ef" * 32), "ab" * 32), {}),
}

# sha256 of (entry type, canonical body, commitment, salt, content) for each case: as built
# in the store before the move.
PINNED = {
    "agreement": "647eb626574a954a0b1b0bc06cf2ded0688cffdb687a4dd4f8e1900302cd2125",
    "agreement gone": "966c8c40e234b34ebaad38b3b374fea07f532475e446bb859fc4df6aa926f4dc",
    "conflict detected": "ed7d5025fc3045e2f58730167d10be17367f3f594ec5fbf1d062f5381d06150e",
    "conflict resolved": "ec169e232f54366a0d29522b4c75dad14b51013e54b50e298f2e02b8224ef4e0",
    "deliveries": "d2c1c92e4f88301d8dff19d5eee90ab734b2338d9a464f27fd9cee73f5a6e5f3",
    # With its withheld commitment (migration 0033); was ae0e798d... without.
    "digest": "82ec9da69401f2549d10b1df147d483e1235793028e0cf57e192aaa22b750020",
    "notice filed": "043b05501f4b434d77b3fda8210e28de6ccab026b1f051af81ea57547e533f44",
    "notice withdrawn": "73a65132baeb1e0aae07d11c389897bbe1081da6c4c47ea2191bff1fe60280f6",
    "notification at hand": "d7f135786d25d99b076b5bbc912a52e4873c7adad5d1d24d79471c6894831127",
    "notification read": "97fe6a7358980f0700342fede3ccc805339ce39bea929ca37ac415f749f1c5c8",
    "notification undisclosed": "c6676b6c6be5da0c38d52ef26a7f3ec71380725db44cde00870404e4d416fc1e",
    "party": "da849c23d9b4b2dcca661850b7f3a4b23b74bb76b82726b89476064d83b6f916",
    "plan": "71545ae1252811071f3095ca2989782458fff01e5381076353edab676d4297d3",
}


@pytest.fixture(autouse=True)
def _fixed_salts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: bytes(range(n)))


def _built(case: str) -> tuple[str, bytes, Any]:
    kind, entity_id, record, rows = CASES[case]
    known = Commitments()
    known.made("notice:usaf/N1", 1, TOLD)
    if kind == "conflict.resolved":
        known.made("conflict:C1", 0, "12" * 32)
    found = build_entry(_Tx(rows), kind, entity_id, T0 + 5.0, record, known)
    assert found is not None
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_type_of_entry_has_the_bytes_it_had(case: str) -> None:
    entry_type, body, private = _built(case)
    got = hashlib.sha256(repr((entry_type, body, private)).encode()).hexdigest()
    assert got == PINNED[case]
