"""What a demo scenario is, once read: frozen, validated steps, and what the runner should find.

A scenario is a week of simulated time told as steps, each at a time on the simulated clock and
with one action. It owns no behaviour: the runner (:mod:`deconflict.demo.runner`) feeds the steps
to the hub in order and matches on each step's type. Reading a scenario file into these types is
:mod:`deconflict.demo.scenario_document`'s work (its JSON schema, its errors); here is only what
the runner, the outcome and the report use.

A step whose document is its value (a party, an acknowledgement, an adjustment, the clock moving,
a note, the expectations) is the pydantic model that reads it, built on :class:`Doc`; the others
are frozen dataclasses built from theirs: a notice's volumes with :meth:`Volume4D.build`, an
agreement by :mod:`deconflict.model.agreement_document`, a cancel's target resolved.

Disclosure levels are :class:`deconflict.model.Disclosure`'s: ``none`` (nothing),
``conflicts-only`` (only the volumes that conflict with the recipient's own activity) and ``full``
(every volume and time of the notice; a notice holds nothing else to disclose). A direction not
listed gets the model's default, ``conflicts-only``. Plans are private at every level.
Not acknowledging is expressed by leaving the ``acknowledge`` step out. ``expect`` is
what the runner should find (see :class:`Expectations`); tests check it against the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator

from deconflict.geo import Volume4D
from deconflict.geo.units import parse_rfc3339
from deconflict.model import Agreement

__all__ = [
    "CATEGORIES",
    "Acknowledge",
    "AddAgreement",
    "AddParty",
    "AddPlan",
    "AdjustPlan",
    "Advance",
    "Cancel",
    "Expectations",
    "ExpectedAdjustment",
    "ExpectedConflict",
    "ExpectedEscalation",
    "ExpectedLateNotice",
    "FileNotice",
    "Note",
    "Notice",
    "Party",
    "Plan",
    "Scenario",
    "Step",
]

#: Airspace categories a notice or plan may carry.
Category = Literal["air-activity", "cruise-missile-transit", "bomber-route", "hazard-area"]
CATEGORIES: tuple[str, ...] = get_args(Category)
Strategy = Literal["time", "altitude"]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


# The document's building blocks, shared with deconflict.demo.scenario_document.

#: A string with something in it (an id, a name, a line of the timeline).
Text = Annotated[str, AfterValidator(_not_blank)]
#: An RFC 3339 time in the document, seconds since the epoch once read.
Time = Annotated[float, PlainValidator(parse_rfc3339)]


class Doc(BaseModel):
    """A part of the scenario document: JSON's own types (no ``"5"`` for 5, no NaN), no field
    the schema does not name, and frozen like the steps it becomes."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Party(Doc):
    """A party as the document gives it: its document is its value."""

    id: Text
    name: Text
    role: Text


class ExpectedConflict(Doc):
    volumes: Annotated[tuple[Text, Text], Field(strict=False)]  # a JSON list of two
    detected_at_s: Time = Field(alias="detected_at")
    starts_s: Time = Field(alias="starts")
    lead_time_s: float


class ExpectedAdjustment(Doc):
    plan: Text
    volume: Text
    strategy: Strategy
    delta: float


class ExpectedLateNotice(Doc):
    notice: Text
    lead_time_s: float
    required_s: float


class ExpectedEscalation(Doc):
    recipient: Text
    notice: Text
    deadline_s: Time = Field(alias="deadline")


class Expectations(Doc):
    """What the runner should find; each part may be left out. (Tuples read from JSON lists.)"""

    conflicts: Annotated[tuple[ExpectedConflict, ...], Field(strict=False)] = ()
    adjustments: Annotated[tuple[ExpectedAdjustment, ...], Field(strict=False)] = ()
    late_notices: Annotated[tuple[ExpectedLateNotice, ...], Field(strict=False)] = ()
    escalations: Annotated[tuple[ExpectedEscalation, ...], Field(strict=False)] = ()
    unchanged_plans: Annotated[tuple[Text, ...], Field(strict=False)] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    id: str
    party: str
    agreement: str
    category: str
    volumes: tuple[Volume4D, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    party: str
    category: str
    volumes: tuple[Volume4D, ...]


class Timed(Doc):
    """A step as the document gives it: a time and an action (which picks the model)."""

    at_s: Time = Field(alias="at")


class AddParty(Timed):
    action: Literal["add-party"]
    party: Party


@dataclass(frozen=True, slots=True)
class AddAgreement:
    """An agreement, read as the CLI and the API read one (``model.agreement_document``), and
    the title the report gives it."""

    at_s: float
    agreement: Agreement
    title: str = ""


@dataclass(frozen=True, slots=True)
class FileNotice:
    at_s: float
    notice: Notice


@dataclass(frozen=True, slots=True)
class AddPlan:
    at_s: float
    plan: Plan


class Acknowledge(Timed):
    """``by`` acknowledges every notification it has pending about notice ``notice``."""

    action: Literal["acknowledge"]
    by: Text
    notice: Text


class AdjustPlan(Timed):
    """``by`` asks the engine for the smallest change of ``strategy`` that clears ``plan``."""

    action: Literal["adjust-plan"]
    by: Text
    plan: Text
    strategy: Strategy


@dataclass(frozen=True, slots=True)
class Cancel:
    """``by`` cancels its notice or plan ``target`` (``kind`` is "notice" or "plan")."""

    at_s: float
    by: str
    kind: str
    target: str


class Advance(Timed):
    """The clock moves to ``at_s``; deadlines that passed are acted on."""

    action: Literal["advance"]
    text: Text = ""


class Note(Timed):
    """Context for the timeline; changes nothing."""

    action: Literal["note"]
    text: Text


#: One step of a scenario; the runner matches on its type.
Step = (
    AddParty
    | AddAgreement
    | FileNotice
    | AddPlan
    | Acknowledge
    | AdjustPlan
    | Cancel
    | Advance
    | Note
)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    start_s: float
    end_s: float
    sources: tuple[str, ...]
    notes: tuple[str, ...]
    steps: tuple[Step, ...]
    expect: Expectations

    @property
    def parties(self) -> tuple[Party, ...]:
        return tuple(s.party for s in self.steps if isinstance(s, AddParty))

    @property
    def agreements(self) -> tuple[Agreement, ...]:
        return tuple(s.agreement for s in self.steps if isinstance(s, AddAgreement))

    @property
    def agreement_titles(self) -> dict[str, str]:
        return {s.agreement.id: s.title for s in self.steps if isinstance(s, AddAgreement)}

    @property
    def notices(self) -> tuple[Notice, ...]:
        return tuple(s.notice for s in self.steps if isinstance(s, FileNotice))

    @property
    def plans(self) -> tuple[Plan, ...]:
        return tuple(s.plan for s in self.steps if isinstance(s, AddPlan))
