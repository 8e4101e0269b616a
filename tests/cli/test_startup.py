"""The CLI starts at once: building every command's help imports none of the heavy libraries
(each is imported by the command that uses it, when it runs). A test of imports, not of time:
what they cost is quoted in the README (``/usr/bin/time deconflict --help``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deconflict.cli.main import main
from deconflict.cli.records import NOTICE_STATES
from deconflict.model import NoticeState

#: What no help may import: the PNG report's, the databases', the server's, the geometry's.
HEAVY = ("matplotlib", "psycopg", "sqlalchemy", "fastapi", "uvicorn", "numpy", "shapely")

_PROBE = """
import contextlib, io, json, sys
from deconflict.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.stdin.read())))
print(json.dumps({"code": code, "help": out.getvalue(), "heavy": heavy}))
"""


def _help(*command: str) -> dict[str, object]:
    """Run ``deconflict COMMAND --help`` in a fresh interpreter; its exit code, its help and
    the heavy libraries it had imported by the end."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *command, "--help"],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "command",
    [(), ("detect",), ("notice", "list"), ("serve",), ("ledger", "verify"), ("demo",)],
    ids=lambda c: " ".join(c) or "deconflict",
)
def test_help_imports_no_heavy_library(command: tuple[str, ...]) -> None:
    """`deconflict [COMMAND] --help` prints its help having imported none of HEAVY."""
    result = _help(*command)
    assert result["code"] == 0
    assert "Usage" in str(result["help"])
    assert result["heavy"] == []


def test_notice_states_are_the_models() -> None:
    """`notice list --state` takes exactly the model's notice states (written out in the CLI
    so that its help needs no model)."""
    assert tuple(state.value for state in NoticeState) == NOTICE_STATES


def test_an_unknown_notice_state_is_refused_naming_the_option(tmp_path, capsys) -> None:
    """A state that is not one of them is bad input (exit 2) naming --state and the states."""
    code = main(["notice", "list", "--db", str(tmp_path / "x.db"), "--as", "US",
                 "--state", "landed"])  # fmt: skip
    said = " ".join(capsys.readouterr().err.replace("│", " ").split())  # as one line
    assert code == 2
    assert "--state" in said
    assert "'landed' is not one of filed, active, ended, cancelled" in said
