"""What the browser tests stand on: Debian's Chromium driven by Playwright, a real `deconflict
serve` of the demo scenario on 127.0.0.1, and a folder for the screenshots of each step.

Chromium is /usr/bin/chromium (``make test`` installs Debian's package when it is missing);
Playwright never downloads a browser. Without it these tests fail and say how to install it, unless
DECONFLICT_SKIP_BROWSER=1 asks to skip them explicitly: CI has it, and a silent skip would hide a
broken map.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deconflict.testing import served

CHROMIUM = Path("/usr/bin/chromium")
#: Screenshots of each step go here (kept by CI as test artifacts).
ARTIFACTS = Path(
    os.environ.get(
        "DECONFLICT_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"
    )
)


def need_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("DECONFLICT_SKIP_BROWSER") == "1":
        pytest.skip(f"{CHROMIUM} missing and DECONFLICT_SKIP_BROWSER=1")
    pytest.fail(
        f"{CHROMIUM} is missing: `make test` installs Debian's chromium package "
        "(or `apt-get install chromium`); set DECONFLICT_SKIP_BROWSER=1 to skip these tests"
    )


def screenshot(page: Any, name: str) -> Path:
    """Save the page as ARTIFACTS/browser/<name>.png and return the path."""
    folder = ARTIFACTS / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@dataclass
class DemoHub:
    """A `deconflict serve` of the demo scenario: its URL, each party's sign-in link (from
    ``--links``) and token, and the demo's report folder (with map.html)."""

    url: str
    links: dict[str, str]
    report: Path

    def token(self, party: str) -> str:
        return self.links[party].split("#token=", 1)[1]

    def api(self, party: str, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": f"Bearer {self.token(party)}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def serve_demo(folder: Path) -> Iterator[DemoHub]:
    """Play the demo into ``folder``, then serve its database on an ephemeral loopback port."""
    from deconflict.demo.runner import run_demo

    run_demo(folder, echo=lambda _line: None)
    output = folder / "serve.log"
    # The demo is November 2015's: the map reaches back to it, as `make serve` has it.
    everything = {**os.environ, "DECONFLICT_MAP_HISTORY_DAYS": "0"}
    with served(folder / "demo.db", "--links", env=everything, cwd=folder, output=output) as url:
        # The links were printed before the server started.
        words = (line.split() for line in output.read_text().splitlines())
        links = {w[0]: w[1] for w in words if len(w) == 2 and "#token=" in w[1]}
        yield DemoHub(url=url, links=links, report=folder)
