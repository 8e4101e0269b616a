"""``deconflict serve`` (the HTTP service under uvicorn) and ``deconflict token issue`` (a token
from the local issuer, whose key is made beside the database on first use)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from deconflict.settings import SETTINGS, local_state_path, setting_value

__all__ = ["serve", "token_app"]

token_app = typer.Typer(help="Bearer tokens from the local issuer.", no_args_is_help=True)


def _option(name: str, flag: str) -> Any:
    setting = SETTINGS[name]
    return typer.Option(flag, help=setting.help, envvar=setting.env)


def serve(
    db: Annotated[str | None, _option("db", "--db")] = None,
    host: Annotated[str | None, _option("host", "--host")] = None,
    port: Annotated[int | None, _option("port", "--port")] = None,
    issuers: Annotated[Path | None, _option("issuers", "--issuers")] = None,
) -> None:
    """Run the hub as an HTTP service (the API under /v1, OpenAPI at /openapi.json)."""
    import uvicorn

    from deconflict.api import ApiSettings, create_app
    from deconflict.cli.common import geo_limits

    path = db if db is not None else setting_value("db")
    issuers_file = issuers or (Path(setting_value("issuers")) if setting_value("issuers") else None)
    settings = ApiSettings(
        db=path,
        issuers_file=issuers_file,
        geo_limits=geo_limits(),
        rate_per_s=float(setting_value("rate-per-s")),
        rate_burst=float(setting_value("rate-burst")),
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("deconflict.api")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    uvicorn.run(
        create_app(settings),
        host=host or setting_value("host"),
        port=port if port is not None else int(setting_value("port")),
        access_log=False,
        timeout_graceful_shutdown=5,  # open event streams would otherwise hold the exit
        log_level="warning",
    )


@token_app.command("issue")
def token_issue(
    party: Annotated[str, typer.Option("--party", "--as", help="The party the token acts for.")],
    scope: Annotated[
        list[str],
        typer.Option(help="A scope to grant (read, notice, plan, ack, admin); repeat for more."),
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
