"""A real ``deconflict serve`` for integration tests and benchmarks: in a process of its own, on
127.0.0.1 and a free port, used once its ``/readyz`` answers, stopped (then killed) afterwards.

    with served("hub.db") as url:
        Client(url, token=...).notices()
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

__all__ = ["free_port", "served"]

#: How long a server may take to become ready.
READY_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 free at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], log: IO[bytes], url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"deconflict serve exited: {log.read().decode()[-2000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/readyz", timeout=1.0) as answer,
        ):
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"deconflict serve was not ready within {READY_TIMEOUT_S:g} s")
        time.sleep(0.1)


@contextlib.contextmanager
def served(
    db: str | Path,
    *options: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    output: Path | None = None,
) -> Iterator[str]:
    """The URL of ``deconflict serve --db DB [options]`` on 127.0.0.1, once ready. Its output
    (stdout and stderr) goes to ``output`` when given (read it for what it printed at start,
    e.g. ``--links``), else to a temporary file quoted if it fails to start."""
    port = free_port()
    command = [sys.executable, "-c", "from deconflict.cli.main import run; run()", "serve"]
    command += ["--db", str(db), "--host", "127.0.0.1", "--port", str(port), *options]
    url = f"http://127.0.0.1:{port}"
    with (
        output.open("w+b") if output is not None else tempfile.TemporaryFile() as log,
        subprocess.Popen(
            command,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            _wait_ready(process, log, url)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
