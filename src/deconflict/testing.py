"""A real ``deconflict serve`` for integration tests and benchmarks: in a process of its own, on
127.0.0.1 and a free port, used once its ``/readyz`` answers, stopped (then killed) afterwards.

    with served("hub.db") as url:
        Client(url, token=...).notices()
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

__all__ = ["READY_LINE", "ServeOutput", "free_port", "served"]

#: How long a server may take to become ready.
READY_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 free at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: The line ``deconflict serve`` writes once it answers: /readyz says ready from then on.
READY_LINE = b'"event": "serve.ready"'


class ServeOutput:
    """A serve's output (standard output and error, one pipe) copied line by line into ``log``
    by a thread of its own, which tells when the ready line came or the output ended (the
    process exited): waited for as the event it is, not looked for again and again."""

    def __init__(self, pipe: IO[bytes], log: IO[bytes]) -> None:
        self.log = log
        self.ready = False
        self._told = threading.Event()
        self._thread = threading.Thread(target=self._copy, args=(pipe,), daemon=True)
        self._thread.start()

    def _copy(self, pipe: IO[bytes]) -> None:
        try:
            for line in pipe:
                self.log.write(line)
                self.log.flush()
                if READY_LINE in line and not self.ready:
                    self.ready = True
                    self._told.set()
        finally:
            pipe.close()  # the output ended: the process exited
            self._told.set()

    def text(self) -> str:
        """What the serve wrote so far (its end, where a failure says why)."""
        fd = self.log.fileno()
        size = os.fstat(fd).st_size
        return os.pread(fd, min(size, 2000), max(0, size - 2000)).decode(errors="replace")

    def wait_ready(self, url: str, within_s: float = READY_TIMEOUT_S) -> None:
        """Return once the serve said it is ready and ``/readyz`` answers 200 (a check, not a
        wait); RuntimeError with its output if it exited or did not say so in time."""
        self._told.wait(within_s)
        if not self.ready:
            came = "exited"
            if not self._told.is_set():
                came = f"was not ready within {within_s:g} s"
            raise RuntimeError(f"deconflict serve {came}: {self.text()}")
        with urllib.request.urlopen(f"{url}/readyz", timeout=READY_TIMEOUT_S) as answer:
            if answer.status != 200:
                raise RuntimeError(f"deconflict serve said it was ready, /readyz {answer.status}")

    def close(self) -> None:
        """After the process ended: the rest of its output copied."""
        self._thread.join(READY_TIMEOUT_S)


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
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        assert process.stdout is not None  # a pipe, asked for above
        copied = ServeOutput(process.stdout, log)
        try:
            copied.wait_ready(url)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
            copied.close()
