"""The README's service session runs as written: two parties, a notice, the other party's alert
over server-sent events, its acknowledgement (on a free port, in a temp folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.api.harness import circle, notice_body

from deconflict.testing import free_port

README = (Path(__file__).parents[2] / "README.md").read_text()


def session_script() -> str:
    return README.split("<!-- session -->\n```sh\n", 1)[1].split("```", 1)[0]


def readme_agreement() -> dict:
    block = README.split("An agreement file:\n\n```json\n", 1)[1].split("```", 1)[0]
    return json.loads(block)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the session uses curl")
def test_readme_session(tmp_path):
    """US receives RU's notice as an event, acknowledges it, and its list shows it acknowledged."""
    (tmp_path / "mou.json").write_text(json.dumps(readme_agreement()))
    (tmp_path / "ru.json").write_text(json.dumps(notice_body(circle("ru-1"))))
    script = session_script().replace("8080", str(free_port()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONFLICT_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-e", "-c", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "filed notice RU-N1" in out
    assert "event: notification" in out
    assert '"notice_id":"RU-N1"' in out
    assert "acknowledged " in out
    listed = json.loads(out[out.rindex("\n[") :])
    assert listed[0]["state"] == "acknowledged"
