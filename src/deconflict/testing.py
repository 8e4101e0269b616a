"""A real ``deconflict serve`` for integration tests and benchmarks: in a process of its own, on
127.0.0.1 and a free port, used once its ``/readyz`` answers, stopped (then killed) afterwards.

    with served("hub.db") as url:
        Client(url, token=...).notices()
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["READY_LINE", "Line", "ServeOutput", "Server", "free_port", "served", "serving"]

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


@dataclass(frozen=True, slots=True)
class Line:
    """A line of a serve's output, and where it ends (``ServeOutput.wait_for``'s ``after``)."""

    text: bytes
    end: int


class ServeOutput:
    """A serve's output (standard output and error, one pipe) copied line by line into ``log``
    by a thread of its own, which tells each line as it comes and when the output ended (the
    process exited): a line, the ready one too, is waited for as the event it is
    (:meth:`wait_for`), not looked for again and again."""

    def __init__(self, pipe: IO[bytes], log: IO[bytes]) -> None:
        self.log = log
        self._written = 0  # bytes of ``log`` written, read back by wait_for
        self._ended = False
        self._more = threading.Condition()
        self._thread = threading.Thread(target=self._copy, args=(pipe,), daemon=True)
        self._thread.start()

    def _copy(self, pipe: IO[bytes]) -> None:
        try:
            for line in pipe:
                self.log.write(line)
                self.log.flush()
                with self._more:
                    self._written += len(line)
                    self._more.notify_all()
        finally:
            pipe.close()  # the output ended: the process exited
            with self._more:
                self._ended = True
                self._more.notify_all()

    def wait_for(self, pattern: bytes, within_s: float, *, after: int = 0) -> Line | None:
        """The first line the serve writes from byte ``after`` of its output on that matches
        ``pattern`` (a regular expression), once it is written; None if the output ended or
        ``within_s`` passed first. Each line wakes the waiter: it keeps no pace of its own."""
        fd = self.log.fileno()
        wanted = re.compile(pattern)
        looked = after
        found: Line | None = None

        def seen() -> bool:
            nonlocal looked, found
            new = os.pread(fd, self._written - looked, looked)
            for line in new.splitlines(keepends=True):
                if not line.endswith(b"\n"):
                    break  # a line still being written
                looked += len(line)
                if wanted.search(line):
                    found = Line(line, looked)
                    return True
            return self._ended

        with self._more:
            self._more.wait_for(seen, within_s)
        return found

    def text(self) -> str:
        """What the serve wrote so far (its end, where a failure says why)."""
        fd = self.log.fileno()
        size = os.fstat(fd).st_size
        return os.pread(fd, min(size, 2000), max(0, size - 2000)).decode(errors="replace")

    def wait_ready(self, url: str, within_s: float = READY_TIMEOUT_S) -> None:
        """Return once the serve said it is ready and ``/readyz`` answers 200 (a check, not a
        wait); RuntimeError with its output if it exited or did not say so in time."""
        if self.wait_for(re.escape(READY_LINE), within_s) is None:
            came = "exited" if self._ended else f"was not ready within {within_s:g} s"
            raise RuntimeError(f"deconflict serve {came}: {self.text()}")
        with urllib.request.urlopen(f"{url}/readyz", timeout=READY_TIMEOUT_S) as answer:
            if answer.status != 200:
                raise RuntimeError(f"deconflict serve said it was ready, /readyz {answer.status}")

    def close(self) -> None:
        """After the process ended: the rest of its output copied."""
        self._thread.join(READY_TIMEOUT_S)


@dataclass(frozen=True, slots=True)
class Server:
    """A running ``deconflict serve``: its URL, and its output as it comes."""

    url: str
    output: ServeOutput


@contextlib.contextmanager
def served(
    db: str | Path,
    *options: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    output: Path | None = None,
) -> Iterator[str]:
    """The URL of ``deconflict serve --db DB [options]`` on 127.0.0.1, once ready (see
    :func:`serving`)."""
    with serving(db, *options, env=env, cwd=cwd, output=output) as server:
        yield server.url


@contextlib.contextmanager
def serving(
    db: str | Path,
    *options: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    output: Path | None = None,
) -> Iterator[Server]:
    """``deconflict serve --db DB [options]`` on 127.0.0.1, once ready. Its output (stdout
    and stderr) goes to ``output`` when given (read it for what it printed at start, e.g.
    ``--links``), else to a temporary file quoted if it fails to start; a test waits for a
    line of it with ``Server.output.wait_for``."""
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
            yield Server(url, copied)
        finally:
            process.terminate()
            try:
                process.wait(10.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
            copied.close()
