"""The package as a user installs it: `make dist`'s wheel in a clean virtual environment, then
`deconflict serve` answers the API, the operations view and the API docs from the wheel's own
files, and `deconflict demo` writes its report without the `report` extra (matplotlib).

How the clean environment gets its dependencies without the network: it is a new ``python -m
venv`` into which only the wheel is installed (``pip install --no-deps --no-index``), and a
``.pth`` file adds the project's ``.venv`` site-packages after its own. That is the same set of
dependencies, at the versions pyproject.toml pins, that ``pip install dist/*.whl`` would fetch,
and nothing of the source tree: the project's editable install is a ``.pth`` hook of that
site-packages, and Python runs the ``.pth`` files of site directories only, not of folders a
``.pth`` adds; the environment's own site-packages comes first, so ``deconflict`` is the wheel's
(checked below). matplotlib, which the project's .venv has for the `report` extra, is made
unimportable in the clean environment, as it is for a user who did not ask for the extra.
Nothing runs in the source tree: the commands run in a temporary folder, and web/node_modules
is never read (the wheel carries its copy of what the pages load).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import signal
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deconflict.testing import ServeOutput, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "web" / "node_modules"
#: How long the installed server may take to answer /readyz (polled; it is usually ~2 s).
READY_DEADLINE_S = 60.0

#: Imported by the clean environment's site-packages at start: matplotlib cannot be imported,
#: as in an environment installed without the `report` extra.
NO_REPORT_EXTRA = """
import importlib.abc
import sys


class _NoReportExtra(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoReportExtra())
"""


@dataclass(frozen=True)
class Installed:
    """A clean virtual environment with the wheel installed: its ``bin`` folder and the
    built distributions."""

    bin: Path
    wheel: Path
    sdist: Path


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment of a user's shell with the clean venv activated: no PYTHONPATH, no
    deconflict settings but the state folder (the tests' own, see tests/conftest.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DECONFLICT_"))}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    env["DECONFLICT_STATE_DIR"] = os.environ["DECONFLICT_STATE_DIR"]
    return env


@contextlib.contextmanager
def _one_build_at_a_time() -> Iterator[None]:
    """An exclusive lock on this checkout's builds, held across processes."""
    name = hashlib.sha256(str(ROOT).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"deconflict-build-{name}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`make dist`'s build (sdist, then the wheel built from the sdist), installed alone into
    a new virtual environment."""
    vendor = ROOT / "src" / "deconflict" / "web" / "vendor"
    assert (vendor / "swagger-ui").is_dir(), f"{vendor} is missing: run `make setup`"
    dist = tmp_path_factory.mktemp("dist")
    # Each xdist worker has a session of its own, and setuptools builds in the checkout
    # (its egg-info, the sdist's staging directory): one build at a time, or they collide
    # ("No such file or directory: 'deconflict-0.1.0/src/deconflict.egg-info'").
    with _one_build_at_a_time():
        _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=dist)
    (wheel,) = dist.glob("deconflict-*.whl")
    (sdist,) = dist.glob("deconflict-*.tar.gz")
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=dist)
    python = venv / "bin" / "python"
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
        "--no-deps", "--no-index", wheel, cwd=dist,
    )  # fmt: skip
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=dist
        ).strip()
    )
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "zz_project_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    (site / "_no_report_extra.py").write_text(NO_REPORT_EXTRA)
    (site / "_no_report_extra.pth").write_text("import _no_report_extra\n")
    return Installed(venv / "bin", wheel, sdist)


def test_the_wheel_and_the_sdist_carry_the_view_and_what_it_loads(installed: Installed) -> None:
    """Both distributions hold the view's files, the vendored npm files and the API docs'."""
    wanted = [
        "deconflict/web/static/index.html",
        "deconflict/web/static/app.js",
        "deconflict/web/static/docs.html",
        "deconflict/web/static/docs.js",
        "deconflict/web/vendor/leaflet/leaflet.js",
        "deconflict/web/vendor/leaflet/images/layers.png",
        "deconflict/web/vendor/topojson-client/topojson-client.min.js",
        "deconflict/web/vendor/world-atlas/countries-50m.json",
        "deconflict/web/vendor/swagger-ui/swagger-ui-bundle.js",
        "deconflict/web/vendor/swagger-ui/LICENSE",
        "deconflict/store/migrations/env.py",
    ]
    in_wheel = set(zipfile.ZipFile(installed.wheel).namelist())
    with tarfile.open(installed.sdist) as sdist:
        in_sdist = {name.partition("/")[2] for name in sdist.getnames()}
    for name in wanted:
        assert name in in_wheel, f"{name} is not in the wheel"
        assert f"src/{name}" in in_sdist, f"{name} is not in the sdist"


def test_the_cli_in_the_clean_environment_is_the_wheels(installed: Installed) -> None:
    """The installed command runs the installed package (not the source tree), without
    matplotlib, and `--help` imports none of the heavy libraries."""
    venv = installed.bin.parent
    code = (
        "import sys, deconflict, deconflict.cli.main as m; "
        "print(deconflict.__file__); "
        "import importlib.util as u; print(u.find_spec('numpy') is not None); "
        "m.main(['--help']); "
        "print(sorted({n.split('.')[0] for n in sys.modules} & "
        "{'matplotlib', 'numpy', 'sqlalchemy', 'fastapi', 'psycopg'}))"
    )
    out = _run(installed.bin / "python", "-c", code, cwd=venv, env=_clean_env(venv)).splitlines()
    assert Path(out[0]).is_relative_to(venv), out[0]
    assert out[1] == "True"  # the dependencies are there ...
    assert out[-1] == "[]"  # ... and --help needs none of them
    with pytest.raises(AssertionError, match="matplotlib"):
        _run(installed.bin / "python", "-c", "import matplotlib", cwd=venv, env=_clean_env(venv))


@contextlib.contextmanager
def _serving(installed: Installed, db: Path) -> Iterator[str]:
    """``deconflict serve`` of the clean environment on 127.0.0.1, once /readyz answers; it
    and every process it started (its detector) are ended however the test ends."""
    port = free_port()
    venv = installed.bin.parent
    log = db.with_suffix(".log")
    with log.open("w+b") as output:
        process = subprocess.Popen(
            [installed.bin / "deconflict", "serve", "--db", db, "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=db.parent, env=_clean_env(venv), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        assert process.stdout is not None
        copied = ServeOutput(process.stdout, output)  # it says when it is ready
        try:
            url = f"http://127.0.0.1:{port}"
            copied.wait_ready(url, READY_DEADLINE_S)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group: no detector left behind
            process.wait(5)
            copied.close()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200, url
        return bytes(answer.read())


def _local_references(page: str) -> list[str]:
    """Every script and stylesheet (and icon) a page loads; each must be on this origin."""
    found = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page)
    assert found
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in found), found
    return found


def test_the_installed_serve_answers_the_view_and_the_docs_offline(
    installed: Installed, tmp_path: Path
) -> None:
    """`deconflict serve` from the wheel answers 200 for the page, everything it loads, the
    API docs page and what it loads, and the OpenAPI document; the vendored files are npm's."""
    with _serving(installed, tmp_path / "hub.db") as url:
        view = _get(f"{url}/").decode()
        docs = _get(f"{url}/docs").decode()
        assert 'id="map"' in view
        assert 'id="swagger-ui"' in docs
        for ref in [*_local_references(view), *_local_references(docs)]:
            assert _get(url + ref), ref
        assert (
            _get(f"{url}/vendor/leaflet/leaflet.js")
            == (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").read_bytes()
        )
        assert (
            _get(f"{url}/vendor/swagger-ui/swagger-ui-bundle.js")
            == (NODE_MODULES / "swagger-ui-dist" / "swagger-ui-bundle.js").read_bytes()
        )
        assert _get(f"{url}/vendor/world-atlas/countries.json").startswith(b'{"type":"Topology"')
        assert b"/v1/notices" in _get(f"{url}/openapi.json")
        with pytest.raises(urllib.error.HTTPError) as missing:
            _get(f"{url}/vendor/no-such-package/x.js")
        missing.value.close()
        assert missing.value.code == 404


def test_the_installed_demo_writes_its_report_without_the_report_extra(
    installed: Installed, tmp_path: Path
) -> None:
    """Without matplotlib the demo still plays and writes its report and map.html (Leaflet
    from the wheel), says how to get the PNG, and writes none."""
    venv = installed.bin.parent
    out = _run(
        installed.bin / "deconflict", "demo", "--report", tmp_path / "report",
        cwd=tmp_path, env=_clean_env(venv),
    )  # fmt: skip
    assert "pip install 'deconflict[report]'" in out
    assert (tmp_path / "report" / "summary.md").is_file()
    assert (tmp_path / "report" / "map.html").stat().st_size > 100_000
    assert not (tmp_path / "report" / "map.png").exists()
