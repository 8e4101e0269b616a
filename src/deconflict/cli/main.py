"""The ``deconflict`` command: the Typer app, its sub-commands and the one error handler.

Errors are one line on stderr and a non-zero exit, never a traceback: 2 for bad input (including
an invalid volume), 1 for anything else deconflict reports.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from deconflict.cli.demo import demo
from deconflict.cli.detect import detect
from deconflict.cli.doctor import doctor
from deconflict.cli.ledger import ledger_app
from deconflict.cli.records import register
from deconflict.cli.serve import serve, token_app
from deconflict.errors import DeconflictError, InvalidInput
from deconflict.settings import SETTINGS

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="deconflict",
    help="Advance notice and deconfliction of planned air activity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ledger_key: Annotated[
        Path | None,
        typer.Option(
            "--ledger-key",
            help=f"The ledger's signing key file, for any command (as {SETTINGS['ledger-key'].env}"
            "; a serve's workers take it too).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Advance notice and deconfliction of planned air activity between parties that share
    airspace but not plans."""
    if ledger_key is not None:
        # Through the setting, so that every hub this process opens, and every process it
        # starts (serve's workers), signs with it.
        os.environ[SETTINGS["ledger-key"].env] = str(ledger_key)


app.command()(demo)
app.command()(detect)
register(app)
app.add_typer(ledger_app, name="ledger")
app.command()(serve)
app.command()(doctor)
app.add_typer(token_app, name="token")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status. The environment is as it was after: ``--ledger-key``
    sets its variable for the command only (a program calling this, tests too, keeps its own)."""
    name = SETTINGS["ledger-key"].env
    before = os.environ.get(name)
    try:
        app(args=argv, prog_name="deconflict")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except DeconflictError as error:
        typer.echo(f"error: {error}", err=True)
        return 2 if isinstance(error, InvalidInput) else 1
    except KeyboardInterrupt:
        return 130
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
