"""The backend over a remote hub's API (``--url``, ``--token``) through ``deconflict.client``:
the token says which party acts, and the hub shows it what its agreements allow."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deconflict.cli.backends.base import (
    AgreementSummary,
    ConflictSummary,
    Filed,
    NoticeSummary,
    NotificationSummary,
    PlanSummary,
    features_of,
)
from deconflict.client import Client
from deconflict.geo.units import parse_rfc3339
from deconflict.model import Agreement, NoticeState
from deconflict.model.agreement_document import agreement_document
from deconflict.policy import LeadCheck

__all__ = ["RemoteBackend", "RemoteRegistry"]


class RemoteBackend:
    """The token's party's view of the hub behind ``client``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def file_notice(
        self, collection: object, source: Path, category: str, notice_id: str | None
    ) -> Filed:
        notice = self._client.file_notice(features_of(collection, source), category, notice_id)
        lead = notice["filing"]
        return Filed(
            notice["id"], notice["version"], LeadCheck(lead["lead_time_s"], lead["required_s"])
        )

    def list_notices(self, states: Sequence[NoticeState]) -> list[NoticeSummary]:
        return [
            NoticeSummary(
                id=n["id"],
                party=n["party"],
                category=n["category"],
                version=n["version"],
                state=n["state"],
                volumes=len(n["volumes"]["features"]),
                start_s=parse_rfc3339(n["start"]),
                end_s=parse_rfc3339(n["end"]),
            )
            for n in self._client.list_notices(states=[str(s) for s in states] or None)
        ]

    def cancel_notice(self, notice_id: str) -> str:
        return str(self._client.cancel_notice(notice_id)["id"])

    def add_plan(self, collection: object, source: Path, plan_id: str | None) -> PlanSummary:
        return _plan(self._client.add_plan(features_of(collection, source), plan_id))

    def list_plans(self) -> list[PlanSummary]:
        return [_plan(plan) for plan in self._client.list_plans()]

    def amend_plan(
        self, plan_id: str, collection: object, source: Path, version: int | None
    ) -> PlanSummary:
        features = features_of(collection, source)
        if version is None:
            version = int(self._client.get_plan(plan_id)["version"])
        return _plan(self._client.amend_plan(plan_id, version, features))

    def withdraw_plan(self, plan_id: str) -> PlanSummary:
        return _plan(self._client.withdraw_plan(plan_id))

    def conflicts(self, open_only: bool) -> list[ConflictSummary]:
        out = []
        for c in self._client.conflicts(open_only=open_only):
            suggestion = c.get("suggestion") or {}
            found = (suggestion.get("time"), suggestion.get("altitude"))
            out.append(
                ConflictSummary(
                    id=c["id"],
                    state=c["state"],
                    mine=c["mine"]["volume_id"],
                    theirs_party=c["theirs"]["party"],
                    theirs_volume=c["theirs"]["volume_id"],
                    start_s=parse_rfc3339(c["start"]),
                    lead_time_s=c["lead_time_s"],
                    adjustments=tuple(a["description"] for a in found if a),
                    more_pairs=bool(c.get("more_pairs", False)),
                )
            )
        return out

    def notifications(self) -> list[NotificationSummary]:
        return [
            NotificationSummary(
                id=n["id"],
                kind=n["kind"],
                state=n["state"],
                notice_id=n["notice_id"],
                conflict_id=n["conflict_id"],
                via=n["via"],
                lead_time_s=n["lead_time_s"],
                ack_deadline_s=parse_rfc3339(n["ack_deadline"]),
            )
            for n in self._client.notifications()
        ]

    def acknowledge(self, notification_id: str) -> str:
        return str(self._client.ack(notification_id)["id"])


class RemoteRegistry:
    """The parties and agreements of the hub behind ``client``: adding needs a token with the
    admin scope; the agreements listed are those the token's party is in or relays for."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def add_party(self, party_id: str, name: str | None) -> str:
        return str(self._client.add_party(party_id, name)["id"])

    def add_agreement(self, agreement: Agreement) -> str:
        return str(self._client.add_agreement(agreement_document(agreement))["id"])

    def agreements(self) -> list[AgreementSummary]:
        return [
            AgreementSummary(
                a["id"], tuple(a["parties"]), a["relay"], a["min_lead_time_s"], a["ack_deadline_s"]
            )
            for a in self._client.agreements()
        ]

    def parties(self) -> list[tuple[str, str]]:
        return [(p["id"], p["name"]) for p in self._client.parties()]


def _plan(plan: Any) -> PlanSummary:
    features = plan["volumes"]["features"]
    return PlanSummary(plan["id"], len(features), int(plan["version"]), str(plan["state"]))
