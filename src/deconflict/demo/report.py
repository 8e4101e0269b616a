"""The demo report: a folder with summary.md, volumes.geojson and map.png, from plain inputs.

The writer knows nothing of the hub. The runner fills a :class:`Report` (parties, agreements,
volumes, a timeline, conflicts, adjustments, late notices, escalations and what each party may
see) and :func:`write_report` renders it. Times are seconds since the Unix epoch, UTC; durations
are said as people say them (:mod:`deconflict.timefmt`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deconflict import owner_only
from deconflict.demo import scenario
from deconflict.geo import Volume4D
from deconflict.geo.units import epoch_to_rfc3339
from deconflict.model import Agreement
from deconflict.timefmt import (
    format_clock,
    format_duration,
    format_lead,
    format_shift,
    format_shortfall,
    format_window,
)
from deconflict.web.features import conflict_feature, volume_feature

__all__ = [
    "Report",
    "ReportAdjustment",
    "ReportAgreement",
    "ReportConflict",
    "ReportEscalation",
    "ReportEvent",
    "ReportFiles",
    "ReportLateNotice",
    "ReportParty",
    "ReportView",
    "ReportVolume",
    "summary_markdown",
    "volumes_geojson",
    "write_report",
]


@dataclass(frozen=True, slots=True)
class ReportParty:
    id: str
    name: str
    role: str = ""

    @classmethod
    def from_party(cls, party: scenario.Party) -> ReportParty:
        return cls(party.id, party.name, party.role)


@dataclass(frozen=True, slots=True)
class ReportAgreement:
    """An agreement's terms; ``disclosure`` holds (from party, to party, level) triples."""

    id: str
    parties: tuple[str, ...]
    relay: str | None
    min_lead_time_s: float
    ack_deadline_s: float
    horizontal_m: float
    vertical_m: float
    time_s: float
    disclosure: tuple[tuple[str, str, str], ...] = ()
    title: str = ""

    @classmethod
    def from_agreement(cls, agreement: Agreement, title: str = "") -> ReportAgreement:
        sep = agreement.minima
        return cls(
            id=agreement.id,
            parties=agreement.parties,
            relay=agreement.relay,
            min_lead_time_s=agreement.min_lead_time_s,
            ack_deadline_s=agreement.ack_deadline_s,
            horizontal_m=sep.horizontal_m,
            vertical_m=sep.vertical_m,
            time_s=sep.time_s,
            disclosure=tuple((a, b, level.value) for (a, b), level in agreement.disclosure.items()),
            title=title,
        )


@dataclass(frozen=True, slots=True)
class ReportVolume:
    """One volume on the map and in the GeoJSON. ``kind`` is "notice" or "plan"; ``owner`` the
    notice or plan id; ``state`` e.g. "active", "cancelled", "superseded" (ids must be unique, so
    an adjusted copy needs its own id, e.g. "US-P1-1 v2")."""

    id: str
    party: str
    kind: str
    owner: str
    category: str
    volume: Volume4D
    state: str = "active"


@dataclass(frozen=True, slots=True)
class ReportEvent:
    """One row of the timeline: when, who, what happened (an action word), and any detail."""

    at_s: float
    action: str
    party: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ReportConflict:
    """A conflict between two volumes (ids as in :class:`ReportVolume`). ``told`` is the party
    warned and ``told_at_s`` when; the lead time is ``start_s - told_at_s``. ``status`` is
    "open" or "cleared"; ``cleared_by`` says how (e.g. "US-P1 moved 2 h 10 min later")."""

    id: str
    volume_ids: tuple[str, str]
    parties: tuple[str, str]
    start_s: float
    end_s: float
    detected_at_s: float
    told: str
    told_at_s: float
    status: str = "open"
    cleared_by: str = ""

    @property
    def lead_time_s(self) -> float:
        return self.start_s - self.told_at_s


@dataclass(frozen=True, slots=True)
class ReportAdjustment:
    """A change that cleared a plan's volume: ``kind`` "time" (``delta`` seconds) or
    "altitude" (``delta`` metres)."""

    at_s: float
    plan: str
    volume_id: str
    kind: str
    delta: float
    clears: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "time":
            return f"moved {format_shift(self.delta)}"
        return f"moved {abs(self.delta):,.0f} m {'up' if self.delta > 0 else 'down'}"


@dataclass(frozen=True, slots=True)
class ReportLateNotice:
    """A notice filed with less than the agreement's minimum lead time before its first volume."""

    notice: str
    party: str
    filed_at_s: float
    starts_s: float
    required_s: float

    @property
    def lead_time_s(self) -> float:
        return self.starts_s - self.filed_at_s


@dataclass(frozen=True, slots=True)
class ReportEscalation:
    """A notification to ``recipient`` about ``notice`` not acknowledged by its deadline."""

    recipient: str
    notice: str
    delivered_at_s: float
    deadline_s: float
    escalated_at_s: float
    escalated_to: str = ""


@dataclass(frozen=True, slots=True)
class ReportView:
    """One thing ``party`` may see: ``item`` (a notice, conflict...) of ``owner``, at ``level``
    (a disclosure level, or "own" / "relayed"); ``detail`` says what that includes."""

    party: str
    item: str
    owner: str
    level: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    parties: Sequence[ReportParty] = ()
    agreements: Sequence[ReportAgreement] = ()
    volumes: Sequence[ReportVolume] = ()
    events: Sequence[ReportEvent] = ()
    conflicts: Sequence[ReportConflict] = ()
    adjustments: Sequence[ReportAdjustment] = ()
    late_notices: Sequence[ReportLateNotice] = ()
    escalations: Sequence[ReportEscalation] = ()
    views: Sequence[ReportView] = ()
    notes: Sequence[str] = ()
    sources: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ReportFiles:
    folder: Path
    summary: Path
    geojson: Path
    map: Path | None  # None: matplotlib (the `report` extra) is not installed


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _section(
    title: str, rows: Sequence[Sequence[object]], header: Sequence[str], empty: str
) -> list[str]:
    return [f"## {title}", "", *(_table(header, rows) if rows else [empty, ""])]


def summary_markdown(report: Report) -> str:
    """The report as Markdown: every table a reader needs, and the map."""
    out = [f"# {report.title}", ""]
    if report.notes:
        out += ["## Notes", "", *(f"- {note}" for note in report.notes), ""]
    out += _section(
        "Parties",
        [(p.id, p.name, p.role) for p in report.parties],
        ("party", "name", "role"),
        "No parties.",
    )
    out += _section(
        "Agreements",
        [
            (
                a.id,
                " - ".join(a.parties),
                a.relay or "none",
                format_duration(a.min_lead_time_s),
                format_duration(a.ack_deadline_s),
                f"{a.horizontal_m:,.0f} m / {a.vertical_m:,.0f} m / {format_duration(a.time_s)}",
                "; ".join(f"{s}->{t}: {level}" for s, t, level in a.disclosure),
            )
            for a in report.agreements
        ],
        (
            "agreement",
            "parties",
            "relay",
            "minimum lead time",
            "acknowledge within",
            "separation (across / up / time)",
            "disclosure",
        ),
        "No agreements.",
    )
    out += _section(
        "Timeline",
        [
            (format_clock(e.at_s), e.party, e.action, e.detail)
            for e in sorted(report.events, key=lambda e: e.at_s)
        ],
        ("time (UTC)", "party", "what", "detail"),
        "Nothing happened.",
    )
    out += _section(
        "Conflicts",
        [
            (
                c.id,
                " x ".join(c.volume_ids),
                format_window(c.start_s, c.end_s),
                format_clock(c.detected_at_s),
                c.told,
                format_lead(c.lead_time_s),
                c.status + (f": {c.cleared_by}" if c.cleared_by else ""),
            )
            for c in report.conflicts
        ],
        ("conflict", "volumes", "overlap", "detected", "told", "lead time", "status"),
        "No conflicts.",
    )
    out += _section(
        "Adjustments",
        [
            (format_clock(a.at_s), a.plan, a.volume_id, a.describe(), ", ".join(a.clears))
            for a in report.adjustments
        ],
        ("time (UTC)", "plan", "volume", "change", "clears"),
        "No adjustments.",
    )
    out += _section(
        "Late notices",
        [
            (
                n.notice,
                n.party,
                format_clock(n.filed_at_s),
                format_clock(n.starts_s),
                format_shortfall(n.lead_time_s, n.required_s),
            )
            for n in report.late_notices
        ],
        ("notice", "party", "filed", "first volume starts", "lead time"),
        "Every notice met its minimum lead time.",
    )
    out += _section(
        "Escalations",
        [
            (
                e.recipient,
                e.notice,
                format_clock(e.delivered_at_s),
                format_clock(e.deadline_s),
                format_clock(e.escalated_at_s),
                e.escalated_to or "-",
            )
            for e in report.escalations
        ],
        ("recipient", "about", "delivered", "acknowledge by", "escalated", "escalated to"),
        "Every notification was acknowledged in time.",
    )
    out += ["## What each party sees", ""]
    by_party: dict[str, list[ReportView]] = {}
    for view in report.views:
        by_party.setdefault(view.party, []).append(view)
    if not by_party:
        out += ["No disclosure views.", ""]
    for party, views in by_party.items():
        out += [f"### {party}", ""]
        out += _table(
            ("item", "of", "level", "what it includes"),
            [(v.item, v.owner, v.level, v.detail) for v in views],
        )
    out += [
        "## Map",
        "",
        "![Volumes and conflicts](map.png)",
        "",
        "All volumes are in `volumes.geojson` (RFC 7946).",
        "",
    ]
    if report.sources:
        out += ["## Sources", ""] + [f"- {s}" for s in report.sources] + [""]
    return "\n".join(out)


def volumes_geojson(
    volumes: Sequence[ReportVolume], conflicts: Sequence[ReportConflict] = ()
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection as the operations view draws it (:mod:`deconflict.web.features`):
    one feature per volume (its outline), then one per conflict (where the two volumes meet:
    their overlap, or the shortest line between them)."""
    features = []
    outlines = {}
    for v in volumes:
        outline = v.volume.footprint.outline()
        outlines[v.id] = outline
        features.append(
            volume_feature(
                v.volume,
                outline,
                feature_id=v.id,
                volume_id=v.id,
                party=v.party,
                kind=v.kind,
                owner=v.owner,
                category=v.category,
                state=v.state,
            )
        )
    for c in conflicts:
        a, b = c.volume_ids
        if a not in outlines or b not in outlines:
            continue
        features.append(
            conflict_feature(
                c.id,
                [outlines[a], outlines[b]],
                parties=c.parties,
                volumes=c.volume_ids,
                window=(c.start_s, c.end_s),
                lead_time_s=c.lead_time_s,
                detected_at=epoch_to_rfc3339(c.detected_at_s),
                told=c.told,
                status=c.status,
                cleared_by=c.cleared_by,
            )
        )
    return {"type": "FeatureCollection", "features": features}


def write_report(folder: Path, report: Report, *, atlas: Path | None = None) -> ReportFiles:
    """Write summary.md, volumes.geojson and map.png into ``folder`` (created if needed).
    ``atlas`` is a world-atlas countries file (see ``web.assets.countries_file``); without it
    the map has no country outlines. The PNG needs matplotlib, an optional extra
    (``deconflict[report]``): without it the report has no map.png (``files.map`` is None)."""
    folder = Path(folder)
    owner_only.make_dir(folder)  # the report holds every party's volumes, plans among them
    png = folder / "map.png"
    files = ReportFiles(folder, folder / "summary.md", folder / "volumes.geojson", png)
    owner_only.write(files.summary, summary_markdown(report).encode())
    collection = volumes_geojson(report.volumes, report.conflicts)
    owner_only.write(files.geojson, (json.dumps(collection, indent=1) + "\n").encode())
    try:
        # Imported here: matplotlib takes a second to import, and only this needs it.
        from deconflict.demo.mapping import read_countries, render_map
    except ModuleNotFoundError as missing:
        if missing.name != "matplotlib":
            raise
        return ReportFiles(files.folder, files.summary, files.geojson, None)
    countries = read_countries(atlas) if atlas is not None else []
    render_map(png, report.volumes, report.conflicts, countries, title=report.title)
    return files
