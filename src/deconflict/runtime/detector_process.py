"""The service's background work in a process of its own: detection, webhooks, sweeps; no HTTP.

``deconflict serve`` starts it before its HTTP workers (:class:`DetectorProcess`). It runs a
:class:`~deconflict.runtime.Runtime` (hub runner, webhook sender, sweep), as every HTTP worker does,
with no app and no listener. Started first, it takes the detector lease, so the HTTP workers stay on
standby: they file, read and stream, and this process detects, on the other core.

Why a process. One Python process runs Python on one core at a time (the GIL), and detection is
about a third of what a contended filing costs; in an HTTP process a detector pass also held the
hub thread, so the filings that came meanwhile waited for it. A party's read on standby still
sees the outcome of that party's writes before it: it waits for the detector to pass them
(:meth:`deconflict.runtime.runner.HubRunner.run`).

Start. ``serve`` spawns the process first (it imports while the store is checked), then lets it
open the hub, take the lease and rebuild its index from the store while ``serve`` checks the whole
ledger on the other core, and starts its HTTP workers once that check is good and the process
holds the lease (:meth:`DetectorProcess.wait_started`): they serve, on standby, while the index is
still being built, and a party's read after its own filing waits for the detection as ever. The
process detects and signs nothing before ``serve``'s word (:meth:`DetectorProcess.go`): told the
ledger checked good, its first tick does not check the whole log again. Either check failing,
it is stopped, and ``serve`` with it. At 10^6 volumes the steps took 41 s one after the other
(docs/benchmarks.md, "Restart").

Failure. The HTTP workers keep their standby detectors: if this process dies, one of them takes
the lease when it lapses (``DetectorWorker``'s period), and the supervisor starts a new detector
process, after 1 s, then 2, 4, ... up to 30 s while new ones keep dying (back to 1 s once one has
stayed up for a minute); each exit and start is logged. The new process is a preferred holder of
the lease: the HTTP worker that took it gives it back (:mod:`deconflict.store.lease`), so
detection returns to its own process. Each start has IPC objects of its own (its started event,
its pipe), kept by the supervisor until the next start: a child rebuilds the event from its
name, which is gone once the parent's object is collected (every restart used to die of it).

This process stops when the supervisor does, even killed with SIGKILL: it holds one end of a
pipe from it and stops when that pipe closes, and :func:`deconflict.runtime.lifeline.follow_parent`
has the kernel (or a thread) tell it; a stop that hangs is cut short after ``_STOP_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from deconflict.errors import DeconflictError
from deconflict.hub import Hub
from deconflict.runtime.lifeline import follow_parent
from deconflict.runtime.logs import log_to_stderr
from deconflict.runtime.runtime import Runtime, RuntimeSettings

__all__ = ["DetectorProcess"]

log = logging.getLogger("deconflict.runtime")
# The longest the process may take to open the hub, take the lease and rebuild the detector's
# index (its first pass): a hub holding 10^5 active notices took 34 s to rebuild before the
# rebuild read them a page a query, and serve refused to start at 60 s; at 10^6 the rebuild
# takes 16-17 s from the store, 6 s from the index file, on 2 cores (docs/benchmarks.md), and a
# busy machine has made it take minutes.
_START_S = 600.0
_STOP_S = 10.0  # the longest it may take to stop before it is killed
_RESTART_S = 1.0  # the pause before a detector process that died is started again
_RESTART_MAX_S = 30.0  # ... doubling while new ones die, up to this
_STABLE_S = 60.0  # a process up this long has the pause back at _RESTART_S
# What the supervisor tells the process through its pipe, in order (see DetectorProcess).
_OPEN = "open"  # open the hub and build the index
_CHECKED = "checked"  # then detect: the whole ledger was checked good by the supervisor
_CHECK = "check"  # then detect, checking the whole ledger first
_ALIVE_S = 1.0  # while it waits for the word, the process says it is alive this often


class DetectorProcess:
    """The detector process of one ``deconflict serve``: :meth:`start` it before the HTTP
    workers, :meth:`stop` it after them; meanwhile one that dies is started again."""

    def __init__(self, settings: RuntimeSettings) -> None:
        # Its own settings only (an app's carry the HTTP side's too): the child never imports
        # the API to read them.
        own = {f.name: getattr(settings, f.name) for f in dataclasses.fields(RuntimeSettings)}
        self._settings = RuntimeSettings(**{**own, "detector_process": True})
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe: Connection | None = None  # the supervisor's end; closed, the process stops
        self._started: Event | None = None  # kept: the child rebuilds it by name, see above
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        """Start the process and wait until it is running (its hub open, the lease taken if
        free); a ``DeconflictError`` if it could not start. It checks the whole ledger itself
        before it first detects (see :meth:`go`)."""
        self.spawn()
        self.open()
        self.go(checked=False)
        self.wait_started()

    def spawn(self) -> None:
        """Start the process; it waits for :meth:`open` (its modules imported meanwhile)."""
        self._spawn()

    def open(self) -> None:
        """Let the process open the hub, take the lease if free and rebuild its index from the
        store; it detects and signs nothing before :meth:`go`. The store must have been found
        sound and brought up to date first."""
        self._say(_OPEN)

    def go(self, checked: bool) -> None:
        """Let the process detect once its index is built: ``checked`` when the caller has just
        checked the whole ledger good (``HubLedger.recheck``) since :meth:`open`, so the process
        need not check it whole again at its first tick; else it does."""
        self._say(_CHECKED if checked else _CHECK)

    def wait_started(self) -> None:
        """Wait until the process holds the lease (it may still be rebuilding its index: the
        HTTP workers can start, on standby) or has started without it (another process holds
        it), then keep it running: one that dies is started again. A ``DeconflictError`` if
        it did not start."""
        process, started = self._process, self._started
        if process is None or started is None:
            raise DeconflictError("the detector process was not spawned")
        deadline = time.monotonic() + _START_S
        while not started.wait(0.1):
            if not process.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise DeconflictError(
                    f"the detector process did not start (exit code {process.exitcode}); "
                    "its error is above"
                )
        self._watchdog = threading.Thread(target=self._watch, name="detector-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def pid(self) -> int | None:
        """The process id of the current detector process."""
        return None if self._process is None else self._process.pid

    def _spawn(self) -> None:
        started = self._context.Event()
        mine, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_main,
            args=(self._settings, started, theirs, os.getpid()),
            name="deconflict-detector",
        )
        process.start()
        theirs.close()
        self._process, self._pipe, self._started = process, mine, started

    def _say(self, word: str) -> None:
        """Tell the process the next step; one that has died hears nothing (its exit is seen
        by :meth:`wait_started` or the watchdog)."""
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send(word)

    def _watch(self) -> None:
        """Start the process again whenever it dies, until :meth:`stop`: after ``_RESTART_S``,
        doubling up to ``_RESTART_MAX_S`` while new ones die within ``_STABLE_S``."""
        pause_s = _RESTART_S
        started = time.monotonic()
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            process.join(0.5)
            if process.is_alive() or self._stopping.is_set():
                continue
            if time.monotonic() - started >= _STABLE_S:
                pause_s = _RESTART_S
            _note(
                logging.ERROR if process.exitcode else logging.WARNING,
                "exited",
                pid=process.pid,
                code=process.exitcode,
                restart_in_s=pause_s,
                meanwhile="an HTTP worker takes the detector lease when it lapses",
            )
            if self._pipe is not None:
                self._pipe.close()
            if self._stopping.wait(pause_s):
                return
            pause_s = min(pause_s * 2, _RESTART_MAX_S)
            started = time.monotonic()
            try:
                self._spawn()
            except OSError as error:
                _note(logging.ERROR, "not started", error=str(error))
                continue
            self._say(_OPEN)  # the store was found sound at the start; the ledger is not
            self._say(_CHECK)  # checked here again: the new process checks it whole
            _note(logging.WARNING, "started", pid=self.pid)

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


def _note(level: int, change: str, **detail: object) -> None:
    """A log line (JSON) of the supervisor about its detector process."""
    log.log(level, json.dumps({"event": "detector.process", "change": change, **detail}))


def _main(settings: RuntimeSettings, started: Event, supervisor: Connection, parent: int) -> None:
    """The detector process: a runtime until SIGTERM or the supervisor's end."""
    # Ctrl-C reaches the whole process group: the supervisor stops this process in its turn
    # (it would otherwise see it exit first, and start a new one).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    follow_parent(parent, grace_s=_STOP_S)
    log_to_stderr()
    asyncio.run(_run(settings, started, supervisor))


async def _run(settings: RuntimeSettings, started: Event, supervisor: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    words: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # None: the supervisor's end

    def until_the_supervisor_ends() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                words.put(supervisor.recv())
        words.put(None)
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=until_the_supervisor_ends, name="supervisor", daemon=True).start()
    if await asyncio.to_thread(words.get) != _OPEN:
        return  # the supervisor ended (a store found damaged, say) before it let it open
    starting = threading.Event()  # set while the hub starts: a check told of then is fresh
    starting.set()
    ended = threading.Event()  # the supervisor ended before its word

    def before_detecting(hub: Hub, alive: Callable[[], None]) -> None:
        """With the lease and the index built: wait for the supervisor's word (saying it is
        alive meanwhile, so the lease is renewed), and take its check of the ledger as this
        process's own if it was made as this process started (a process that took the lease
        later, from another, checks the whole log itself). No word (the supervisor ended,
        its check failed): _Ended, at every step, until this process stops."""
        while not ended.is_set():
            try:
                word = words.get(timeout=_ALIVE_S)
            except queue.Empty:
                alive()
                continue
            if word not in (_CHECKED, _CHECK):
                break
            if word == _CHECKED and starting.is_set():
                hub.ledger.checked_by_supervisor()
            _note(logging.INFO, "index built", volumes=hub.indexed, **hub.rebuild_times)
            return
        ended.set()
        raise _Ended()

    runtime = Runtime(settings, on_lease=started.set, before_detecting=before_detecting)
    try:
        await runtime.start()
    except _Ended:  # the lease let go at once, not left to lapse
        await runtime.stop()
        return
    starting.clear()
    started.set()  # on standby, if another process holds the lease: started all the same
    try:
        await stop.wait()
    finally:
        # A stop that hangs (a store that does not answer) is cut short.
        ending = threading.Timer(_STOP_S, os._exit, (1,))
        ending.daemon = True
        ending.start()
        await runtime.stop()


class _Ended(Exception):
    """The supervisor ended before it let this process detect."""
