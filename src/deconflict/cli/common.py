"""What every CLI command shares: the common options (``--db``, or ``--url`` and ``--token``;
``--as``; ``--json``), one-line errors and reading input files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from deconflict.errors import InvalidDocument
from deconflict.settings import SETTINGS, number_setting, setting_value, whole_setting

if TYPE_CHECKING:
    from deconflict.geo import GeoLimits

__all__ = [
    "DbOption",
    "JsonOption",
    "PartyOption",
    "TokenOption",
    "UrlOption",
    "fail",
    "geo_limits",
    "read_json",
]


def _setting_option(name: str, flag: str, show_default: bool | str = False) -> Any:
    """A string option backed by the setting ``name``: its help, its environment variable, and
    its value (or default) when the option is not given."""
    setting = SETTINGS[name]
    return typer.Option(
        flag,
        help=setting.help,
        envvar=setting.env,
        default_factory=lambda: setting_value(name),
        show_default=show_default,
    )


DbOption = Annotated[str, _setting_option("db", "--db", show_default=SETTINGS["db"].default)]
PartyOption = Annotated[
    str | None,
    typer.Option("--party", "--as", help="The acting party's id (remote: the token's party)."),
]
UrlOption = Annotated[str, _setting_option("url", "--url")]
TokenOption = Annotated[str, _setting_option("token", "--token")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def geo_limits() -> GeoLimits:
    """The footprint limits from the settings (environment variables or defaults)."""
    from deconflict.geo import GeoLimits  # here: numpy and shapely are not needed for --help

    return GeoLimits(
        whole_setting("max-vertices"),
        number_setting("max-area-m2"),
        whole_setting("max-record-points"),
    )


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def read_json(path: Path) -> object:
    """A JSON file's content; a missing, unreadable or malformed file is InvalidDocument."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidDocument(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidDocument(f"{path}: cannot read it ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidDocument(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except RecursionError:
        raise InvalidDocument(f"{path}: nested too deep to read") from None
    except ValueError:  # an integer of thousands of digits, which Python will not read
        raise InvalidDocument(f"{path}: holds a number too long to read") from None
