"""``deconflict demo``: the Raqqa 2015 week played through a real hub in simulated time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deconflict.settings import SETTINGS, setting_value

__all__ = ["demo"]


def demo(
    report: Annotated[
        Path,
        typer.Option(
            help=SETTINGS["report"].help,
            envvar=SETTINGS["report"].env,
            default_factory=lambda: Path(setting_value("report")),
            show_default=SETTINGS["report"].default,
        ),
    ],
    scenario: Annotated[
        Path | None, typer.Option(help="Another scenario file (default: Raqqa 2015).")
    ] = None,
) -> None:
    """Play the seeds' week as a timeline and write a report (Markdown, GeoJSON, PNG map)."""
    from deconflict.demo.runner import run_demo  # here: the hub is not needed for --help

    run_demo(report, typer.echo, scenario)
