"""CLI commands against a local hub database: parties, agreements, notices, plans, conflicts,
notifications and acknowledgements; with ``--url`` (and ``--token``) the acting commands go to a
remote hub instead (``cli.remote``).

Each command opens the hub on ``--db`` (created and migrated on first use), does one thing, then
runs the detector and the clock-driven checks, as the service does between requests, so what it
prints is up to date. ``--json`` prints machine-readable output instead of a table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from deconflict.cli import remote
from deconflict.cli.common import geo_limits, read_json
from deconflict.client import Client
from deconflict.demo.timefmt import format_clock, format_duration, format_lead
from deconflict.engine import SeparationMinima
from deconflict.errors import InvalidDocument, InvalidInput
from deconflict.geo import Volume4D
from deconflict.geo.geojson import parse_feature_collection
from deconflict.hub import Hub
from deconflict.model import Agreement, Disclosure, Notice, NoticeState
from deconflict.settings import SETTINGS, setting_value

__all__ = ["agreement_app", "notice_app", "party_app", "plan_app", "register"]

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help=SETTINGS["db"].help,
        envvar=SETTINGS["db"].env,
        default_factory=lambda: setting_value("db"),
        show_default=SETTINGS["db"].default,
    ),
]
PartyOption = Annotated[
    str | None,
    typer.Option("--party", "--as", help="The acting party's id (remote: the token's party)."),
]
UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        help=SETTINGS["url"].help,
        envvar=SETTINGS["url"].env,
        default_factory=lambda: setting_value("url"),
        show_default=False,
    ),
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        help=SETTINGS["token"].help,
        envvar=SETTINGS["token"].env,
        default_factory=lambda: setting_value("token"),
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

party_app = typer.Typer(help="Parties that file and receive notices.", no_args_is_help=True)
agreement_app = typer.Typer(help="Agreements between parties.", no_args_is_help=True)
notice_app = typer.Typer(help="Advance notices of planned air activity.", no_args_is_help=True)
plan_app = typer.Typer(help="A party's own, private plans.", no_args_is_help=True)


def _client(url: str, token: str) -> Client | None:
    """A client of the remote hub at ``url``, or None to act on the local database."""
    return Client(url, token or None) if url else None


def _acting(party: str | None) -> str:
    if party is None:
        raise InvalidInput("say which party acts: --as PARTY (or --url and --token)")
    return party


@contextmanager
def _hub(db: str) -> Iterator[Hub]:
    with Hub.open(db) as hub:
        yield hub
        hub.tick()
        hub.process()


def _print(rows: Sequence[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(list(rows), indent=1))
        return
    if not rows:
        typer.echo(f"no {title}")
        return
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


def _volumes(path: Path, party: str) -> list[Volume4D]:
    parsed = parse_feature_collection(read_json(path), geo_limits(), default_party=party)
    for item in parsed:
        if item.party != party:
            raise InvalidInput(
                f"volume {item.volume.id!r} belongs to party {item.party!r}, not {party!r}"
            )
    return [item.volume for item in parsed]


def _notice_row(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "party": notice.party,
        "category": notice.category,
        "version": notice.version,
        "state": str(notice.state),
        "volumes": len(notice.volumes),
        "start": format_clock(notice.start_s, weekday=False),
        "end": format_clock(notice.end_s, weekday=False),
    }


# parties and agreements ---------------------------------------------------------------------


@party_app.command("add")
def party_add(
    party_id: Annotated[str, typer.Argument(help="Short id, e.g. US.")],
    db: DbOption,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
) -> None:
    """Add a party."""
    with _hub(db) as hub:
        party = hub.add_party(party_id, name)
    typer.echo(f"added party {party.id}")


@party_app.command("list")
def party_list(db: DbOption, as_json: JsonOption = False) -> None:
    """List the parties."""
    with _hub(db) as hub:
        rows = [{"id": p.id, "name": p.name} for p in hub.list_parties()]
    _print(rows, as_json, "parties")


def _agreement_from(document: object, source: str) -> Agreement:
    if not isinstance(document, dict):
        raise InvalidDocument(f"{source}: an agreement must be a JSON object")
    try:
        minima = document.get("separation", {})
        disclosure = {
            (d["from"], d["to"]): Disclosure(d["level"]) for d in document.get("disclosure", [])
        }
        return Agreement(
            id=document["id"],
            parties=tuple(document["parties"]),
            min_lead_time_s=float(document.get("min_lead_time_s", 0.0)),
            minima=SeparationMinima(**minima),
            relay=document.get("relay"),
            disclosure=disclosure,
            ack_deadline_s=float(document.get("ack_deadline_s", 3600.0)),
        )
    except KeyError as missing:
        raise InvalidDocument(f"{source}: the agreement needs the field {missing}") from None
    except (TypeError, ValueError) as error:
        raise InvalidDocument(f"{source}: {error}") from None


@agreement_app.command("add")
def agreement_add(
    file: Annotated[Path, typer.Argument(help="The agreement as JSON (see the README).")],
    db: DbOption,
) -> None:
    """Add an agreement from a JSON file."""
    agreement = _agreement_from(read_json(file), str(file))
    with _hub(db) as hub:
        hub.add_agreement(agreement)
    typer.echo(f"added agreement {agreement.id}")


@agreement_app.command("list")
def agreement_list(db: DbOption, as_json: JsonOption = False) -> None:
    """List the agreements."""
    with _hub(db) as hub:
        rows = [
            {
                "id": a.id,
                "parties": ",".join(a.parties),
                "relay": a.relay or "",
                "lead_time_s": a.min_lead_time_s,
                "ack_deadline_s": a.ack_deadline_s,
            }
            for a in hub.list_agreements()
        ]
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
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(remote.file_notice(client, file, category, notice_id))
        return
    party = _acting(party)
    volumes = _volumes(file, party)
    with _hub(db) as hub:
        filing = hub.file_notice(party, volumes, category, notice_id)
    lead = filing.lead
    flag = (
        f"LATE: {format_lead(lead.lead_time_s)}, {format_duration(lead.shortfall_s)} short of "
        f"the agreed {format_duration(lead.required_s)}"
        if filing.late
        else format_lead(lead.lead_time_s)
    )
    typer.echo(f"filed notice {filing.notice.id} (version {filing.notice.version}): {flag}")


@notice_app.command("list")
def notice_list(
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    state: Annotated[list[NoticeState] | None, typer.Option(help="Only these states.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The notices a party may see (its own, and others' as its agreements disclose them)."""
    client = _client(url, token)
    if client is not None:
        with client:
            states = [str(s) for s in state] if state else None
            _print(remote.list_notices(client, states), as_json, "notices")
        return
    party = _acting(party)
    with _hub(db) as hub:
        rows = [_notice_row(n) for n in hub.list_notices(party, states=state or None)]
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
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(remote.cancel_notice(client, notice_id))
        return
    party = _acting(party)
    with _hub(db) as hub:
        notice = hub.cancel_notice(party, notice_id)
    typer.echo(f"cancelled notice {notice.id}")


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
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(remote.plan_add(client, file, plan_id))
        return
    party = _acting(party)
    volumes = _volumes(file, party)
    with _hub(db) as hub:
        plan = hub.add_plan(party, volumes, plan_id)
    typer.echo(f"added plan {plan.id} ({len(plan.volumes)} volume(s))")


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
    client = _client(url, token)
    if client is not None:
        with client:
            _print(remote.conflicts(client, open_only), as_json, "conflicts")
        return
    party = _acting(party)
    with _hub(db) as hub:
        rows = []
        for c in hub.list_conflicts(party, open_only=open_only):
            mine, other = c.side_of(party), c.other_side(party)
            assert mine is not None
            assert other is not None
            advice = ""
            if str(c.state) == "open":
                suggestion = hub.suggest_adjustment(party, c.id)
                options = [a.describe() for a in (suggestion.time, suggestion.altitude) if a]
                advice = " or ".join(options) or "none found"
            rows.append(
                {
                    "id": c.id,
                    "mine": mine.volume_id,
                    "theirs": f"{other.party}:{other.volume_id}",
                    "state": str(c.state),
                    "from": format_clock(c.detail.start_s, weekday=False),
                    "lead time": format_lead(c.lead_time_s),
                    "adjustment": advice,
                }
            )
    _print(rows, as_json, "conflicts")


def notifications(
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
    as_json: JsonOption = False,
) -> None:
    """A party's notifications (delivering the new ones), with their state."""
    client = _client(url, token)
    if client is not None:
        with client:
            _print(remote.notifications(client), as_json, "notifications")
        return
    party = _acting(party)
    with _hub(db) as hub:
        hub.deliver(party)
        rows = [
            {
                "id": n.id,
                "kind": str(n.kind),
                "about": n.notice_id or n.conflict_id or "",
                "via": n.via or "",
                "state": str(n.state),
                "lead time": format_lead(n.lead_time_s),
                "ack by": format_clock(n.ack_deadline_s, weekday=False),
            }
            for n in hub.list_notifications(party)
            if n.recipient == party
        ]
    _print(rows, as_json, "notifications")


def ack(
    notification_id: Annotated[str, typer.Argument(help="The notification to acknowledge.")],
    db: DbOption,
    url: UrlOption,
    token: TokenOption,
    party: PartyOption = None,
) -> None:
    """Acknowledge a notification sent to the party."""
    client = _client(url, token)
    if client is not None:
        with client:
            typer.echo(remote.ack(client, notification_id))
        return
    party = _acting(party)
    with _hub(db) as hub:
        done = hub.acknowledge(party, notification_id)
    typer.echo(f"acknowledged {done.id}")


def register(app: typer.Typer) -> None:
    """Add these commands to the top-level app."""
    app.add_typer(party_app, name="party")
    app.add_typer(agreement_app, name="agreement")
    app.add_typer(notice_app, name="notice")
    app.add_typer(plan_app, name="plan")
    app.command()(conflicts)
    app.command()(notifications)
    app.command()(ack)
