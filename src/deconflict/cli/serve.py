"""``deconflict serve`` (the HTTP service under uvicorn) and ``deconflict token issue`` (a token
from the local issuer, whose key is made beside the database on first use)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from deconflict.settings import SETTINGS, local_state_path, setting_value

__all__ = ["serve", "sign_in_links", "token_app"]

token_app = typer.Typer(help="Bearer tokens from the local issuer.", no_args_is_help=True)


def _option(name: str, flag: str) -> Any:
    setting = SETTINGS[name]
    return typer.Option(flag, help=setting.help, envvar=setting.env)


def serve(
    db: Annotated[str | None, _option("db", "--db")] = None,
    host: Annotated[str | None, _option("host", "--host")] = None,
    port: Annotated[int | None, _option("port", "--port")] = None,
    issuers: Annotated[Path | None, _option("issuers", "--issuers")] = None,
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
    operations view at /."""
    import uvicorn

    from deconflict.api import ApiSettings, create_app
    from deconflict.cli.common import geo_limits

    path = db if db is not None else setting_value("db")
    bind = host or setting_value("host")
    listen = port if port is not None else int(setting_value("port"))
    if links:
        for party, link in sign_in_links(path, f"http://{_url_host(bind)}:{listen}/"):
            typer.echo(f"{party:>8}  {link}")
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
        host=bind,
        port=listen,
        access_log=False,
        timeout_graceful_shutdown=5,  # open event streams would otherwise hold the exit
        log_level="warning",
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
