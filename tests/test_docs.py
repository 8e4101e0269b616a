"""The README cannot go stale: every command and setting is documented, and it opens with the
two set-up commands."""

from __future__ import annotations

from pathlib import Path

import typer

from deconflict.cli.main import app
from deconflict.settings import SETTINGS

README = (Path(__file__).parents[1] / "README.md").read_text()


def command_paths(group: typer.Typer, prefix: str = "deconflict") -> list[str]:
    paths = []
    for command in group.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        paths.append(f"{prefix} {name}")
    for sub in group.registered_groups:
        paths.extend(command_paths(sub.typer_instance, f"{prefix} {sub.name}"))
    return paths


def test_every_command_is_documented():
    """Each CLI command appears in the README as `deconflict ...`."""
    paths = command_paths(app)
    assert len(paths) >= 12
    missing = [p for p in paths if f"`{p}" not in README]
    assert missing == []


def test_every_setting_is_documented():
    """Each setting's environment variable and default appear in the README."""
    for setting in SETTINGS.values():
        assert setting.env in README
        assert f"`{setting.default}`" in README


def test_readme_opens_with_the_two_commands():
    """The first code block is `make demo` and `make test`."""
    block = README.split("```")[1]
    assert "make demo" in block
    assert "make test" in block
