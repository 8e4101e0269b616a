"""What a demo run shows: the report gathered from the hub, and the checks of its outcomes
against what the scenario expects (conflicts and lead times, adjustments, late notices,
escalations, unchanged plans, and what each party may see)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deconflict.demo import report as rp
from deconflict.demo import scenario as sc
from deconflict.errors import NotFound
from deconflict.model import Conflict, ConflictState, RecordKind
from deconflict.timefmt import format_lead, format_shift

if TYPE_CHECKING:
    from deconflict.demo.runner import Run

__all__ = ["check_outcomes", "gather_report"]


def _all_conflicts(run: Run) -> list[Conflict]:
    seen: dict[str, Conflict] = {}
    for party in run.scenario.parties:
        for conflict in run.hub.list_conflicts(party.id):
            seen.setdefault(conflict.id, conflict)
    return sorted(seen.values(), key=lambda c: (c.detected_at_s, c.id))


def _told(conflict: Conflict) -> str:
    """The party warned of a conflict: the owner of the plan side (else side b)."""
    for side in (conflict.a, conflict.b):
        if side.kind is RecordKind.PLAN:
            return side.party
    return conflict.b.party


def _report_conflicts(run: Run) -> list[rp.ReportConflict]:
    cleared = {plan: adj for plan, adj in run.applied}
    out = []
    for c in _all_conflicts(run):
        plan_side = next((s for s in (c.a, c.b) if s.kind is RecordKind.PLAN), None)
        how = ""
        if c.state is ConflictState.RESOLVED and plan_side and plan_side.record_id in cleared:
            adj = cleared[plan_side.record_id]
            how = (
                f"{plan_side.record_id} moved {format_shift(adj.delta)}"
                if adj.kind == "time"
                else f"{plan_side.record_id} moved to {adj.volume.altitude.lower_m:,.0f} m"
            )
        out.append(
            rp.ReportConflict(
                c.id,
                (c.a.volume_id, c.b.volume_id),
                (c.a.party, c.b.party),
                c.detail.start_s,
                c.detail.end_s,
                c.detected_at_s,
                _told(c),
                c.detected_at_s,
                "cleared" if c.state is ConflictState.RESOLVED else "open",
                how,
            )
        )
    return out


def _views(run: Run) -> list[rp.ReportView]:
    """What each party sees of every other party's records, asked of the hub as that party."""
    out = []
    scenario, hub = run.scenario, run.hub
    for viewer in scenario.parties:
        for notice in scenario.notices:
            if notice.party == viewer.id:
                continue
            try:
                seen = hub.get_notice(viewer.id, notice.id, party=notice.party)
                level = "full" if len(seen.volumes) == len(notice.volumes) else "conflicts-only"
                detail = f"{len(seen.volumes)} of {len(notice.volumes)} volume(s)"
            except NotFound:
                level, detail = "none", "not visible"
            out.append(rp.ReportView(viewer.id, f"notice {notice.id}", notice.party, level, detail))
        for plan in scenario.plans:
            if plan.party == viewer.id:
                continue
            try:
                hub.get_plan(viewer.id, plan.id)
                level, detail = "full", "visible"
            except NotFound:
                level, detail = "none", "plans are private"
            out.append(rp.ReportView(viewer.id, f"plan {plan.id}", plan.party, level, detail))
    return out


def _volumes(run: Run) -> list[rp.ReportVolume]:
    out = []
    states = {
        n.id: str(n.state) for party in run.scenario.parties for n in run.hub.list_notices(party.id)
    }
    for notice in run.scenario.notices:
        for v in notice.volumes:
            out.append(
                rp.ReportVolume(
                    v.id,
                    notice.party,
                    "notice",
                    notice.id,
                    notice.category,
                    v,
                    states.get(notice.id, "active"),
                )
            )
    adjusted = {plan for plan, _ in run.applied}
    for plan in run.scenario.plans:
        for v in plan.volumes:
            state = "superseded" if plan.id in adjusted else "planned"
            out.append(rp.ReportVolume(v.id, plan.party, "plan", plan.id, plan.category, v, state))
    return [*out, *run.extra_volumes]


def gather_report(run: Run, scenario: sc.Scenario) -> rp.Report:
    """The report of a finished run, every figure read back from the hub."""
    return rp.Report(
        title=scenario.title,
        parties=[rp.ReportParty.from_party(p) for p in scenario.parties],
        agreements=[
            rp.ReportAgreement.from_agreement(a, scenario.agreement_titles[a.id])
            for a in scenario.agreements
        ],
        volumes=_volumes(run),
        events=run.events,
        conflicts=_report_conflicts(run),
        adjustments=run.adjustments,
        late_notices=run.late,
        escalations=run.escalations,
        views=_views(run),
        notes=scenario.notes,
        sources=scenario.sources,
    )


def check_outcomes(run: Run, scenario: sc.Scenario) -> list[tuple[str, bool]]:
    """Each expectation of the scenario, and whether the hub met it."""
    expect = scenario.expect
    checks: list[tuple[str, bool]] = []
    conflicts = {frozenset((c.a.volume_id, c.b.volume_id)): c for c in _all_conflicts(run)}
    for want in expect.conflicts:
        got = conflicts.get(frozenset(want.volumes))
        ok = got is not None and abs(got.lead_time_s - want.lead_time_s) < 1
        lead = format_lead(got.lead_time_s) if got else "none"
        checks.append((f"conflict {' x '.join(want.volumes)} found, told {lead}", ok))
    checks.append(
        (
            f"no other conflicts ({len(conflicts)} found, {len(expect.conflicts)} expected)",
            len(conflicts) == len(expect.conflicts),
        )
    )
    applied = {(plan, adj.kind.value): adj for plan, adj in run.applied}
    for want_adj in expect.adjustments:
        got_adj = applied.get((want_adj.plan, want_adj.strategy))
        ok = got_adj is not None and abs(got_adj.delta - want_adj.delta) < 1
        checks.append(
            (f"{want_adj.plan} adjusted by {want_adj.strategy}, delta {want_adj.delta:g}", ok)
        )
    late = {n.notice: n for n in run.late}
    for want_late in expect.late_notices:
        got_late = late.get(want_late.notice)
        ok = (
            got_late is not None
            and abs((got_late.starts_s - got_late.filed_at_s) - want_late.lead_time_s) < 1
        )
        checks.append((f"notice {want_late.notice} flagged late", ok))
    checks.append(
        (
            f"{len(late)} late notice(s) flagged, {len(expect.late_notices)} expected",
            len(late) == len(expect.late_notices),
        )
    )
    escalated = {(e.recipient, e.notice) for e in run.escalations}
    for want_esc in expect.escalations:
        checks.append(
            (
                f"notification to {want_esc.recipient} about {want_esc.notice} escalated",
                (want_esc.recipient, want_esc.notice) in escalated,
            )
        )
    plans = {p.id: p for p in scenario.plans}
    for plan_id in expect.unchanged_plans:
        party = plans[plan_id].party
        checks.append(
            (f"{plan_id} goes ahead unchanged", run.hub.get_plan(party, plan_id).version == 1)
        )
    for view in _views(run):
        if view.owner != "US" or view.party not in ("RU", "FR"):
            continue
        if view.item.startswith("plan"):
            checks.append((f"{view.party} cannot see US {view.item}", view.level == "none"))
        elif view.party == "RU":
            checks.append((f"RU sees nothing of US {view.item}", view.level == "none"))
        else:
            checks.append((f"FR sees US {view.item} in full (sharing)", view.level == "full"))
    return checks
