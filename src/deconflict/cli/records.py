"""The record commands: parties, agreements, notices, plans, conflicts, notifications and
acknowledgements.

The acting commands (``notice file|list|cancel``, ``plan add|list|amend|withdraw``,
``conflicts``, ``notifications``, ``ack``) are written once against ``cli.backends.Backend``:
the database with ``--as PARTY`` acting, or a remote hub with ``--url`` and ``--token``;
``party add|list`` and ``agreement add|list`` likewise against ``cli.backends.Registry``.
Their rows, table and ``--json`` output are made here, the same for both.

What a command needs beyond typer (the backends, the model, the time formats, rich) is imported
when it runs: every command's help is built whenever the CLI starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deconflict.cli.backends import (
    AgreementSummary,
    ConflictSummary,
    NoticeSummary,
    NotificationSummary,
    connect,
    registry,
)
from deconflict.cli.common import (
    DbOption,
    JsonOption,
    PartyOption,
    TokenOption,
    UrlOption,
    read_json,
)

if TYPE_CHECKING:
    from deconflict.model import NoticeState

__all__ = ["NOTICE_STATES", "agreement_app", "notice_app", "party_app", "plan_app", "register"]

#: What ``notice list --state`` takes: the values of ``model.NoticeState``, written out so that
#: the help needs no model (tests/cli/test_startup.py keeps the two the same).
NOTICE_STATES = ("filed", "active", "ended", "cancelled")

party_app = typer.Typer(help="Parties that file and receive notices.", no_args_is_help=True)
agreement_app = typer.Typer(help="Agreements between parties.", no_args_is_help=True)
notice_app = typer.Typer(help="Advance notices of planned air activity.", no_args_is_help=True)
plan_app = typer.Typer(help="A party's own, private plans.", no_args_is_help=True)


def _print(rows: Sequence[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(list(rows), indent=1))
        return
    if not rows:
        typer.echo(f"no {title}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:  # a value not disclosed (None: a version seen in part) shows as "-"
        table.add_row(*("-" if v is None else str(v) for v in row.values()))
    Console().print(table)


def _clock(seconds: float) -> str:
    from deconflict.timefmt import format_clock

    return format_clock(seconds, weekday=False)


def _lead(seconds: float) -> str:
    from deconflict.timefmt import format_lead

    return format_lead(seconds)


def _notice_state(value: str) -> str:
    if value not in NOTICE_STATES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(NOTICE_STATES)}")
    return value


def _notice_states(values: Sequence[str]) -> list[NoticeState]:
    from deconflict.model import NoticeState

    return [NoticeState(value) for value in values]


def _notice_row(notice: NoticeSummary) -> dict[str, Any]:
    return {
        "id": notice.id,
        "party": notice.party,
        "category": notice.category,
        "version": notice.version,
        "state": notice.state,
        "volumes": notice.volumes,
        "start": _clock(notice.start_s),
        "end": _clock(notice.end_s),
    }


def _conflict_row(conflict: ConflictSummary) -> dict[str, Any]:
    advice = ""
    if conflict.state == "open":
        advice = " or ".join(conflict.adjustments) or "none found"
    return {
        "id": conflict.id,
        "mine": conflict.mine,
        "theirs": f"{conflict.theirs_party}:{conflict.theirs_volume or '(not disclosed)'}"
        + (" (the records meet in more pairs than listed)" if conflict.more_pairs else ""),
        "state": conflict.state,
        "from": _clock(conflict.start_s),
        "lead time": _lead(conflict.lead_time_s),
        "adjustment": advice,
    }


def _notification_row(notification: NotificationSummary) -> dict[str, Any]:
    n = notification
    return {
        "id": n.id,
        "kind": n.kind,
        "about": n.notice_id or n.conflict_id or "",
        "via": n.via or "",
        "state": n.state,
        "lead time": _lead(n.lead_time_s),
        "ack by": _clock(n.ack_deadline_s),
    }


def _agreement_row(agreement: AgreementSummary) -> dict[str, Any]:
    return {
        "id": agreement.id,
        "parties": ",".join(agreement.parties),
        "relay": agreement.relay or "",
        "lead_time_s": agreement.min_lead_time_s,
        "ack_deadline_s": agreement.ack_deadline_s,
    }


# parties and agreements ---------------------------------------------------------------------


@party_app.command("add")
def party_add(
    party_id: Annotated[str, typer.Argument(help="Short id, e.g. US.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
) -> None:
    """Add a party (remote: the token needs the admin scope)."""
    with registry(db, url, token) as parties:
        typer.echo(f"added party {parties.add_party(party_id, name)}")


@party_app.command("list")
def party_list(
    db: DbOption, url: UrlOption, token: TokenOption, as_json: JsonOption = False
) -> None:
    """List the parties (remote: those the token's party shares an agreement with, itself
    included; all of them with the admin scope)."""
    with registry(db, url, token) as parties:
        rows = [{"id": party_id, "name": name} for party_id, name in parties.parties()]
    _print(rows, as_json, "parties")


@agreement_app.command("add")
def agreement_add(
    file: Annotated[Path, typer.Argument(help="The agreement as JSON (see the README).")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
) -> None:
    """Add an agreement from a JSON file (remote: the token needs the admin scope)."""
    from deconflict.model.agreement_document import agreement_from_document

    agreement = agreement_from_document(read_json(file), str(file))
    with registry(db, url, token) as agreements:
        typer.echo(f"added agreement {agreements.add_agreement(agreement)}")


@agreement_app.command("list")
def agreement_list(
    db: DbOption, url: UrlOption, token: TokenOption, as_json: JsonOption = False
) -> None:
    """List the agreements (remote: those the token's party is in or relays for)."""
    with registry(db, url, token) as agreements:
        rows = [_agreement_row(a) for a in agreements.agreements()]
    _print(rows, as_json, "agreements")


# notices and plans --------------------------------------------------------------------------


@notice_app.command("file")
def notice_file(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of the volumes.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    category: Annotated[str, typer.Option(help="What kind of activity.")] = "air-activity",
    notice_id: Annotated[str | None, typer.Option("--id", help="Notice id.")] = None,
) -> None:
    """File a notice. A notice later than the agreed lead time is accepted and flagged."""
    from deconflict.timefmt import format_duration

    with connect(db, url, token, party) as backend:
        filed = backend.file_notice(read_json(file), file, category, notice_id)
    lead = filed.lead
    flag = (
        f"LATE: {_lead(lead.lead_time_s)}, {format_duration(lead.shortfall_s)} short of "
        f"the agreed {format_duration(lead.required_s)}"
        if lead.late
        else _lead(lead.lead_time_s)
    )
    typer.echo(f"filed notice {filed.notice_id} (version {filed.version}): {flag}")


@notice_app.command("list")
def notice_list(
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    state: Annotated[
        list[str] | None,
        typer.Option(help=f"Only these states ({', '.join(NOTICE_STATES)}).", parser=_notice_state),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The notices a party may see (its own, and others' as its agreements disclose them)."""
    with connect(db, url, token, party) as backend:
        rows = [_notice_row(n) for n in backend.list_notices(_notice_states(state or []))]
    _print(rows, as_json, "notices")


@notice_app.command("cancel")
def notice_cancel(
    notice_id: Annotated[str, typer.Argument(help="The notice to cancel.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
) -> None:
    """Cancel one of the party's own notices."""
    with connect(db, url, token, party) as backend:
        typer.echo(f"cancelled notice {backend.cancel_notice(notice_id)}")


@plan_app.command("add")
def plan_add(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of the volumes.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    plan_id: Annotated[str | None, typer.Option("--id", help="Plan id.")] = None,
) -> None:
    """Add a private plan; it is checked against other parties' notices."""
    with connect(db, url, token, party) as backend:
        plan = backend.add_plan(read_json(file), file, plan_id)
    typer.echo(f"added plan {plan.id} ({plan.volumes} volume(s))")


@plan_app.command("list")
def plan_list(
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The party's own current plans, oldest first."""
    with connect(db, url, token, party) as backend:
        rows = [asdict(p) for p in backend.list_plans()]
    _print(rows, as_json, "plans")


@plan_app.command("amend")
def plan_amend(
    plan_id: Annotated[str, typer.Argument(help="The plan to amend.")],
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of its new volumes.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    version: Annotated[
        int | None,
        typer.Option(
            min=1, help="Its version as last read: refused if it changed since (default: now)."
        ),
    ] = None,
) -> None:
    """Give one of the party's plans new volumes (an adjustment that clears a conflict, say);
    its conflicts are checked again."""
    with connect(db, url, token, party) as backend:
        plan = backend.amend_plan(plan_id, read_json(file), file, version)
    typer.echo(f"amended plan {plan.id} (version {plan.version}, {plan.volumes} volume(s))")


@plan_app.command("withdraw")
def plan_withdraw(
    plan_id: Annotated[str, typer.Argument(help="The plan to withdraw.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
) -> None:
    """Withdraw one of the party's plans: its conflicts are resolved."""
    with connect(db, url, token, party) as backend:
        plan = backend.withdraw_plan(plan_id)
    typer.echo(f"withdrew plan {plan.id}")


# conflicts, notifications, acknowledgement --------------------------------------------------


def conflicts(
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open conflicts.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The conflicts a party is in, with the lead time it had and an adjustment that clears."""
    with connect(db, url, token, party) as backend:
        rows = [_conflict_row(c) for c in backend.conflicts(open_only)]
    _print(rows, as_json, "conflicts")


def notifications(
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    as_json: JsonOption = False,
) -> None:
    """A party's notifications (delivering the new ones), with their state."""
    with connect(db, url, token, party) as backend:
        rows = [_notification_row(n) for n in backend.notifications()]
    _print(rows, as_json, "notifications")


def ack(
    notification_id: Annotated[str, typer.Argument(help="The notification to acknowledge.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
) -> None:
    """Acknowledge a notification sent to the party."""
    with connect(db, url, token, party) as backend:
        typer.echo(f"acknowledged {backend.acknowledge(notification_id)}")


def register(app: typer.Typer) -> None:
    """Add these commands to the top-level app."""
    app.add_typer(party_app, name="party")
    app.add_typer(agreement_app, name="agreement")
    app.add_typer(notice_app, name="notice")
    app.add_typer(plan_app, name="plan")
    app.command()(conflicts)
    app.command()(notifications)
    app.command()(ack)
