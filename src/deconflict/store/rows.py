"""Rows to records and back: how conflicts, notifications, notices, plans and change-log rows
are laid out in their tables (the SQL store's mapping, kept apart from its queries)."""

from __future__ import annotations

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
from deconflict.store.base import Change
from deconflict.store.codec import volumes_from_json

__all__ = [
    "change_of",
    "conflict_of",
    "conflict_values",
    "notice_of",
    "notification_of",
    "notification_values",
    "plan_of",
]


def _side(row: Any, prefix: str) -> Side:
    return Side(
        kind=RecordKind(row[f"{prefix}_kind"]),
        record_id=row[f"{prefix}_record_id"],
        version=row[f"{prefix}_version"],
        volume_id=row[f"{prefix}_volume_id"],
        party=row[f"{prefix}_party"],
    )


def _side_values(side: Side, prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}_kind": str(side.kind),
        f"{prefix}_record_id": side.record_id,
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
    )


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
    }


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
)


def notification_of(row: Any) -> Notification:
    values = {name: row[name] for name in _NOTIFICATION_FIELDS}
    values["kind"] = NotificationKind(values["kind"])
    values["state"] = NotificationState(values["state"])
    return Notification(**values)


def notification_values(n: Notification) -> dict[str, Any]:
    values = {name: getattr(n, name) for name in _NOTIFICATION_FIELDS}
    values["kind"] = str(n.kind)
    values["state"] = str(n.state)
    return values


def change_of(row: Any) -> Change:
    return Change(row.seq, row.kind, row.entity_id, row.at_s, row.version, row.state)


def notice_of(row: Any) -> Notice:
    return Notice(
        id=row["id"],
        party=row["party_id"],
        volumes=volumes_from_json(row["volumes"]),
        category=row["category"],
        filed_at_s=row["filed_at_s"],
        version=row["version"],
        state=NoticeState(row["state"]),
        updated_at_s=row["updated_at_s"],
    )


def plan_of(row: Any) -> Plan:
    return Plan(
        id=row["id"],
        party=row["party_id"],
        volumes=volumes_from_json(row["volumes"]),
        created_at_s=row["created_at_s"],
        version=row["version"],
        state=PlanState(row["state"]),
        updated_at_s=row["updated_at_s"],
    )
