"""The API's documents: pydantic models of requests and responses, and records turned into them.

Volumes travel as GeoJSON Features (the ``deconflict detect`` format, see ``geo.geojson``); times
as RFC 3339 UTC strings; durations in seconds, distances in metres, as the field names say.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from deconflict import ranges
from deconflict.engine import Adjustment
from deconflict.geo import Volume4D
from deconflict.geo.geojson import feature
from deconflict.geo.units import epoch_to_rfc3339
from deconflict.hub import Filing
from deconflict.hub.pairs import PAIRS_LISTED
from deconflict.hub.views import ConflictView
from deconflict.model import Agreement, Notice, Plan
from deconflict.model.agreement_document import agreement_document
from deconflict.model.ids import ID_MAX, ID_PATTERN, TEXT_MAX, check_text
from deconflict.runtime.events import NotificationOut, notification_out, notifications_seen

__all__ = [
    "AgreementIn",
    "AgreementOut",
    "ConflictOut",
    "FeatureCollectionIn",
    "NoticeIn",
    "NoticeOut",
    "NoticePatch",
    "NotificationOut",
    "PartyIn",
    "PlanIn",
    "PlanOut",
    "agreement_out",
    "conflict_out",
    "notice_out",
    "notification_out",
    "notifications_seen",
    "plan_out",
]


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else epoch_to_rfc3339(seconds)


class FeatureCollectionIn(BaseModel):
    """Volumes as a GeoJSON FeatureCollection, one volume a Feature (see the README)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]] = Field(min_length=1, max_length=ranges.MAX_VOLUMES)


#: An id a party or operator chooses (``model.ids``): 1 to 64 of A-Z a-z 0-9 . _ ~ -.
ChosenId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=ID_MAX,
        pattern=ID_PATTERN,
        description="1 to 64 characters of A-Z a-z 0-9 . _ ~ -, starting with a letter or digit.",
    ),
]


def _text(value: str) -> str:
    return check_text(value, "the text")


#: Free text (a name, a category): 1 to 200 printable characters.
FreeText = Annotated[str, Field(min_length=1, max_length=TEXT_MAX), AfterValidator(_text)]


class NoticeIn(FeatureCollectionIn):
    """A notice to file: its volumes, with ``category`` (and an optional ``id``) beside them."""

    category: FreeText = "air-activity"
    id: ChosenId | None = Field(None, description="The notice's id, its party's own.")


class NoticePatch(BaseModel):
    """An amendment: a new category and/or new volumes (the others stay)."""

    model_config = ConfigDict(extra="forbid")

    category: FreeText | None = None
    features: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=ranges.MAX_VOLUMES)


class PlanIn(FeatureCollectionIn):
    """A private plan: its volumes, and an optional ``id``."""

    id: ChosenId | None = Field(None, description="The plan's id, its party's own.")


class PartyIn(BaseModel):
    id: ChosenId
    name: FreeText | None = None


class SeparationIn(BaseModel):
    """Separation minima, each within its accepted range (``deconflict.ranges``)."""

    model_config = ConfigDict(extra="forbid")

    horizontal_m: float = Field(default=0.0, ge=0, le=ranges.MAX_HORIZONTAL_M)
    vertical_m: float = Field(default=0.0, ge=0, le=ranges.MAX_VERTICAL_M)
    time_s: float = Field(default=0.0, ge=0, le=ranges.MAX_TIME_SEPARATION_S)


class SeparationOut(BaseModel):
    """Separation minima as stored: not bounded as intake is, so that an agreement accepted
    under wider ranges is still shown."""

    horizontal_m: float
    vertical_m: float
    time_s: float


class DisclosureIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: ChosenId = Field(alias="from")
    to: ChosenId
    level: Literal["full", "conflicts-only", "none"]


class UnlockIn(BaseModel):
    """Under "conflicts-only", which of a party's volumes disclose another's they meet."""

    model_config = ConfigDict(extra="forbid")

    max_area_m2: float = Field(default=5.0e10, gt=0, description="Largest footprint that unlocks.")
    max_duration_s: float = Field(
        default=172_800.0, gt=0, description="Longest window that unlocks."
    )
    plans: bool = Field(default=False, description="Whether a plan's volume unlocks at all.")


class ResolutionIn(BaseModel):
    """How finely a party is told of a conflict with a volume it may not see."""

    model_config = ConfigDict(extra="forbid")

    time_s: float = Field(default=900.0, gt=0)
    vertical_m: float = Field(default=150.0, gt=0)
    horizontal_m: float = Field(default=1_000.0, gt=0)


class AgreementIn(BaseModel):
    """An agreement, in the format of ``deconflict agreement add`` (the agreement document)."""

    model_config = ConfigDict(extra="forbid")

    id: ChosenId
    title: FreeText | None = None
    parties: list[ChosenId] = Field(min_length=2)
    relay: ChosenId | None = None
    min_lead_time_s: float = Field(0.0, ge=0, le=ranges.MAX_LEAD_TIME_S)
    ack_deadline_s: float = Field(3600.0, ge=0, le=ranges.MAX_ACK_DEADLINE_S)
    separation: SeparationIn = SeparationIn()
    disclosure: list[DisclosureIn] = []
    default_disclosure: Literal["full", "conflicts-only", "none"] = "conflicts-only"
    unlock: UnlockIn = Field(default_factory=UnlockIn)
    resolution: ResolutionIn = Field(default_factory=ResolutionIn)


class FilingOut(BaseModel):
    lead_time_s: float
    required_s: float
    late: bool
    shortfall_s: float


class NoticeOut(BaseModel):
    id: str
    party: str
    category: str
    #: null for another party's notice the caller sees only in part: its versions count
    #: changes to volumes the caller may not see (security.md §3.6)
    version: int | None
    state: str
    filed_at: str
    updated_at: str | None
    start: str
    end: str
    #: the volumes the caller may see (all for its own notices)
    volumes: dict[str, Any]
    filing: FilingOut | None = None


class PlanOut(BaseModel):
    id: str
    party: str
    version: int
    state: str
    created_at: str
    volumes: dict[str, Any]


class SideOut(BaseModel):
    party: str
    kind: str
    record_id: str | None
    volume_id: str | None
    version: int | None


class AdjustmentOut(BaseModel):
    kind: str
    delta: float
    description: str
    volume: dict[str, Any]


class SuggestionOut(BaseModel):
    record_id: str
    volume_id: str
    time: AdjustmentOut | None
    altitude: AdjustmentOut | None


class ConflictOut(BaseModel):
    id: str
    state: str
    mine: SideOut
    theirs: SideOut
    start: str
    end: str
    horizontal_m: float
    vertical_gap_m: float
    time_gap_s: float
    detected_at: str
    resolved_at: str | None
    lead_time_s: float
    suggestion: SuggestionOut | None = None
    more_pairs: bool = Field(
        False,
        description="The two records met in more pairs of volumes than their conflicts list"
        " when this one was found: a pair of records lists, for each volume of either, its"
        " pair that starts first and the one that ends last, then the earliest others up to"
        f" {PAIRS_LISTED}; clearing these lists the next.",
    )


class AgreementOut(BaseModel):
    id: str
    parties: list[str]
    relay: str | None
    min_lead_time_s: float
    ack_deadline_s: float
    separation: SeparationOut
    disclosure: list[dict[str, str]]
    default_disclosure: str
    unlock: UnlockIn
    resolution: ResolutionIn


def _collection(volumes: tuple[Volume4D, ...]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [feature(v) for v in volumes]}


def notice_out(notice: Notice, filing: Filing | None = None, *, whole: bool = True) -> NoticeOut:
    """``notice`` as the API shows it; ``whole``: whether the caller sees it whole (its own,
    or its owner's agreements disclose it all), else without a version."""
    lead = filing.lead if filing is not None else None
    return NoticeOut(
        id=notice.id,
        party=notice.party,
        category=notice.category,
        version=notice.version if whole else None,
        state=str(notice.state),
        filed_at=epoch_to_rfc3339(notice.filed_at_s),
        updated_at=_time(notice.updated_at_s),
        start=epoch_to_rfc3339(notice.start_s),
        end=epoch_to_rfc3339(notice.end_s),
        volumes=_collection(notice.volumes),
        filing=None
        if lead is None
        else FilingOut(
            lead_time_s=lead.lead_time_s,
            required_s=lead.required_s,
            late=lead.late,
            shortfall_s=lead.shortfall_s,
        ),
    )


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        id=plan.id,
        party=plan.party,
        version=plan.version,
        state=str(plan.state),
        created_at=epoch_to_rfc3339(plan.created_at_s),
        volumes=_collection(plan.volumes),
    )


def _adjustment(adjustment: Adjustment | None) -> AdjustmentOut | None:
    if adjustment is None:
        return None
    return AdjustmentOut(
        kind=str(adjustment.kind),
        delta=adjustment.delta,
        description=adjustment.describe(),
        volume=feature(adjustment.volume),
    )


def conflict_out(view: ConflictView) -> ConflictOut:
    """A party's view of a conflict (``hub.views``) as the API shows it."""
    mine, theirs, detail, suggestion = view.mine, view.theirs, view.detail, view.suggestion
    return ConflictOut(
        id=view.id,
        state=str(view.state),
        mine=SideOut(
            party=mine.party,
            kind=str(mine.kind),
            record_id=mine.record_id,
            volume_id=mine.volume_id,
            version=mine.version,
        ),
        theirs=SideOut(
            party=theirs.party,
            kind=str(theirs.kind),
            record_id=theirs.record_id,
            volume_id=theirs.volume_id,
            version=theirs.version,
        ),
        start=epoch_to_rfc3339(detail.start_s),
        end=epoch_to_rfc3339(detail.end_s),
        horizontal_m=detail.horizontal_m,
        vertical_gap_m=detail.vertical_gap_m,
        time_gap_s=detail.time_gap_s,
        detected_at=epoch_to_rfc3339(view.detected_at_s),
        resolved_at=_time(view.resolved_at_s),
        lead_time_s=view.lead_time_s,
        more_pairs=view.more_pairs,
        suggestion=None
        if suggestion is None
        else SuggestionOut(
            record_id=suggestion.record_id,
            volume_id=suggestion.volume_id,
            time=_adjustment(suggestion.time),
            altitude=_adjustment(suggestion.altitude),
        ),
    )


def agreement_out(agreement: Agreement) -> AgreementOut:
    return AgreementOut.model_validate(agreement_document(agreement))
