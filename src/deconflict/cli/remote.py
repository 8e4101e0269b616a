"""The record commands against a remote hub (``--url``, ``--token``): the same output as against
a local database, from the API's documents through ``deconflict.client``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deconflict.cli.common import read_json
from deconflict.client import Client
from deconflict.demo.timefmt import format_clock, format_duration, format_lead
from deconflict.errors import InvalidDocument
from deconflict.geo.units import parse_rfc3339

__all__ = [
    "ack",
    "cancel_notice",
    "conflicts",
    "file_notice",
    "list_notices",
    "notifications",
    "plan_add",
]


def _clock(text: str) -> str:
    return format_clock(parse_rfc3339(text), weekday=False)


def _features(path: Path) -> list[Any]:
    document = read_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise InvalidDocument(f"{path}: not a GeoJSON FeatureCollection")
    return list(document["features"])


def file_notice(client: Client, path: Path, category: str, notice_id: str | None) -> str:
    notice = client.file_notice(_features(path), category, notice_id)
    lead = notice["filing"]
    flag = (
        f"LATE: {format_lead(lead['lead_time_s'])}, {format_duration(lead['shortfall_s'])} "
        f"short of the agreed {format_duration(lead['required_s'])}"
        if lead["late"]
        else format_lead(lead["lead_time_s"])
    )
    return f"filed notice {notice['id']} (version {notice['version']}): {flag}"


def list_notices(client: Client, states: list[str] | None) -> list[dict[str, Any]]:
    return [
        {
            "id": n["id"],
            "party": n["party"],
            "category": n["category"],
            "version": n["version"],
            "state": n["state"],
            "volumes": len(n["volumes"]["features"]),
            "start": _clock(n["start"]),
            "end": _clock(n["end"]),
        }
        for n in client.list_notices(states=states)
    ]


def cancel_notice(client: Client, notice_id: str) -> str:
    return f"cancelled notice {client.cancel_notice(notice_id)['id']}"


def plan_add(client: Client, path: Path, plan_id: str | None) -> str:
    plan = client.add_plan(_features(path), plan_id)
    return f"added plan {plan['id']} ({len(plan['volumes']['features'])} volume(s))"


def conflicts(client: Client, open_only: bool) -> list[dict[str, Any]]:
    rows = []
    for c in client.conflicts(open_only=open_only):
        suggestion = c.get("suggestion") or {}
        options = [
            a["description"] for a in (suggestion.get("time"), suggestion.get("altitude")) if a
        ]
        advice = (" or ".join(options) or "none found") if c["state"] == "open" else ""
        theirs = c["theirs"]
        rows.append(
            {
                "id": c["id"],
                "mine": c["mine"]["volume_id"],
                "theirs": f"{theirs['party']}:{theirs['volume_id'] or '(not disclosed)'}",
                "state": c["state"],
                "from": _clock(c["start"]),
                "lead time": format_lead(c["lead_time_s"]),
                "adjustment": advice,
            }
        )
    return rows


def notifications(client: Client) -> list[dict[str, Any]]:
    return [
        {
            "id": n["id"],
            "kind": n["kind"],
            "about": n["notice_id"] or n["conflict_id"] or "",
            "via": n["via"] or "",
            "state": n["state"],
            "lead time": format_lead(n["lead_time_s"]),
            "ack by": _clock(n["ack_deadline"]),
        }
        for n in client.notifications()
    ]


def ack(client: Client, notification_id: str) -> str:
    return f"acknowledged {client.ack(notification_id)['id']}"
