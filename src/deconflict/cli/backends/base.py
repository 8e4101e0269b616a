"""The one interface the acting commands are written against, and the summaries it answers with.

A ``Backend`` is one party's view of a hub: it files and cancels that party's notices, adds its
plans, and lists what it may see. A ``Registry`` is where parties and agreements are added (the
administrator's work) and agreements listed. Both answer with small summaries holding what the CLI
shows (times in seconds since the epoch), never with rows: the rows and ``--json`` are made once,
in ``cli.records``, whichever hub answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from deconflict.errors import InvalidDocument

if TYPE_CHECKING:  # only named here: the CLI's help is built without the model loaded
    from deconflict.model import Agreement, NoticeState
    from deconflict.policy import LeadCheck

__all__ = [
    "AgreementSummary",
    "Backend",
    "ConflictSummary",
    "Filed",
    "NoticeSummary",
    "NotificationSummary",
    "PlanSummary",
    "Registry",
    "features_of",
]


def features_of(collection: object, source: Path) -> list[dict[str, Any]]:
    """The features of a parsed FeatureCollection file, checked alike for either backend before
    it goes anywhere: a FeatureCollection with at least one Feature, else InvalidDocument naming
    ``source``. What is inside each Feature the hub checks (each error names the feature)."""
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InvalidDocument(f"{source}: not a GeoJSON FeatureCollection")
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidDocument(f"{source}: the FeatureCollection has no features")
    for i, item in enumerate(features):
        if not isinstance(item, dict) or item.get("type") != "Feature":
            raise InvalidDocument(f"{source}: features[{i}]: not a GeoJSON Feature")
    return features


@dataclass(frozen=True, slots=True)
class Filed:
    """A notice just filed: its id and version, and the lead time it gave against the agreed."""

    notice_id: str
    version: int
    lead: LeadCheck


@dataclass(frozen=True, slots=True)
class NoticeSummary:
    id: str
    party: str
    category: str
    version: int | None  # None: another party's notice seen in part
    state: str
    volumes: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class PlanSummary:
    id: str
    volumes: int
    version: int
    state: str


@dataclass(frozen=True, slots=True)
class ConflictSummary:
    id: str
    state: str
    #: the acting party's volume in the conflict
    mine: str
    theirs_party: str
    #: the other party's volume, None where the acting party may not see it
    theirs_volume: str | None
    start_s: float
    lead_time_s: float
    #: how each way found to clear an open conflict reads ("shift ... later", ...)
    adjustments: tuple[str, ...]
    #: the two records met in more pairs of volumes than their conflicts list (hub.pairs)
    more_pairs: bool


@dataclass(frozen=True, slots=True)
class NotificationSummary:
    id: str
    kind: str
    state: str
    notice_id: str | None
    conflict_id: str | None
    via: str | None
    lead_time_s: float
    ack_deadline_s: float


@dataclass(frozen=True, slots=True)
class AgreementSummary:
    id: str
    parties: tuple[str, ...]
    relay: str | None
    min_lead_time_s: float
    ack_deadline_s: float


class Backend(Protocol):
    """What the acting commands ask of a hub, for the one party acting.

    ``collection`` is a parsed GeoJSON FeatureCollection document and ``source`` the file it was
    read from, to name in errors.
    """

    def file_notice(
        self, collection: object, source: Path, category: str, notice_id: str | None
    ) -> Filed: ...

    def list_notices(self, states: Sequence[NoticeState]) -> list[NoticeSummary]: ...

    def cancel_notice(self, notice_id: str) -> str:
        """Cancel one of the party's notices; its id."""
        ...

    def add_plan(self, collection: object, source: Path, plan_id: str | None) -> PlanSummary: ...

    def list_plans(self) -> list[PlanSummary]:
        """The party's own current plans, oldest first."""
        ...

    def amend_plan(
        self, plan_id: str, collection: object, source: Path, version: int | None
    ) -> PlanSummary:
        """New volumes for one of the party's plans, at ``version`` (None: as it is now)."""
        ...

    def withdraw_plan(self, plan_id: str) -> PlanSummary: ...

    def conflicts(self, open_only: bool) -> list[ConflictSummary]: ...

    def notifications(self) -> list[NotificationSummary]:
        """The party's notifications; the new ones are delivered by asking."""
        ...

    def acknowledge(self, notification_id: str) -> str:
        """Acknowledge a notification sent to the party; its id."""
        ...


class Registry(Protocol):
    """Parties and agreements: added by the hub's administrator (remote: a token with the admin
    scope), agreements listed (remote: those the token's party is in or relays for)."""

    def add_party(self, party_id: str, name: str | None) -> str:
        """Add a party; its id."""
        ...

    def add_agreement(self, agreement: Agreement) -> str:
        """Add an agreement; its id."""
        ...

    def agreements(self) -> list[AgreementSummary]: ...

    def parties(self) -> list[tuple[str, str]]:
        """(id, name) of the parties (remote: those the token's party shares an agreement with,
        itself included; all of them with the admin scope)."""
        ...
