"""The service's background work in a process of its own: detection, webhooks, sweeps; no HTTP.

``deconflict serve`` starts it before its HTTP workers (:class:`DetectorProcess`). It is the app
of :func:`deconflict.api.create_app` with no listener: its lifespan (hub runner, webhook sender,
sweeper) run by hand. Started first, it takes the detector lease, so the HTTP workers stay on
standby: they file, read and stream, and this process detects, on the other core.

Why a process. One Python process runs Python on one core at a time (the GIL), and detection is
about a third of what a contended filing costs; in an HTTP process a detector pass also held the
hub thread, so the filings that came meanwhile waited for it. A read on standby still sees the
outcome of the writes before it: it waits for the detector to pass them
(:meth:`deconflict.api.runner.HubRunner.run`).

Failure. The HTTP workers keep their standby detectors: if this process dies, one of them takes
the lease when it lapses (``DetectorWorker``'s period), and the supervisor starts a new detector
process, which waits on standby. This process stops when the supervisor does, even killed with
SIGKILL: it holds one end of a pipe from it and stops when that pipe closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from deconflict.api.app import ApiSettings, create_app
from deconflict.api.observe import log_to_stderr
from deconflict.errors import DeconflictError

__all__ = ["DetectorProcess"]

log = logging.getLogger("deconflict.api")
_START_S = 60.0  # the longest the process may take to open the hub and take the lease
_STOP_S = 10.0  # the longest it may take to stop before it is killed
_RESTART_S = 1.0  # the pause before a detector process that died is started again


class DetectorProcess:
    """The detector process of one ``deconflict serve``: :meth:`start` it before the HTTP
    workers, :meth:`stop` it after them; meanwhile one that dies is started again."""

    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe: Connection | None = None  # the supervisor's end; closed, the process stops
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        """Start the process and wait until it is running (its hub open, the lease taken if
        free); a ``DeconflictError`` if it could not start."""
        self._spawn(wait=True)
        self._watchdog = threading.Thread(target=self._watch, name="detector-watchdog", daemon=True)
        self._watchdog.start()

    def _spawn(self, wait: bool) -> None:
        ready = self._context.Event()
        mine, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_main, args=(self._settings, ready, theirs), name="deconflict-detector"
        )
        process.start()
        theirs.close()
        self._process, self._pipe = process, mine
        deadline = time.monotonic() + _START_S
        while wait and not ready.wait(0.1):
            if not process.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise DeconflictError(
                    f"the detector process did not start (exit code {process.exitcode}); "
                    "its error is above"
                )

    def _watch(self) -> None:
        """Start the process again whenever it dies, until :meth:`stop`."""
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            process.join(0.5)
            if process.is_alive() or self._stopping.is_set():
                continue
            log.error(
                "the detector process exited (code %s); an HTTP worker takes the detector "
                "lease over when it lapses, and a new detector process is started",
                process.exitcode,
            )
            if self._pipe is not None:
                self._pipe.close()
            if self._stopping.wait(_RESTART_S):
                return
            with contextlib.suppress(DeconflictError, OSError):
                self._spawn(wait=False)

    def stop(self) -> None:
        """Stop the process (it releases the lease on its way out)."""
        self._stopping.set()
        process, pipe = self._process, self._pipe
        if pipe is not None:
            pipe.close()
        if process is not None and process.is_alive():
            process.terminate()
            process.join(_STOP_S)
            if process.is_alive():
                process.kill()
                process.join(_STOP_S)
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(_STOP_S)


def _main(settings: ApiSettings, ready: Event, supervisor: Connection) -> None:
    """The detector process: the app's lifespan until SIGTERM, SIGINT or the supervisor's end."""
    log_to_stderr()
    asyncio.run(_run(settings, ready, supervisor))


async def _run(settings: ApiSettings, ready: Event, supervisor: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def until_the_supervisor_ends() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                supervisor.recv()
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=until_the_supervisor_ends, name="supervisor", daemon=True).start()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ready.set()
        await stop.wait()
