"""The scenario file: its JSON schema, and reading a file into a :class:`Scenario`.

Reading checks everything that can be checked without a hub (types, times, geometry, references
between steps) so that a bad file fails here, with :class:`~deconflict.errors.InvalidDocument`
naming the file and the field (``raqqa-2015.json: steps[12].notice.volumes[0].footprint.radius_m:
...``). What it reads into, the steps the runner plays, is :mod:`deconflict.demo.scenario`.

Schema (``"schema": "deconflict.scenario/1"``); times are RFC 3339 UTC strings, lengths metres,
durations seconds, altitudes metres above the WGS84 ellipsoid::

    {"schema", "name", "title", "clock": {"start", "end"}, "sources": [str], "notes": [str],
     "steps": [step], "expect": {...}}

    step = {"at": time, "action": one of:
      "add-party"      "party": {"id", "name", "role": "air-force" | "relay" | ...}
      "add-agreement"  "agreement": an agreement document, as `deconflict agreement add` reads
                        (``model.agreement_document``), with a "title" for the report
      "file-notice"    "by": party, "notice": {"id", "agreement", "category", "volumes": [volume]}
      "add-plan"       "by": party, "plan": {"id", "category", "volumes": [volume]}
      "acknowledge"    "by": party, "notice": id   (every pending notification about it)
      "adjust-plan"    "by": party, "plan": id, "strategy": "time" | "altitude"
      "cancel"         "by": party, "notice": id | "plan": id
      "advance"        "text"?   (the clock moves on; deadlines that passed are acted on)
      "note"           "text"    (context for the timeline; changes nothing)}

    volume = {"id", "footprint", "lower_m", "upper_m", "start", "end"}
    footprint = {"type": "circle", "centre": [lon, lat], "radius_m"}
              | {"type": "corridor", "path": [[lon, lat], ...], "half_width_m"}
              | {"type": "polygon", "ring": [[lon, lat], ...]}

The document is read by pydantic models (:class:`~deconflict.demo.scenario.Doc` and its kin) in
strict mode: JSON's own types only (``"5"`` is not a number), and a field the schema does not name
is refused rather than ignored, so that a misspelt ``"lower_mm"`` cannot pass unnoticed.
pydantic's complaints are turned into the project's ``<file>: <field path>: <fault>`` by
:func:`_path`. What pydantic cannot know (the references between steps, the geometry) is checked
after it, in step order, by :class:`_Checker`. The models of the steps whose document is their
value live with the other steps in :mod:`deconflict.demo.scenario`; the models here are those of
the parts built into something else (a footprint, a volume, a notice, a plan, an agreement, a
cancel) and of the file as a whole.
"""

from __future__ import annotations

import json
import reprlib
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, NoReturn, get_args

from pydantic import ConfigDict, Field, ValidationError

from deconflict.demo.scenario import (
    Acknowledge,
    AddAgreement,
    AddParty,
    AddPlan,
    AdjustPlan,
    Advance,
    Cancel,
    Category,
    Doc,
    Expectations,
    FileNotice,
    Note,
    Notice,
    Party,
    Plan,
    Scenario,
    Step,
    Text,
    Time,
    Timed,
)
from deconflict.errors import InvalidDocument, InvalidInput
from deconflict.geo import Circle, Corridor, Footprint, Polygon, Volume4D
from deconflict.model import Agreement, check_agreement_accepted
from deconflict.model.agreement_document import agreement_from_document

__all__ = ["DEFAULT_SCENARIO", "SCHEMA", "load_scenario", "parse_scenario"]

SCHEMA = "deconflict.scenario/1"
#: The scenario that ships with the package.
DEFAULT_SCENARIO = "raqqa-2015.json"


# The document ----------------------------------------------------------------------------------


class _CircleDoc(Doc):
    type: Literal["circle"]
    centre: list[float]
    radius_m: float

    def build(self) -> Footprint:
        return Circle(self.centre, self.radius_m)


class _CorridorDoc(Doc):
    type: Literal["corridor"]
    path: list[list[float]]
    half_width_m: float

    def build(self) -> Footprint:
        return Corridor(self.path, self.half_width_m)


class _PolygonDoc(Doc):
    type: Literal["polygon"]
    ring: list[list[float]]

    def build(self) -> Footprint:
        return Polygon(self.ring)


_FootprintDoc = Annotated[_CircleDoc | _CorridorDoc | _PolygonDoc, Field(discriminator="type")]


class _VolumeDoc(Doc):
    id: Text
    footprint: _FootprintDoc
    lower_m: float
    upper_m: float
    start: Time
    end: Time


class _PlanDoc(Doc):
    id: Text
    category: Category
    volumes: list[_VolumeDoc] = Field(min_length=1)


class _NoticeDoc(_PlanDoc):
    agreement: Text


class _AgreementDoc(Doc):
    """An agreement document: ``model.agreement_document`` reads (and checks) its terms; only
    the title, for the report, is the scenario's own."""

    model_config = ConfigDict(extra="allow")

    title: Text = ""


class _AddAgreementDoc(Timed):
    action: Literal["add-agreement"]
    agreement: _AgreementDoc


class _FileNoticeDoc(Timed):
    action: Literal["file-notice"]
    by: Text
    notice: _NoticeDoc


class _AddPlanDoc(Timed):
    action: Literal["add-plan"]
    by: Text
    plan: _PlanDoc


class _CancelDoc(Timed):
    action: Literal["cancel"]
    by: Text
    notice: Text | None = None
    plan: Text | None = None


_StepDoc = Annotated[
    AddParty
    | _AddAgreementDoc
    | _FileNoticeDoc
    | _AddPlanDoc
    | Acknowledge
    | AdjustPlan
    | _CancelDoc
    | Advance
    | Note,
    Field(discriminator="action"),
]


class _Clock(Doc):
    start: Time
    end: Time


class _ScenarioDoc(Doc):
    schema_: Literal["deconflict.scenario/1"] = Field(alias="schema")
    name: Text
    title: Text = ""
    clock: _Clock
    sources: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    steps: list[_StepDoc]
    expect: Expectations = Expectations()


# Where a fault is ------------------------------------------------------------------------------

#: A location: the keys and indexes from the top of the document to a field.
_Loc = Sequence[str | int]

#: The values that pick a step's model (its action) or a footprint's (its type). pydantic puts
#: the one it picked into an error's location, where the document has no such level.
_TAGS = frozenset(
    tag
    for union, key in ((_StepDoc, "action"), (_FootprintDoc, "type"))
    for model in get_args(get_args(union)[0])
    for tag in get_args(model.model_fields[key].annotation)
)


def _path(loc: _Loc) -> str:
    """A location as the document's field path (``steps[12].notice.volumes[0].lower_m``); the
    last part is always kept, as an unknown field may have any name, a tag's too."""
    path = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _TAGS or i == len(loc) - 1:
            path += f".{part}" if path else part
    return path


def _fail(source: str, loc: _Loc, message: str) -> NoReturn:
    raise InvalidDocument(f"{source}: {_path(loc) or '(top level)'}: {message}")


#: pydantic's commonest complaints in JSON's words, not Python's ("a valid dictionary or instance
#: of _ScenarioDoc", "a valid tuple"), as the agreement document says them.
_SAID = {
    "missing": "is missing",
    "extra_forbidden": "unknown field",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "literal_error": "must be {expected}",
}


def _refuse(source: str, error: ValidationError) -> NoReturn:
    """pydantic's first complaint, said as the loader's own: the file, the field, the fault."""
    first = error.errors(include_url=False)[0]
    loc, context = first["loc"], first.get("ctx", {})
    message = _SAID[first["type"]].format_map(context) if first["type"] in _SAID else first["msg"]
    if first["type"] == "float_type" and type(first["input"]) is int:  # no float holds it
        message = "is too large for a number"
    elif first["type"] == "value_error":  # one of ours (a time, a blank text): its words alone
        message = str(context["error"])
    elif first["type"].startswith("union_tag_"):  # pydantic names the step; the fault is its tag
        loc = (*loc, context["discriminator"].strip("'"))
        message = (
            f"must be one of {context['expected_tags']}; got {reprlib.repr(context['tag'])}"
            if "tag" in context
            else _SAID["missing"]
        )
    _fail(source, loc, message)


# References between steps ---------------------------------------------------------------------


class _Checker:
    """What pydantic cannot check: who exists and who owns what, in step order, and that the
    volumes are volumes (built with the project's own geometry)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.parties: dict[str, Party] = {}
        self.agreements: dict[str, Agreement] = {}
        self.notices: dict[str, Notice] = {}
        self.plans: dict[str, Plan] = {}
        self.volume_ids: set[str] = set()

    def fail(self, loc: _Loc, message: str) -> NoReturn:
        _fail(self.source, loc, message)

    def party(self, party: str, loc: _Loc) -> str:
        if party not in self.parties:
            self.fail(loc, f"unknown party {party!r} (add it with an add-party step first)")
        return party

    def record(self, kind: str, target: str, loc: _Loc) -> Notice | Plan:
        table: Mapping[str, Notice | Plan] = self.notices if kind == "notice" else self.plans
        if target not in table:
            self.fail(loc, f"unknown {kind} {target!r}")
        return table[target]

    def own(self, kind: str, target: str, by: str, loc: _Loc) -> str:
        owner = self.record(kind, target, loc).party
        if owner != by:
            self.fail(loc, f"{kind} {target!r} belongs to {owner}, not {by}")
        return target

    def volumes(self, volumes: list[_VolumeDoc], loc: _Loc) -> tuple[Volume4D, ...]:
        built = []
        for i, v in enumerate(volumes):
            if v.id in self.volume_ids:
                self.fail((*loc, i, "id"), f"volume id {v.id!r} is used twice")
            self.volume_ids.add(v.id)
            try:
                built.append(
                    Volume4D.build(v.id, v.footprint.build, v.lower_m, v.upper_m, v.start, v.end)
                )
            except InvalidInput as error:
                self.fail((*loc, i), str(error))
        return tuple(built)

    def agreement(self, doc: _AgreementDoc, loc: _Loc) -> Agreement:
        """The step's agreement document, read as ``deconflict agreement add`` and
        ``POST /v1/agreements`` read one, within the ranges intake accepts."""
        try:
            terms = agreement_from_document(doc.model_dump(), self.source, tuple(loc))
            check_agreement_accepted(terms)
        except InvalidDocument:
            raise  # it names the file and the field already
        except InvalidInput as error:
            self.fail(loc, str(error))
        members: list[tuple[_Loc, str]] = [(("parties", i), p) for i, p in enumerate(terms.parties)]
        if terms.relay is not None:
            members.append((("relay",), terms.relay))
        for field, member in members:
            self.party(member, (*loc, *field))
        if terms.id in self.agreements:
            self.fail((*loc, "id"), f"agreement {terms.id!r} is added twice")
        self.agreements[terms.id] = terms
        return terms

    def notice(self, doc: _NoticeDoc, by: str, loc: _Loc) -> Notice:
        if doc.agreement not in self.agreements:
            self.fail((*loc, "agreement"), f"unknown agreement {doc.agreement!r}")
        if by not in self.agreements[doc.agreement].parties:
            self.fail((*loc, "agreement"), f"{by} is not a party to {doc.agreement}")
        notice = Notice(doc.id, by, doc.agreement, doc.category, self.new(doc, loc))
        self.notices[doc.id] = notice
        return notice

    def plan(self, doc: _PlanDoc, by: str, loc: _Loc) -> Plan:
        plan = Plan(doc.id, by, doc.category, self.new(doc, loc))
        self.plans[doc.id] = plan
        return plan

    def new(self, doc: _PlanDoc, loc: _Loc) -> tuple[Volume4D, ...]:
        """The volumes of a new notice or plan, whose id no other has."""
        if doc.id in self.notices or doc.id in self.plans:
            self.fail((*loc, "id"), f"id {doc.id!r} is used twice")
        return self.volumes(doc.volumes, (*loc, "volumes"))

    def step(self, doc: _StepDoc, loc: _Loc) -> Step:
        match doc:
            case AddParty(party=party):
                if party.id in self.parties:
                    self.fail((*loc, "party", "id"), f"party {party.id!r} is added twice")
                self.parties[party.id] = party
            case _AddAgreementDoc(agreement=agreement):
                terms = self.agreement(agreement, (*loc, "agreement"))
                return AddAgreement(doc.at_s, terms, agreement.title)
            case _FileNoticeDoc(by=by, notice=notice):
                self.party(by, (*loc, "by"))
                return FileNotice(doc.at_s, self.notice(notice, by, (*loc, "notice")))
            case _AddPlanDoc(by=by, plan=plan):
                self.party(by, (*loc, "by"))
                return AddPlan(doc.at_s, self.plan(plan, by, (*loc, "plan")))
            case Acknowledge(by=by, notice=notice_id):
                self.party(by, (*loc, "by"))
                if self.record("notice", notice_id, (*loc, "notice")).party == by:
                    self.fail(
                        (*loc, "by"),
                        f"{by} filed {notice_id!r}: a party does not acknowledge its own notice",
                    )
            case AdjustPlan(by=by, plan=plan_id):
                self.party(by, (*loc, "by"))
                self.own("plan", plan_id, by, (*loc, "plan"))
            case _CancelDoc():
                return self.cancel(doc, loc)
        return doc  # its document is its value

    def cancel(self, doc: _CancelDoc, loc: _Loc) -> Cancel:
        """A party cancels its own notice or plan: the step names exactly one."""
        self.party(doc.by, (*loc, "by"))
        named = [(k, t) for k, t in (("notice", doc.notice), ("plan", doc.plan)) if t is not None]
        if len(named) != 1:
            self.fail(loc, "names the notice or the plan to cancel: give exactly one")
        [(kind, target)] = named
        self.own(kind, target, doc.by, (*loc, kind))
        return Cancel(doc.at_s, doc.by, kind, target)


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    """Validate a decoded scenario document; ``source`` names it in error messages."""
    try:
        doc = _ScenarioDoc.model_validate(data)
    except ValidationError as error:
        _refuse(source, error)
    start, end = doc.clock.start, doc.clock.end
    if end <= start:
        _fail(source, ("clock", "end"), "must be after start")
    checker = _Checker(source)
    steps: list[Step] = []
    previous = start
    for i, step in enumerate(doc.steps):
        if not start <= step.at_s <= end:
            _fail(source, ("steps", i, "at"), "is outside the scenario clock")
        if step.at_s < previous:
            _fail(source, ("steps", i, "at"), "goes back in time: steps must be in time order")
        previous = step.at_s
        steps.append(checker.step(step, ("steps", i)))
    return Scenario(
        name=doc.name,
        title=doc.title,
        start_s=start,
        end_s=end,
        sources=tuple(doc.sources),
        notes=tuple(doc.notes),
        steps=tuple(steps),
        expect=doc.expect,
    )


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load and validate a scenario file; without ``path``, the packaged Raqqa 2015 week."""
    if path is None:
        resource = resources.files("deconflict.demo").joinpath("scenario", DEFAULT_SCENARIO)
        text, source = resource.read_text(encoding="utf-8"), DEFAULT_SCENARIO
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise InvalidDocument(f"{source}: cannot be read: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidDocument(
            f"{source}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except ValueError:  # an integer of thousands of digits, which Python will not read
        raise InvalidDocument(
            f"{source}: a number has more than {sys.get_int_max_str_digits()} digits"
        ) from None
    except RecursionError:  # lists or objects nested thousands deep
        raise InvalidDocument(f"{source}: nested too deep to read") from None
    return parse_scenario(data, source)
