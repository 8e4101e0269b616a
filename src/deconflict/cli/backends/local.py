"""The backend over a hub database (``--db``), acting as the party named by ``--as``.

Each call opens the hub (the database is created and migrated on first use), does one thing,
then runs the detector and the clock-driven checks, as the service does between requests, so
what the next command prints is up to date. What the party is shown of others' records, and which
records it may act on, come from ``hub.views``, as the API's do: the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from deconflict.cli.backends.base import (
    AgreementSummary,
    ConflictSummary,
    Filed,
    NoticeSummary,
    NotificationSummary,
    PlanSummary,
    features_of,
)
from deconflict.cli.common import geo_limits
from deconflict.errors import InvalidInput
from deconflict.geo import Volume4D
from deconflict.geo.geojson import parse_feature_collection
from deconflict.hub import Hub
from deconflict.hub.views import (
    ConflictView,
    own_notice,
    own_notification,
    view_conflicts,
    view_notifications,
)
from deconflict.model import Agreement, NoticeState, Plan

__all__ = ["LocalBackend", "LocalRegistry", "hub_session"]


@contextmanager
def hub_session(db: str) -> Iterator[Hub]:
    """The hub on ``db`` for one command; once it is done, the detector and the clock run."""
    with Hub.open(db) as hub:
        yield hub
        hub.tick()
        hub.process()


class LocalBackend:
    """Party ``party``'s view of the hub database ``db``."""

    def __init__(self, db: str, party: str) -> None:
        self._db = db
        self._party = party

    def _volumes(self, collection: object, source: Path) -> list[Volume4D]:
        document = {"type": "FeatureCollection", "features": features_of(collection, source)}
        parsed = parse_feature_collection(document, geo_limits(), default_party=self._party)
        for item in parsed:
            if item.party != self._party:
                raise InvalidInput(
                    f"volume {item.volume.id!r} belongs to party {item.party!r}, "
                    f"not {self._party!r}"
                )
        return [item.volume for item in parsed]

    def file_notice(
        self, collection: object, source: Path, category: str, notice_id: str | None
    ) -> Filed:
        volumes = self._volumes(collection, source)
        with hub_session(self._db) as hub:
            filing = hub.file_notice(self._party, volumes, category, notice_id)
        return Filed(filing.notice.id, filing.notice.version, filing.lead)

    def list_notices(self, states: Sequence[NoticeState]) -> list[NoticeSummary]:
        with hub_session(self._db) as hub:
            found = hub.list_notices(self._party, states=states or None)
            whole = {o for o in {n.party for n in found} if hub.sees_whole(self._party, o)}
        return [
            NoticeSummary(
                id=n.id,
                party=n.party,
                category=n.category,
                version=n.version if n.party in whole else None,  # None: seen in part
                state=str(n.state),
                volumes=len(n.volumes),
                start_s=n.start_s,
                end_s=n.end_s,
            )
            for n in found
        ]

    def cancel_notice(self, notice_id: str) -> str:
        with hub_session(self._db) as hub:
            own_notice(hub, self._party, notice_id)
            return hub.cancel_notice(self._party, notice_id).id

    def add_plan(self, collection: object, source: Path, plan_id: str | None) -> PlanSummary:
        volumes = self._volumes(collection, source)
        with hub_session(self._db) as hub:
            plan = hub.add_plan(self._party, volumes, plan_id)
        return _plan(plan)

    def list_plans(self) -> list[PlanSummary]:
        with hub_session(self._db) as hub:
            return [_plan(plan) for plan in hub.list_plans(self._party)]

    def amend_plan(
        self, plan_id: str, collection: object, source: Path, version: int | None
    ) -> PlanSummary:
        volumes = self._volumes(collection, source)
        with hub_session(self._db) as hub:
            if version is None:
                version = hub.get_plan(self._party, plan_id).version
            return _plan(hub.amend_plan(self._party, plan_id, version, volumes))

    def withdraw_plan(self, plan_id: str) -> PlanSummary:
        with hub_session(self._db) as hub:
            return _plan(hub.withdraw_plan(self._party, plan_id))

    def conflicts(self, open_only: bool) -> list[ConflictSummary]:
        with hub_session(self._db) as hub:
            found = hub.list_conflicts(self._party, open_only=open_only)
            return [_conflict(view) for view in view_conflicts(hub, self._party, found)]

    def notifications(self) -> list[NotificationSummary]:
        with hub_session(self._db) as hub:
            hub.deliver(self._party)
            # its own and those relayed through it, as it may see them
            found = view_notifications(hub, self._party, hub.list_notifications(self._party))
        return [
            NotificationSummary(
                id=n.id,
                kind=str(n.kind),
                state=str(n.state),
                notice_id=n.notice_id,
                conflict_id=n.conflict_id,
                via=n.via,
                lead_time_s=n.lead_time_s,
                ack_deadline_s=n.ack_deadline_s,
            )
            for n in found
        ]

    def acknowledge(self, notification_id: str) -> str:
        with hub_session(self._db) as hub:
            own_notification(hub, self._party, notification_id)
            return hub.acknowledge(self._party, notification_id).id


class LocalRegistry:
    """The parties and agreements of the hub database ``db`` (every agreement is listed)."""

    def __init__(self, db: str) -> None:
        self._db = db

    def add_party(self, party_id: str, name: str | None) -> str:
        with hub_session(self._db) as hub:
            return hub.add_party(party_id, name).id

    def add_agreement(self, agreement: Agreement) -> str:
        with hub_session(self._db) as hub:
            return hub.add_agreement(agreement).id

    def parties(self) -> list[tuple[str, str]]:
        with hub_session(self._db) as hub:
            return [(p.id, p.name) for p in hub.list_parties()]

    def agreements(self) -> list[AgreementSummary]:
        with hub_session(self._db) as hub:
            found = hub.list_agreements()
        return [
            AgreementSummary(a.id, a.parties, a.relay, a.min_lead_time_s, a.ack_deadline_s)
            for a in found
        ]


def _conflict(view: ConflictView) -> ConflictSummary:
    found = (view.suggestion.time, view.suggestion.altitude) if view.suggestion else ()
    return ConflictSummary(
        id=view.id,
        state=str(view.state),
        mine=view.mine.volume_id,
        theirs_party=view.theirs.party,
        theirs_volume=view.theirs.volume_id,
        start_s=view.detail.start_s,
        lead_time_s=view.lead_time_s,
        adjustments=tuple(a.describe() for a in found if a),
        more_pairs=view.more_pairs,
    )


def _plan(plan: Plan) -> PlanSummary:
    return PlanSummary(plan.id, len(plan.volumes), plan.version, str(plan.state))
