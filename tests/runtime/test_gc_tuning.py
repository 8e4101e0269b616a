"""``deconflict serve`` collects garbage less often (DECONFLICT_GC_THRESHOLD): each of its
processes, the workers of ``--workers N`` included, gets the threshold; a bad value is refused
with a one-line error; an app made in a program of one's own leaves Python's collector alone."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from tests.api.harness import client, make_db

from deconflict.api import ApiSettings
from deconflict.cli import serve as serve_command


def test_tune_gc_sets_the_threshold_and_freezes_what_exists():
    """In a process of its own (it changes the process's collector for good)."""
    code = (
        "import gc; from deconflict.runtime.runtime import tune_gc; before = gc.get_threshold(); "
        "tune_gc(12345); after = gc.get_threshold(); "
        "print(after[0], after[1:] == before[1:], gc.get_freeze_count() > 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["12345", "True", "True"]


def test_the_workers_of_serve_get_the_threshold(monkeypatch, tmp_path):
    """The settings handed to ``--workers N``'s processes carry it to each one's app."""
    made: list[Any] = []
    monkeypatch.setattr("deconflict.api.create_app", made.append)
    settings = ApiSettings(db=str(tmp_path / "hub.db"), gc_threshold=4321)
    monkeypatch.setenv("_DECONFLICT_SERVE_WORKER", serve_command._settings_json(settings))
    serve_command.worker_app()
    assert [s.gc_threshold for s in made] == [4321]
    assert json.loads(serve_command._settings_json(settings))["gc_threshold"] == 4321


@pytest.mark.parametrize("value", ["lots", "-1"])
def test_a_bad_threshold_is_refused_before_serving(tmp_path, value):
    """A process, with a time limit: a value let through would serve until killed."""
    done = subprocess.run(
        [sys.executable, "-m", "deconflict.cli.main", "serve", "--db", str(tmp_path / "hub.db")],
        env={**os.environ, "DECONFLICT_GC_THRESHOLD": value, "DECONFLICT_PORT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: DECONFLICT_GC_THRESHOLD=")
    assert "Traceback" not in done.stderr


@pytest.mark.anyio
async def test_an_app_of_one_s_own_leaves_the_collector_alone(tmp_path):
    before = gc.get_threshold()
    async with client(make_db(tmp_path)) as http:
        assert (await http.get("/readyz")).status_code == 200
    assert gc.get_threshold() == before
