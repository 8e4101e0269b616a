"""The documents cannot go stale: every command, setting and accepted range is documented, every
link between them leads somewhere, and the README opens with the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from deconflict import ranges
from deconflict.cli.main import app
from deconflict.geo.units import epoch_to_rfc3339
from deconflict.settings import SETTINGS, TABLE_BEGIN, TABLE_END, markdown_table

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
CLI = (ROOT / "docs" / "cli.md").read_text()
LEDGER = (ROOT / "docs" / "ledger.md").read_text()
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text()


def command_paths(group: typer.Typer, prefix: str = "deconflict") -> list[str]:
    paths = []
    for command in group.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        paths.append(f"{prefix} {name}")
    for sub in group.registered_groups:
        paths.extend(command_paths(sub.typer_instance, f"{prefix} {sub.name}"))
    return paths


def test_every_command_is_documented():
    """Each CLI command appears in docs/cli.md (the ledger's in docs/ledger.md) as
    `deconflict ...`."""
    paths = command_paths(app)
    assert len(paths) >= 12
    missing = [p for p in paths if f"`{p}" not in CLI + LEDGER]
    assert missing == []


def test_every_command_the_documents_name_exists():
    """Each `deconflict ...` the README and docs/ name in code is a command of the CLI (a
    renamed or removed command leaves no stale line behind)."""
    paths = set(command_paths(app))
    groups = {p.rsplit(" ", 1)[0] for p in paths if p.count(" ") > 1}
    named = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for words in re.findall(r"`deconflict ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", doc.read_text()):
            first = f"deconflict {words.split()[0]}"
            named.add(first if first in paths else f"deconflict {words}")
    unknown = [n for n in sorted(named) if n not in paths and n not in groups]
    assert unknown == []


def test_the_settings_table_is_generated_from_the_registry():
    """docs/settings.md holds the table ``python -m deconflict.settings`` makes of today's
    registry: a setting added, removed or changed without rewriting it fails here."""
    shown = TABLE_BEGIN + SETTINGS_DOC.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0] + TABLE_END
    assert shown == markdown_table()
    for setting in SETTINGS.values():
        assert f"`{setting.env}`" in shown


def test_every_link_between_the_documents_leads_to_a_file():
    """Each relative link in the README and docs/ names a file of the repository."""
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target:
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.name}: {target}")
    assert broken == []


def test_readme_opens_with_the_two_commands():
    """The first code block is `make demo` and `make test`."""
    block = README.split("```")[1]
    assert "make demo" in block
    assert "make test" in block


def test_every_accepted_range_is_documented():
    """Each range of ``deconflict.ranges`` appears in docs/cli.md's table of accepted values."""
    section = CLI.split("## Accepted values", 1)[1].split("\n## ", 1)[0]
    shown = [
        epoch_to_rfc3339(ranges.EARLIEST_S),
        epoch_to_rfc3339(ranges.LATEST_S),
        f"{ranges.MAX_WINDOW_S / 86_400:g} days",
        f"±{ranges.MAX_ALTITUDE_M:,.0f} m",
        f"at least {ranges.MIN_WIDTH_M:g} m",
        f"1 to {ranges.MAX_VOLUMES:,}",
        f"0 to {ranges.MAX_LEAD_TIME_S:,.0f} s",
        f"0 to {ranges.MAX_ACK_DEADLINE_S:,.0f} s",
        f"0 to {ranges.MAX_HORIZONTAL_M:,.0f} m",
        f"0 to {ranges.MAX_VERTICAL_M:,.0f} m",
        f"0 to {ranges.MAX_TIME_SEPARATION_S:,.0f} s",
        f"at most {ranges.MAX_TOKEN_TTL_S / 86_400:g} days",
    ]
    assert [text for text in shown if text not in section] == []
