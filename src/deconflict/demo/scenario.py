"""Demo scenarios: the JSON schema, and loading a file into frozen, validated steps.

A scenario is a week of simulated time told as steps, each at a time on the simulated clock and
with one action. It owns no behaviour: the runner feeds the steps to the hub in order. Loading
checks everything that can be checked without a hub (types, times, geometry, references between
steps) so that a bad file fails here, with :class:`~deconflict.errors.InvalidDocument` naming the
file and the field (``raqqa-2015.json: steps[12].notice.volumes[0].footprint.radius_m: ...``).

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

Disclosure levels are :class:`deconflict.model.Disclosure`'s: ``none`` (nothing),
``conflicts-only`` (only the volumes that conflict with the recipient's own activity) and ``full``
(every volume and time of the notice; a notice holds nothing else to disclose). A direction not
listed gets the model's default, ``conflicts-only``. Plans are private at every level.
Not acknowledging is expressed by leaving the ``acknowledge`` step out. ``expect`` is
what the runner should find (see :class:`Expectations`); tests check it against the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deconflict.demo.docreader import Reader
from deconflict.errors import InvalidDocument, InvalidInput
from deconflict.geo import Circle, Corridor, Footprint, Polygon, Volume4D
from deconflict.model import Agreement, check_agreement_accepted
from deconflict.model import Disclosure as ModelDisclosure
from deconflict.model.agreement_document import agreement_from_document

__all__ = [
    "CATEGORIES",
    "DISCLOSURE_LEVELS",
    "SCHEMA",
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
    "load_scenario",
    "parse_scenario",
]

SCHEMA = "deconflict.scenario/1"
#: Airspace categories a notice or plan may carry.
CATEGORIES = ("air-activity", "cruise-missile-transit", "bomber-route", "hazard-area")
DISCLOSURE_LEVELS = tuple(level.value for level in ModelDisclosure)
STRATEGIES = ("time", "altitude")
#: The scenario that ships with the package.
DEFAULT_SCENARIO = "raqqa-2015.json"


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    role: str


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


@dataclass(frozen=True, slots=True)
class AddParty:
    at_s: float
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


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """``by`` acknowledges every notification it has pending about notice ``notice``."""

    at_s: float
    by: str
    notice: str


@dataclass(frozen=True, slots=True)
class AdjustPlan:
    """``by`` asks the engine for the smallest change of ``strategy`` that clears ``plan``."""

    at_s: float
    by: str
    plan: str
    strategy: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """``by`` cancels its notice or plan ``target`` (``kind`` is "notice" or "plan")."""

    at_s: float
    by: str
    kind: str
    target: str


@dataclass(frozen=True, slots=True)
class Advance:
    """The clock moves to ``at_s``; deadlines that passed are acted on."""

    at_s: float
    text: str


@dataclass(frozen=True, slots=True)
class Note:
    """Context for the timeline; changes nothing."""

    at_s: float
    text: str


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
class ExpectedConflict:
    volumes: tuple[str, str]
    detected_at_s: float
    starts_s: float
    lead_time_s: float


@dataclass(frozen=True, slots=True)
class ExpectedAdjustment:
    plan: str
    volume: str
    strategy: str
    delta: float


@dataclass(frozen=True, slots=True)
class ExpectedLateNotice:
    notice: str
    lead_time_s: float
    required_s: float


@dataclass(frozen=True, slots=True)
class ExpectedEscalation:
    recipient: str
    notice: str
    deadline_s: float


@dataclass(frozen=True, slots=True)
class Expectations:
    conflicts: tuple[ExpectedConflict, ...] = ()
    adjustments: tuple[ExpectedAdjustment, ...] = ()
    late_notices: tuple[ExpectedLateNotice, ...] = ()
    escalations: tuple[ExpectedEscalation, ...] = ()
    unchanged_plans: tuple[str, ...] = ()


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


def _footprint(r: Reader) -> Callable[[], Footprint]:
    kind = r.choice("type", ("circle", "corridor", "polygon"))
    if kind == "circle":
        centre, radius = r.raw("centre"), r.number("radius_m")
        return lambda: Circle(centre, radius)
    if kind == "corridor":
        path, width = r.raw("path"), r.number("half_width_m")
        return lambda: Corridor(path, width)
    ring = r.raw("ring")
    return lambda: Polygon(ring)


def _volume(r: Reader) -> Volume4D:
    volume_id = r.text("id")
    build = _footprint(r.child("footprint"))
    lower, upper = r.number("lower_m"), r.number("upper_m")
    start, end = r.time("start"), r.time("end")
    try:
        return Volume4D.build(volume_id, build, lower, upper, start, end)
    except InvalidInput as error:
        r.fail(str(error))


def _volumes(r: Reader) -> tuple[Volume4D, ...]:
    volumes = tuple(_volume(v) for v in r.children("volumes"))
    if not volumes:
        r.fail("needs at least one volume", "volumes")
    return volumes


def _agreement(r: Reader) -> tuple[Agreement, str]:
    """The step's agreement document, in the format of ``deconflict agreement add`` and
    ``POST /v1/agreements`` (:mod:`deconflict.model.agreement_document`), within the ranges
    intake accepts; and its title."""
    try:
        agreement = agreement_from_document(r.data, r.source, r.path)
        check_agreement_accepted(agreement)
    except InvalidDocument:
        raise  # it names the file and the step already
    except InvalidInput as error:
        r.fail(str(error))
    return agreement, r.optional_text("title")


class _Checker:
    """The references between steps: who exists, and who owns what."""

    def __init__(self) -> None:
        self.parties: dict[str, Party] = {}
        self.agreements: dict[str, Agreement] = {}
        self.notices: dict[str, Notice] = {}
        self.plans: dict[str, Plan] = {}
        self.volume_ids: set[str] = set()

    def party(self, r: Reader, name: str) -> str:
        party = r.text(name)
        if party not in self.parties:
            r.fail(f"unknown party {party!r} (add it with an add-party step first)", name)
        return party

    def owned(self, r: Reader, name: str, table: Mapping[str, Notice | Plan], by: str) -> str:
        target = r.text(name)
        if target not in table:
            r.fail(f"unknown {name} {target!r}", name)
        if isinstance(table[target], Plan) and table[target].party != by:
            r.fail(f"{name} {target!r} belongs to {table[target].party}, not {by}", name)
        return target

    def new_volumes(self, r: Reader, volumes: tuple[Volume4D, ...]) -> None:
        for i, volume in enumerate(volumes):
            if volume.id in self.volume_ids:
                r.fail(f"volume id {volume.id!r} is used twice", f"volumes[{i}].id")
            self.volume_ids.add(volume.id)

    def step(self, r: Reader, at: float) -> Step:
        action = r.text("action")
        if action == "add-party":
            p = r.child("party")
            new = Party(p.text("id"), p.text("name"), p.text("role"))
            if new.id in self.parties:
                p.fail(f"party {new.id!r} is added twice", "id")
            self.parties[new.id] = new
            return AddParty(at, new)
        if action == "add-agreement":
            a = r.child("agreement")
            terms, title = _agreement(a)
            named = [(f"parties[{i}]", p) for i, p in enumerate(terms.parties)]
            if terms.relay is not None:
                named.append(("relay", terms.relay))
            for field, member in named:
                if member not in self.parties:
                    a.fail(f"unknown party {member!r} (add it with an add-party step first)", field)
            if terms.id in self.agreements:
                a.fail(f"agreement {terms.id!r} is added twice", "id")
            self.agreements[terms.id] = terms
            return AddAgreement(at, terms, title)
        if action in ("file-notice", "add-plan"):
            by = self.party(r, "by")
            key = "notice" if action == "file-notice" else "plan"
            n = r.child(key)
            item_id = n.text("id")
            if item_id in self.notices or item_id in self.plans:
                n.fail(f"id {item_id!r} is used twice", "id")
            category = n.choice("category", CATEGORIES)
            volumes = _volumes(n)
            self.new_volumes(n, volumes)
            if key == "plan":
                new_plan = Plan(item_id, by, category, volumes)
                self.plans[item_id] = new_plan
                return AddPlan(at, new_plan)
            under = n.text("agreement")
            if under not in self.agreements:
                n.fail(f"unknown agreement {under!r}", "agreement")
            if by not in self.agreements[under].parties:
                n.fail(f"{by} is not a party to {under}", "agreement")
            notice = Notice(item_id, by, under, category, volumes)
            self.notices[item_id] = notice
            return FileNotice(at, notice)
        if action == "acknowledge":
            by = self.party(r, "by")
            notice_id = self.owned(r, "notice", self.notices, by)
            if self.notices[notice_id].party == by:
                r.fail(
                    f"{by} filed {notice_id!r}: a party does not acknowledge its own notice", "by"
                )
            return Acknowledge(at, by, notice_id)
        if action == "adjust-plan":
            by = self.party(r, "by")
            plan_id = self.owned(r, "plan", self.plans, by)
            return AdjustPlan(at, by, plan_id, r.choice("strategy", STRATEGIES))
        if action == "cancel":
            by = self.party(r, "by")
            kind = "notice" if "notice" in r.data else "plan"
            table: Mapping[str, Notice | Plan] = self.notices if kind == "notice" else self.plans
            target = self.owned(r, kind, table, by)
            if table[target].party != by:
                r.fail(f"{kind} {target!r} belongs to {table[target].party}, not {by}", kind)
            return Cancel(at, by, kind, target)
        if action == "advance":
            return Advance(at, r.optional_text("text"))
        if action == "note":
            return Note(at, r.text("text"))
        r.fail(f"unknown action {action!r}", "action")


def _expectations(r: Reader | None) -> Expectations:
    if r is None:
        return Expectations()
    conflicts = []
    for c in r.children("conflicts", required=False):
        pair = c.strings("volumes")
        if len(pair) != 2:
            c.fail("must name two volumes", "volumes")
        conflicts.append(
            ExpectedConflict(
                (pair[0], pair[1]), c.time("detected_at"), c.time("starts"), c.number("lead_time_s")
            )
        )
    adjustments = tuple(
        ExpectedAdjustment(
            a.text("plan"), a.text("volume"), a.choice("strategy", STRATEGIES), a.number("delta")
        )
        for a in r.children("adjustments", required=False)
    )
    late = tuple(
        ExpectedLateNotice(n.text("notice"), n.number("lead_time_s"), n.number("required_s"))
        for n in r.children("late_notices", required=False)
    )
    escalations = tuple(
        ExpectedEscalation(e.text("recipient"), e.text("notice"), e.time("deadline"))
        for e in r.children("escalations", required=False)
    )
    return Expectations(
        tuple(conflicts),
        adjustments,
        late,
        escalations,
        r.strings("unchanged_plans", required=False),
    )


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    """Validate a decoded scenario document; ``source`` names it in error messages."""
    r = Reader(source, "", data)
    if r.text("schema") != SCHEMA:
        r.fail(f"must be {SCHEMA!r}, got {r.raw('schema')!r}", "schema")
    clock = r.child("clock")
    start, end = clock.time("start"), clock.time("end")
    if end <= start:
        clock.fail("must be after start", "end")
    checker = _Checker()
    steps: list[Step] = []
    previous = start
    for s in r.children("steps"):
        at = s.time("at")
        if not start <= at <= end:
            s.fail("is outside the scenario clock", "at")
        if at < previous:
            s.fail("goes back in time: steps must be in time order", "at")
        previous = at
        steps.append(checker.step(s, at))
    expect = r.child("expect") if r.raw("expect", required=False) is not None else None
    return Scenario(
        name=r.text("name"),
        title=r.optional_text("title"),
        start_s=start,
        end_s=end,
        sources=r.strings("sources", required=False),
        notes=r.strings("notes", required=False),
        steps=tuple(steps),
        expect=_expectations(expect),
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
    return parse_scenario(data, source)
