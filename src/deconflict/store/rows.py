"""Rows to records and back: how conflicts, notifications, notices, plans and change-log rows
are laid out in their tables (the SQL store's mapping, kept apart from its queries). A notice or
plan is keyed by its record key (``<party>/<id>``) in every table; a record read back carries
its party's own id."""

from __future__ import annotations

import json
from typing import Any

from deconflict.engine import ConflictDetail
from deconflict.model import (
    Conflict,
    ConflictState,
    Notice,
    NoticeState,
    Notification,
    NotificationKind,
    NotificationState,
    Plan,
    PlanState,
    RecordKind,
    Side,
)
from deconflict.model.ids import split_key
from deconflict.store.base import Change
from deconflict.store.codec import volume_versions_from_json, volumes_from_json

__all__ = [
    "change_of",
    "conflict_of",
    "conflict_party_rows",
    "conflict_row",
    "conflict_values",
    "notice_of",
    "notification_of",
    "notification_values",
    "plan_of",
]


def _side(row: Any, prefix: str) -> Side:
    return Side(
        kind=RecordKind(row[f"{prefix}_kind"]),
        record_id=split_key(row[f"{prefix}_record_id"])[1],
        version=row[f"{prefix}_version"],
        volume_id=row[f"{prefix}_volume_id"],
        party=row[f"{prefix}_party"],
    )


def _side_values(side: Side, prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}_kind": str(side.kind),
        f"{prefix}_record_id": side.record_key,
        f"{prefix}_version": side.version,
        f"{prefix}_volume_id": side.volume_id,
        f"{prefix}_party": side.party,
    }


def conflict_of(row: Any) -> Conflict:
    return Conflict(
        id=row["id"],
        a=_side(row, "a"),
        b=_side(row, "b"),
        detail=ConflictDetail(
            row["start_s"],
            row["end_s"],
            row["time_gap_s"],
            row["vertical_gap_m"],
            row["horizontal_m"],
        ),
        detected_at_s=row["detected_at_s"],
        state=ConflictState(row["state"]),
        resolved_at_s=row["resolved_at_s"],
        a_unlocks=bool(row["a_unlocks"]),
        b_unlocks=bool(row["b_unlocks"]),
        a_masked=_detail_of(row["a_masked"]),
        b_masked=_detail_of(row["b_masked"]),
        more_pairs=bool(row["more_pairs"]),
    )


def _detail_of(text: str | None) -> ConflictDetail | None:
    return None if text is None else ConflictDetail(*json.loads(text))


def _detail_json(detail: ConflictDetail | None) -> str | None:
    if detail is None:
        return None
    d = detail
    return json.dumps([d.start_s, d.end_s, d.time_gap_s, d.vertical_gap_m, d.horizontal_m])


def conflict_values(conflict: Conflict) -> dict[str, Any]:
    d = conflict.detail
    return {
        "id": conflict.id,
        **_side_values(conflict.a, "a"),
        **_side_values(conflict.b, "b"),
        "start_s": d.start_s,
        "end_s": d.end_s,
        "time_gap_s": d.time_gap_s,
        "vertical_gap_m": d.vertical_gap_m,
        "horizontal_m": d.horizontal_m,
        "detected_at_s": conflict.detected_at_s,
        "state": str(conflict.state),
        "resolved_at_s": conflict.resolved_at_s,
        "a_unlocks": conflict.a_unlocks,
        "b_unlocks": conflict.b_unlocks,
        "a_masked": _detail_json(conflict.a_masked),
        "b_masked": _detail_json(conflict.b_masked),
        # Only where it is so: what the ledger committed to before there was a limit stands.
        **({"more_pairs": True} if conflict.more_pairs else {}),
    }


def conflict_row(conflict: Conflict) -> dict[str, Any]:
    """The conflict's row: its record (:func:`conflict_values`, what the ledger commits to) and
    until when each side is shown it open, at most, for the reads to find it by."""
    return {
        **conflict_values(conflict),
        "a_until_s": conflict.told_until(conflict.a.party),
        "b_until_s": conflict.told_until(conflict.b.party),
        "more_pairs": conflict.more_pairs,
    }


def conflict_party_rows(conflict: Conflict) -> list[dict[str, Any]]:
    """A row for each party the conflict is shown to (a side whose other side is a notice),
    once a party: what a party's pages of conflicts are read by."""
    shown = {
        mine.party
        for mine, theirs in ((conflict.a, conflict.b), (conflict.b, conflict.a))
        if theirs.kind is RecordKind.NOTICE
    }
    return [
        {"party": party, "detected_at_s": conflict.detected_at_s, "conflict_id": conflict.id}
        for party in sorted(shown)
    ]


_NOTIFICATION_FIELDS = (
    "id",
    "recipient",
    "via",
    "kind",
    "notice_id",
    "conflict_id",
    "state",
    "created_at_s",
    "ack_deadline_s",
    "lead_time_s",
    "delivered_at_s",
    "acknowledged_at_s",
    "escalated_at_s",
    "discloses_notice",
    "private",
)


def notification_of(row: Any) -> Notification:
    values = {name: row[name] for name in _NOTIFICATION_FIELDS}
    values["kind"] = NotificationKind(values["kind"])
    values["state"] = NotificationState(values["state"])
    values["discloses_notice"] = bool(values["discloses_notice"])
    values["private"] = bool(values["private"])
    if values["notice_id"] is not None:  # the row keeps the notice's key
        values["notice_party"], values["notice_id"] = split_key(values["notice_id"])
    return Notification(**values)


def notification_values(n: Notification) -> dict[str, Any]:
    values = {name: getattr(n, name) for name in _NOTIFICATION_FIELDS}
    values["kind"] = str(n.kind)
    values["state"] = str(n.state)
    values["notice_id"] = n.notice_key
    return values


def change_of(row: Any) -> Change:
    return Change(row.seq, row.kind, row.entity_id, row.at_s, row.version, row.state)


def notice_of(row: Any) -> Notice:
    return Notice(
        id=split_key(row["id"])[1],
        party=row["party_id"],
        volumes=volumes_from_json(row["volumes"]),
        category=row["category"],
        filed_at_s=row["filed_at_s"],
        version=row["version"],
        state=NoticeState(row["state"]),
        updated_at_s=row["updated_at_s"],
        volume_versions=volume_versions_from_json(row.get("volume_versions")),
    )


def plan_of(row: Any) -> Plan:
    return Plan(
        id=split_key(row["id"])[1],
        party=row["party_id"],
        volumes=volumes_from_json(row["volumes"]),
        created_at_s=row["created_at_s"],
        version=row["version"],
        state=PlanState(row["state"]),
        updated_at_s=row["updated_at_s"],
    )
