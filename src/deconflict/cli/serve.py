"""``deconflict serve`` (the HTTP service under uvicorn) and ``deconflict token issue`` (a token
from the local issuer, whose key is made beside the database on first use)."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deconflict.settings import SETTINGS, local_state_path, setting_value, whole_setting

if TYPE_CHECKING:
    from deconflict.model import Agreement

__all__ = ["serve", "sign_in_links", "token_app", "worker_app"]

# How the supervising process hands the worker processes their settings (internal, not a setting).
_WORKER_SETTINGS = "_DECONFLICT_SERVE_WORKER"

token_app = typer.Typer(help="Bearer tokens from the local issuer.", no_args_is_help=True)


def _option(name: str, flag: str) -> Any:
    setting = SETTINGS[name]
    return typer.Option(flag, help=setting.help, envvar=setting.env)


def serve(
    db: Annotated[str | None, _option("db", "--db")] = None,
    host: Annotated[str | None, _option("host", "--host")] = None,
    port: Annotated[int | None, _option("port", "--port")] = None,
    issuers: Annotated[Path | None, _option("issuers", "--issuers")] = None,
    workers: Annotated[int | None, _option("workers", "--workers")] = None,
    webhook_allow_networks: Annotated[
        str | None, _option("webhook-allow-networks", "--webhook-allow-networks")
    ] = None,
    webhook_key: Annotated[Path | None, _option("webhook-key", "--webhook-key")] = None,
    detector_process: Annotated[
        bool | None,
        typer.Option(
            "--detector-process/--no-detector-process",
            help=SETTINGS["detector-process"].help,
            envvar=SETTINGS["detector-process"].env,
        ),
    ] = None,
    links: Annotated[
        bool,
        typer.Option(
            "--links",
            help="Print a sign-in link to the operations view for each party (a 12 h token "
            "with the read and ack scopes, in the link's fragment).",
        ),
    ] = False,
) -> None:
    """Run the hub as an HTTP service: the API under /v1 (OpenAPI at /openapi.json) and the
    operations view at /. With --workers N, N processes serve one database, a SQLite file or
    PostgreSQL (each with its own connections and hub). One process at a time detects, the
    detector lease holder: by default a process of its own beside the HTTP workers."""
    from deconflict.api import ApiSettings, create_app, server
    from deconflict.cli.common import fail, geo_limits
    from deconflict.runtime.detector_process import DetectorProcess
    from deconflict.runtime.logs import log_to_stderr
    from deconflict.runtime.webhooks import parse_networks

    path = db if db is not None else setting_value("db")
    bind = host or setting_value("host")
    listen = port if port is not None else int(setting_value("port"))
    processes = workers if workers is not None else _whole_setting("workers")
    if processes < 1:
        fail(f"--workers must be at least 1, not {processes}")
    if links:
        for party, link in sign_in_links(path, f"http://{_url_host(bind)}:{listen}/"):
            typer.echo(f"{party:>8}  {link}")
    issuers_file = issuers or (Path(setting_value("issuers")) if setting_value("issuers") else None)
    allowed = parse_networks(
        webhook_allow_networks
        if webhook_allow_networks is not None
        else setting_value("webhook-allow-networks")
    )
    key_file = webhook_key or (
        Path(setting_value("webhook-key")) if setting_value("webhook-key") else None
    )
    settings = ApiSettings(
        db=path,
        issuers_file=issuers_file,
        geo_limits=geo_limits(),
        rate_per_s=float(setting_value("rate-per-s")),
        rate_burst=float(setting_value("rate-burst")),
        streams_per_party=_whole_setting("streams-per-party"),
        map_history_s=86_400.0 * _whole_setting("map-history-days"),
        gc_threshold=_whole_setting("gc-threshold"),
        webhook_allow_networks=tuple(str(n) for n in allowed),
        webhook_key=key_file,
        end_streams_on_signals=True,
    )
    options: dict[str, Any] = {
        "host": bind,
        "port": listen,
        "access_log": False,
        # The event streams end at SIGTERM and SIGINT (deconflict.api.closing); this bounds
        # any other response still open.
        "timeout_graceful_shutdown": 5,
        "log_level": "warning",
    }
    # The option reads DECONFLICT_DETECTOR_PROCESS itself (1/0, true/false); unset, the default.
    apart = (
        detector_process
        if detector_process is not None
        else SETTINGS["detector-process"].default == "1"
    )
    log_to_stderr()
    detector = DetectorProcess(settings) if apart else None
    if detector is not None:
        _start_beside(detector, path, settings)
    else:
        _check_at_start(path)  # first: the ledger's check opens the store, which must be sound
        _refuse_a_broken_ledger(path)
        if processes > 1:
            _prepare(settings)
        else:  # the hub of this very process: its first check need not read the log again
            settings = replace(settings, ledger_checked=True)
    limits = server.HttpLimits.from_settings()
    # uvicorn raises the signal it stopped on again once it is done, which would end this
    # process before it stops the detector process: kept here, the stop below runs, then exit 0.
    kept = {signum: signal.signal(signum, _stopped) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        if processes == 1:
            server.run(server.server_config(create_app(settings), limits, **options))
        else:
            os.environ[_WORKER_SETTINGS] = _settings_json(settings)
            app = f"{__name__}:worker_app"
            config = server.server_config(app, limits, factory=True, workers=processes, **options)
            server.run(config)
    finally:
        if detector is not None:
            detector.stop()
        for signum, handler in kept.items():
            signal.signal(signum, handler)


def _start_beside(detector: Any, db: str, settings: Any) -> None:
    """Start the detector process with the checks, on the two cores, each step as soon as it
    may: the process imports while the store is checked (the quick check: nothing may open a
    damaged store), then takes the lease and builds its index while this process checks the
    whole ledger; the HTTP workers start once that check is good and the process holds the
    lease (they serve on standby while it builds). Either check failing stops it, and serve
    with it."""
    detector.spawn()
    try:
        _check_at_start(db)
        _prepare(settings)
        detector.open()
        _refuse_a_broken_ledger(db)
        detector.go(checked=True)
        detector.wait_started()
    except BaseException:
        detector.stop()
        raise


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM or SIGINT outside uvicorn's own handling (see ``serve``): already stopping."""


def _refuse_a_broken_ledger(db: str) -> None:
    """Before anything starts, the whole log checked (a SQLite file or PostgreSQL alike):
    LedgerBroken (one paragraph: what is wrong, what to run) if it no longer extends the newest
    checkpoint this hub signed, so that no process of it signs a fork of its own log, and the
    hub halted for every process on the database. If it does, a halt the database still holds
    (the backup restored was taken while halted, or the hub stopped before a repair) is stale:
    it is lifted, and said in the log."""
    import logging

    from deconflict.geo.units import rfc3339_micro
    from deconflict.hub import Hub

    with Hub.open(db) as hub:
        lifted = hub.ledger.recheck()
        _warn_of_agreements_refused_now(hub.list_agreements())
    if lifted is not None:
        logging.getLogger("deconflict.ledger").warning(
            "the whole ledger checks good, so the halt of %s is lifted; it said: %s",
            rfc3339_micro(lifted.at_s),
            lifted.reason,
        )


def _warn_of_agreements_refused_now(stored: list[Agreement]) -> None:
    """A store from before the hub refused an agreement linking two parties otherwise than
    another does (directly, or through another relay: ``policy.check_relays``) may hold one:
    kept and applied as stored, and said in the log at every start, since it shapes what the
    relay reads (security.md §3.6)."""
    import logging

    from deconflict import policy
    from deconflict.errors import InvalidInput

    for i, agreement in enumerate(stored):
        try:
            policy.check_relays(stored[:i], agreement)
        except InvalidInput as error:
            logging.getLogger("deconflict.agreements").warning(
                "%s (stored before such agreements were refused; the relay reads what both "
                "shape, security.md §3.6)",
                error,
            )


def _check_at_start(db: str) -> None:
    """Refuse to serve a damaged store (:mod:`deconflict.store.health`'s quick check), naming
    what is damaged and pointing at ``deconflict doctor``: a damaged page can make a read
    answer wrong (a notice or a conflict left out), which is worse for safety of flight than
    no answer (security.md §4.4). A store not made yet is made by the hub."""
    import logging

    from deconflict.cli.common import fail
    from deconflict.store.engines import sqlite_file
    from deconflict.store.health import check

    path = sqlite_file(db)
    if path is not None and not path.is_file():
        return
    health = check(db, full=False)
    for what in health.skipped:
        logging.getLogger("deconflict").info("check of the store skipped: %s", what)
    if not health.sound:
        fail(
            f"the store {db} is damaged ({health.summary()}) and is not served: a damaged "
            f"page can make a read answer wrong. Run `deconflict doctor --db {db}` for the "
            "details, and restore the database from a backup."
        )


def _whole_setting(name: str) -> int:
    from deconflict.cli.common import fail
    from deconflict.errors import InvalidInput

    try:
        return whole_setting(name)
    except InvalidInput as error:
        fail(str(error))


def _prepare(settings: Any) -> None:
    """Before the workers start: migrate the database and make the local issuer's, the
    ledger's and the webhook keys once, so the workers do not race to."""
    from deconflict.api.auth import local_issuer
    from deconflict.hub import Hub
    from deconflict.runtime.webhooks import WebhookKey
    from deconflict.settings import webhook_key_path

    with Hub.open(settings.db):
        pass
    if settings.trust_local:
        local_issuer(settings.state_path, create=True)
    WebhookKey.load(settings.webhook_key or webhook_key_path(settings.state_path))


def _settings_json(settings: Any) -> str:
    return json.dumps(
        {
            "db": str(settings.db),
            "issuers_file": None if settings.issuers_file is None else str(settings.issuers_file),
            "rate_per_s": settings.rate_per_s,
            "rate_burst": settings.rate_burst,
            "streams_per_party": settings.streams_per_party,
            "map_history_s": settings.map_history_s,
            "max_vertices": settings.geo_limits.max_vertices,
            "max_area_m2": settings.geo_limits.max_area_m2,
            "max_record_points": settings.geo_limits.max_record_points,
            "gc_threshold": settings.gc_threshold,
            "webhook_allow_networks": list(settings.webhook_allow_networks),
            "webhook_key": None if settings.webhook_key is None else str(settings.webhook_key),
            "supervisor": os.getpid(),
        }
    )


def worker_app() -> Any:
    """The app of one worker process of ``deconflict serve --workers N`` (uvicorn's factory),
    with the settings the supervising process passed down."""
    from deconflict.api import ApiSettings, create_app
    from deconflict.geo import GeoLimits
    from deconflict.runtime.lifeline import follow_parent
    from deconflict.runtime.logs import log_to_stderr

    given = json.loads(os.environ[_WORKER_SETTINGS])
    follow_parent(given["supervisor"])  # a worker does not outlive its supervisor
    log_to_stderr()
    return create_app(
        ApiSettings(
            db=given["db"],
            issuers_file=None if given["issuers_file"] is None else Path(given["issuers_file"]),
            rate_per_s=given["rate_per_s"],
            rate_burst=given["rate_burst"],
            streams_per_party=given["streams_per_party"],
            map_history_s=given["map_history_s"],
            geo_limits=GeoLimits(
                given["max_vertices"], given["max_area_m2"], given["max_record_points"]
            ),
            gc_threshold=given["gc_threshold"],
            webhook_allow_networks=tuple(given["webhook_allow_networks"]),
            webhook_key=None if given["webhook_key"] is None else Path(given["webhook_key"]),
            end_streams_on_signals=True,
        )
    )


def _url_host(bind: str) -> str:
    if bind in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{bind}]" if ":" in bind else bind


def sign_in_links(db: str, base_url: str, ttl_s: float = 12 * 3600.0) -> list[tuple[str, str]]:
    """For each party of ``db``: a link to the operations view that signs it in. The token is
    in the fragment, which the browser keeps to itself (never sent to the server or logged)."""
    from deconflict.api.auth import issue_local_token
    from deconflict.hub import Hub

    with Hub.open(db) as hub:
        parties = [p.id for p in hub.list_parties()]
    key_home = local_state_path(db)
    return [
        (party, f"{base_url}#token={issue_local_token(key_home, party, ['read', 'ack'], ttl_s)}")
        for party in parties
    ]


@token_app.command("issue")
def token_issue(
    party: Annotated[str, typer.Option("--party", "--as", help="The party the token acts for.")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="A scope to grant (read, notice, plan, ack, admin; metrics for the operator's "
            "/metrics); repeat for more."
        ),
    ],
    db: Annotated[str | None, _option("db", "--db")] = None,
    ttl_s: Annotated[float, typer.Option("--ttl-s", help="Lifetime in seconds.")] = 86_400.0,
) -> None:
    """Print a bearer token for a party from the local issuer (key made beside --db)."""
    from deconflict.api.auth import issue_local_token
    from deconflict.errors import InvalidInput
    from deconflict.hub import Hub

    path = db if db is not None else setting_value("db")
    with Hub.open(path) as hub:
        if party not in {p.id for p in hub.list_parties()}:
            raise InvalidInput(f"no party {party!r} (add it with `deconflict party add`)")
    scopes = [s for item in scope for s in item.replace(",", " ").split()]
    typer.echo(issue_local_token(local_state_path(path), party, scopes, ttl_s))
