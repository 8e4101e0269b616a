"""SQLite's writers wait their turn in the kernel, not by trying the lock again and again.

SQLite has one write lock per database file, and a writer that finds it taken gets ``SQLITE_BUSY``
at once (``BEGIN IMMEDIATE`` with no busy timeout) or after SQLite's own backoff, which sleeps up
to 100 ms a try. So the store tried every half millisecond (:func:`engines._begin_immediate`);
with a serve's processes (HTTP workers, the detector, the streams' delivery marks) all writing, a
filing's write transaction met a held lock several times a notice, and each try cost a system
call, an exception and the GIL again: about 35 µs of CPU, some 6% of the 2 cores at 500
notices/s (measured), and up to half a millisecond from one commit to the next writer's start.

So each write transaction first takes its turn: an exclusive ``flock`` on a file beside the
database (``<database>-writers``), held from before its ``BEGIN IMMEDIATE`` to after its
``COMMIT`` or ``ROLLBACK``. A writer whose turn is taken blocks in the kernel, without the GIL,
and is woken when the holder releases it. The turn is only a queue in front of SQLite's lock,
never what keeps writes apart: a writer that does not take it (the ``sqlite3`` shell, an older
deconflict) is still kept out by SQLite, and ours then try for the lock as before.

- A crash frees the turn: the kernel releases a process's ``flock`` when its file is closed, as
  at exit or ``kill -9``.
- A bounded wait: a writer waits for its turn at most as long as it would for the lock, then
  goes on to try the lock, which fails as it always did (``database is locked``), so a holder
  paused for ever costs errors, not a hang. The blocking ``flock`` cannot time out, so the slow
  path waits on a helper thread of the connection's; a turn it gets after the writer gave up is
  handed back at once.
- Each connection opens the file itself: ``flock`` belongs to an open file, so two connections
  of one process queue like two processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from pathlib import Path

__all__ = ["QueuedConnection", "turn_path"]


def turn_path(database: Path) -> Path:
    """The lock file of ``database``'s writers' queue."""
    return database.with_name(database.name + "-writers")


class _Request:
    __slots__ = ("abandoned", "done", "granted")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.granted = False
        self.abandoned = False


class _Turn:
    """One connection's place in the queue: its own open lock file, and a helper thread (started
    the first time the turn is found taken) that does the blocking wait."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._held = False
        self._mutex = threading.Lock()  # orders a grant against its abandonment
        self._requests: queue.SimpleQueue[_Request | None] | None = None

    def take(self, timeout_s: float) -> bool:
        """Take the turn, waiting at most ``timeout_s``; whether it was taken."""
        if self._held:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            self._held = True
            return True
        if self._requests is None:
            self._requests = queue.SimpleQueue()
            threading.Thread(
                target=self._wait, args=(self._requests,), name="sqlite-writers", daemon=True
            ).start()
        request = _Request()
        self._requests.put(request)
        request.done.wait(timeout_s)
        with self._mutex:
            if request.granted:
                self._held = True
                return True
            request.abandoned = True
        return False

    def _wait(self, requests: queue.SimpleQueue[_Request | None]) -> None:
        """The helper thread: take the turn for each request, in the kernel's own time; it
        closes the file when the connection is closed (not before: it may be waiting on it)."""
        while (request := requests.get()) is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            with self._mutex:
                if request.abandoned:  # the writer gave up: let the next one in
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    continue
                request.granted = True
            request.done.set()
        os.close(self._fd)

    def give_back(self) -> None:
        if self._held:
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.give_back()
        if self._requests is None:
            os.close(self._fd)
        else:
            self._requests.put(None)


class QueuedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue for their turn (see the module
    docstring): :meth:`take_turn` before ``BEGIN IMMEDIATE``; the turn is given back when the
    transaction ends (commit, rollback) or the connection closes."""

    _turn: _Turn | None = None

    def take_turn(self, path: Path, timeout_s: float) -> bool:
        """Wait at most ``timeout_s`` for this connection's turn to write; whether it came."""
        if self._turn is None:
            self._turn = _Turn(path)
        return self._turn.take(timeout_s)

    def give_back_turn(self) -> None:
        if self._turn is not None:
            self._turn.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            turn, self._turn = self._turn, None
            if turn is not None:
                with contextlib.suppress(OSError):
                    turn.close()
