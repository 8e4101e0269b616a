"""The demo runner: plays a scenario through a real hub, in simulated time, step by step.

Every step goes through the same :class:`deconflict.hub.Hub` the CLI and the service use, on a
SQLite file, with a simulated clock set to the step's time. What the hub answers is printed as a
timeline and gathered into the report (Markdown, GeoJSON, PNG). Nothing here decides an outcome:
conflicts, lead times, late flags, escalations and adjustments are the hub's; at the end they are
checked against the scenario's expectations, and a mismatch is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deconflict import owner_only
from deconflict.demo import report as rp
from deconflict.demo import scenario as sc
from deconflict.demo.outcome import check_outcomes, gather_report
from deconflict.demo.scenario_document import load_scenario
from deconflict.demo.settle import prepare_settlement, show_settlement
from deconflict.engine import Adjustment
from deconflict.errors import DeconflictError
from deconflict.hub import Hub, SimulatedClock
from deconflict.hub.ledger_key import signed_path
from deconflict.model import (
    Conflict,
    NotificationKind,
    NotificationState,
    RecordKind,
)
from deconflict.settings import ledger_key_path
from deconflict.timefmt import format_clock, format_duration, format_lead, format_shift
from deconflict.web.assets import WebAssetsMissing, countries_file

__all__ = ["DemoFailed", "DemoResult", "Run", "run_demo"]

Echo = Callable[[str], None]


class DemoFailed(DeconflictError, AssertionError):
    """The hub's outcomes differ from what the scenario expects."""


@dataclass
class DemoResult:
    """What a run produced: the report and the outcome checks."""

    report: rp.Report
    files: rp.ReportFiles | None
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok in self.checks)


class Run:
    """One play of a scenario; gathers the report as it goes."""

    def __init__(self, scenario: sc.Scenario, hub: Hub, clock: SimulatedClock, echo: Echo) -> None:
        self.scenario = scenario
        self.hub = hub
        self.clock = clock
        self.echo = echo
        self.events: list[rp.ReportEvent] = []
        self.late: list[rp.ReportLateNotice] = []
        self.escalations: list[rp.ReportEscalation] = []
        self.adjustments: list[rp.ReportAdjustment] = []
        self.applied: list[tuple[str, Adjustment]] = []
        self.extra_volumes: list[rp.ReportVolume] = []
        self.agreements = {a.id: a for a in scenario.agreements}
        self.categories = {n.id: n.category for n in scenario.notices}
        self.categories.update({p.id: p.category for p in scenario.plans})

    # output ---------------------------------------------------------------------------------

    def say(self, action: str, party: str = "", detail: str = "") -> None:
        now = self.clock.now()
        self.events.append(rp.ReportEvent(now, action, party, detail))
        who = f"{party:<5}" if party else " " * 5
        line = f"{format_clock(now)}  {who} {action}"
        self.echo(f"{line}: {detail}" if detail else line)

    # steps ----------------------------------------------------------------------------------

    def play(self) -> None:
        for step in self.scenario.steps:
            self.clock.set(max(self.clock.now(), step.at_s))
            self.step(step)
            self.settle()

    def step(self, step: sc.Step) -> None:
        match step:
            case sc.AddParty(party=party):
                self.hub.add_party(party.id, party.name)
                self.say("joins", party.id, f"{party.name} ({party.role})" if party.role else "")
            case sc.AddAgreement(agreement=agreement):
                self.hub.add_agreement(agreement)
                via = f", through {agreement.relay}" if agreement.relay else ""
                self.say(
                    "agreement",
                    "",
                    f"{agreement.id}: {' and '.join(agreement.parties)}{via}; lead time "
                    f"{format_duration(agreement.min_lead_time_s)}",
                )
            case sc.FileNotice(notice=notice):
                self._file(notice)
            case sc.AddPlan(plan=plan):
                self.hub.add_plan(plan.party, plan.volumes, plan.id)
                self.say("plans", plan.party, f"{plan.id} ({len(plan.volumes)} volume(s), private)")
            case sc.Acknowledge(by=by, notice=notice):
                self._acknowledge(by, notice)
            case sc.AdjustPlan(by=by, plan=plan, strategy=strategy):
                self._adjust(by, plan, strategy)
            case sc.Cancel(by=by, kind=kind, target=target):
                if kind == "notice":
                    self.hub.cancel_notice(by, target)
                else:
                    self.hub.withdraw_plan(by, target)
                self.say("cancels", by, f"{kind} {target}")
            case sc.Advance(text=text):
                self.say("time passes", "", text)
            case sc.Note(text=text):
                self.say("note", "", text)

    def _file(self, notice: sc.Notice) -> None:
        filing = self.hub.file_notice(notice.party, notice.volumes, notice.category, notice.id)
        lead = filing.lead
        detail = f"{notice.id} ({notice.category}, {len(notice.volumes)} volume(s))"
        if filing.late:
            self.late.append(
                rp.ReportLateNotice(
                    notice.id,
                    notice.party,
                    self.clock.now(),
                    filing.notice.start_s,
                    lead.required_s,
                )
            )
            detail += (
                f"; LATE: {format_duration(lead.lead_time_s)} ahead, "
                f"{format_duration(filing.shortfall_s)} short of the agreed "
                f"{format_duration(lead.required_s)}"
            )
        else:
            detail += f"; {format_lead(lead.lead_time_s)}"
        self.say("files notice", notice.party, detail)

    def _acknowledge(self, by: str, notice_id: str) -> None:
        done = []
        for n in self.hub.list_notifications(by):
            if n.recipient != by or n.state is NotificationState.ACKNOWLEDGED:
                continue
            if n.notice_id == notice_id or self._conflict_involves(by, n.conflict_id, notice_id):
                self.hub.acknowledge(by, n.id)
                done.append(n.id)
        self.say("acknowledges", by, f"{notice_id} ({len(done)} notification(s))")

    def _conflict_involves(self, party: str, conflict_id: str | None, record_id: str) -> bool:
        if conflict_id is None:
            return False
        try:
            conflict = self.hub.get_conflict(party, conflict_id)
        except DeconflictError:
            return False
        return record_id in (conflict.a.record_id, conflict.b.record_id)

    def _adjust(self, by: str, plan_id: str, strategy: str) -> None:
        open_conflicts = [
            c
            for c in self.hub.list_conflicts(by, open_only=True)
            if (side := c.side_of(by)) is not None
            and side.kind is RecordKind.PLAN
            and side.record_id == plan_id
        ]
        if not open_conflicts:
            self.say("keeps plan", by, f"{plan_id}: no open conflict to clear")
            return
        suggestion = self.hub.suggest_adjustment(by, open_conflicts[0].id)
        chosen = suggestion.time if strategy == "time" else suggestion.altitude
        if chosen is None:
            self.say("cannot adjust", by, f"{plan_id}: no {strategy} adjustment clears it")
            return
        plan = self.hub.get_plan(by, plan_id)
        volumes = [chosen.volume if v.id == suggestion.volume_id else v for v in plan.volumes]
        self.hub.amend_plan(by, plan_id, plan.version, volumes)
        other = suggestion.altitude if strategy == "time" else suggestion.time
        alternative = f" (or {_describe(other)})" if other is not None else ""
        self.applied.append((plan_id, chosen))
        self.adjustments.append(
            rp.ReportAdjustment(
                self.clock.now(),
                plan_id,
                suggestion.volume_id,
                strategy,
                chosen.delta,
                tuple(c.id for c in open_conflicts),
            )
        )
        self.extra_volumes.append(
            rp.ReportVolume(
                f"{suggestion.volume_id} v{plan.version + 1}",
                by,
                "plan",
                plan_id,
                self.categories.get(plan_id, "air-activity"),
                chosen.volume,
            )
        )
        self.say("adjusts plan", by, f"{plan_id}: {_describe(chosen)}{alternative}")

    # after every step -----------------------------------------------------------------------

    def settle(self) -> None:
        """Run the detector, deliver what it produced, and act on deadlines, as a live hub
        would between steps."""
        processed = self.hub.process()
        for conflict in processed.new_conflicts:
            self._announce_conflict(conflict)
        for conflict in processed.resolved_conflicts:
            a, b = conflict.a, conflict.b
            self.say("conflict cleared", "", f"{a.volume_id} x {b.volume_id}")
        for party in {n.recipient for n in processed.notifications}:
            delivered = self.hub.deliver(party)
            for n in delivered:
                if n.kind is NotificationKind.NOTICE:
                    via = f" via {n.via}" if n.via else ""
                    self.say("told", n.recipient, f"notice {n.notice_id}{via}")
        ticked = self.hub.tick()
        for n in ticked.escalated:
            self.escalations.append(
                rp.ReportEscalation(
                    n.recipient,
                    n.notice_id or n.conflict_id or "",
                    n.delivered_at_s if n.delivered_at_s is not None else n.created_at_s,
                    n.ack_deadline_s,
                    self.clock.now(),
                    n.via or "",
                )
            )
            self.say(
                "ESCALATED",
                n.recipient,
                f"{n.kind} {n.notice_id or n.conflict_id} not acknowledged by "
                f"{format_clock(n.ack_deadline_s, weekday=False)}",
            )

    def _announce_conflict(self, conflict: Conflict) -> None:
        a, b = conflict.a, conflict.b
        for side in (a, b):
            if side.kind is RecordKind.PLAN:
                self.say(
                    "CONFLICT",
                    side.party,
                    f"{a.volume_id} x {b.volume_id} from "
                    f"{format_clock(conflict.detail.start_s, weekday=False)}; told "
                    f"{format_lead(conflict.lead_time_s)}",
                )
                return
        self.say("CONFLICT", "", f"{a.volume_id} x {b.volume_id}")


def _describe(adjustment: Adjustment) -> str:
    if adjustment.kind == "time":
        return f"move {format_shift(adjustment.delta)}"
    band = adjustment.volume.altitude
    return f"fly at {band.lower_m:,.0f}-{band.upper_m:,.0f} m"


def _write_html_map(folder: Path, report: rp.Report, echo: Echo) -> None:
    """The self-contained map.html, when the package has its copy of Leaflet and world-atlas."""
    from deconflict.demo.htmlmap import write_html_map

    try:
        path = write_html_map(
            folder, rp.volumes_geojson(report.volumes, report.conflicts), report.title
        )
    except WebAssetsMissing as missing:
        echo(f"note: {missing}; no map.html written")
        return
    echo(f"map: {path} (opens from disk, no network needed)")


def run_demo(
    report_dir: Path | None,
    echo: Echo = print,
    scenario_path: Path | None = None,
) -> DemoResult:
    """Play the scenario (the packaged Raqqa 2015 one by default) and write its report."""
    scenario = load_scenario(scenario_path)
    folder = report_dir if report_dir is not None else Path("report")
    owner_only.make_dir(folder)  # its report and database hold every party's plans
    db = folder / "demo.db"
    # A run starts a new database, so a new ledger: the checkpoint the last run's hub signed
    # (kept beside its key) is of another log, and kept, it halted this run's hub at once
    # (a second `make demo` failed: "entries were deleted from its end").
    signed = signed_path(ledger_key_path(str(db)))
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), signed):
        stale.unlink(missing_ok=True)
    clock = SimulatedClock(scenario.start_s)
    echo(f"# {scenario.title}")
    echo("")
    with Hub.open(db, clock) as hub:
        run = Run(scenario, hub, clock, echo)
        run.play()
        report = gather_report(run, scenario)
        checks = check_outcomes(run, scenario)
        settlement = prepare_settlement(hub, folder)  # the ledger settles the dispute
    echo("")
    for text, ok in checks:
        echo(f"{'ok  ' if ok else 'FAIL'}  {text}")
    atlas: Path | None
    try:
        atlas = countries_file()
    except WebAssetsMissing as missing:
        echo(f"note: {missing}; the map has no country outlines")
        atlas = None
    files = rp.write_report(folder, report, atlas=atlas)
    echo("")
    if files.map is None:
        echo(f"report: {files.summary}, {files.geojson}")
        echo("note: no map.png: matplotlib is not installed (pip install 'deconflict[report]')")
    else:
        echo(f"report: {files.summary}, {files.geojson}, {files.map}")
    _write_html_map(folder, report, echo)
    if settlement is not None:
        show_settlement(settlement, echo)
    result = DemoResult(report, files, checks)
    if not result.ok:
        raise DemoFailed("the hub's outcomes differ from the scenario's expectations (see FAIL)")
    return result
