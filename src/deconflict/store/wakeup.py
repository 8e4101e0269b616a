"""Wake-ups from other processes: LISTEN/NOTIFY on PostgreSQL, a watch on the file on SQLite.

Only ever a wake-up, never relied on for correctness (NOTIFY is not in CockroachDB, and a missed
wake-up only costs the pause): whoever waits reads the change log afterwards as it would anyway.

Two kinds, each a channel one subscribes to:

- ``CHANNEL`` (``deconflict_changes``): some process committed a write. On PostgreSQL every write
  transaction sends ``NOTIFY deconflict_changes`` (delivered at its commit, folded into one per
  transaction); the detector lease holder wakes on it at once instead of at its next poll.
- ``NOTIFICATIONS``: the detector lease holder committed detections, so there may be
  notifications for the event streams of every serve process. On PostgreSQL the holder sends
  ``NOTIFY deconflict_notifications`` with its lease token as payload after such a pass; the
  streams wait on that, not on every commit (their own deliveries make commits too).

SQLite has no NOTIFY, and needs none: every process opens the same file. A watch polls it every
``POLL_S`` on a connection of its own: ``PRAGMA data_version`` (which moves when another
connection commits, a few microseconds to read) tells of a commit, and then one query reads
what moved: the change log's last row (a ``CHANNEL`` wake-up when it grew: a delivery's commit
adds no row and wakes no detector), and the detector's stored cursor, which moves only when
detections are committed (see :mod:`deconflict.store.detections`), beside the lease token of
the process that committed them. So the holder announces without a statement of its own, by its
commit.

Which of the two a store uses is its dialect's choice (:mod:`deconflict.store.dialect`: it also
sends the NOTIFY, once a transaction, and the announcements); both are here.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import psycopg

from deconflict.errors import StoreError

__all__ = [
    "CHANNEL",
    "NOTIFICATIONS",
    "NOTIFY_SQL",
    "POLL_S",
    "ChangeSignal",
    "FileWatch",
    "Listener",
    "Wakeup",
]

CHANNEL = "deconflict_changes"
NOTIFICATIONS = "deconflict_notifications"
POLL_S = 0.005  # how often a SQLite watch looks at the file

#: What a write transaction sends on PostgreSQL (delivered at its commit).
NOTIFY_SQL = f"NOTIFY {CHANNEL}"


@dataclass(frozen=True, slots=True)
class Wakeup:
    """What woke a waiter: a commit elsewhere that grew the change log (``changed``), and the
    payloads of notification announcements (the announcing lease holder's token, so a process
    can skip its own)."""

    changed: bool = False
    announced: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.changed or bool(self.announced)


_QUIET = Wakeup()


class FileWatch:
    """The SQLite side of :class:`ChangeSignal`: polls the file ``path`` (as ``sqlite3.connect``
    takes it) on a connection of its own."""

    _STATE = (
        "SELECT (SELECT max(seq) FROM changes),"
        " (SELECT seq FROM cursors WHERE name = 'detector'),"
        " (SELECT seq FROM cursors WHERE name = 'detector.lease')"
    )

    def __init__(self, path: str, channels: Iterable[str]) -> None:
        subscribed = frozenset(channels)
        self._changes = CHANNEL in subscribed
        self._announcements = NOTIFICATIONS in subscribed
        uri = path.startswith("file:")  # a read-only store's (store/engines.py)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, uri=uri)
            self._version = self._data_version()
        except sqlite3.Error as error:
            raise StoreError(f"cannot watch for changes: {error}") from None
        self._last, self._cursor, _ = self._state()

    def _data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _state(self) -> tuple[int | None, int | None, str]:
        """The change log's last row, the detector's stored cursor and the lease token (none of
        them before the store is first opened and migrated)."""
        try:
            last, cursor, token = self._db.execute(self._STATE).fetchone()
        except sqlite3.Error:
            return None, None, ""
        return last, cursor, str(token)

    def next(self, timeout_s: float) -> Wakeup:
        changes, announcements = self._changes, self._announcements
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                version = self._data_version()
            except sqlite3.Error:  # the file is locked for a moment: a pause
                version = self._version
            if version != self._version:
                self._version = version
                last, cursor, token = self._state()
                grew, self._last = last != self._last, last
                moved, self._cursor = cursor != self._cursor, cursor
                wakeup = Wakeup(changes and grew, (token,) if announcements and moved else ())
                if wakeup:
                    return wakeup
            left = deadline - time.monotonic()
            if left <= 0:
                return _QUIET
            time.sleep(min(POLL_S, left))

    def close(self) -> None:
        self._db.close()


class Listener:
    """The PostgreSQL side of :class:`ChangeSignal`: LISTEN on a connection of its own to the
    server at ``url`` (a psycopg URL)."""

    def __init__(self, url: str, channels: Iterable[str]) -> None:
        try:
            self._listener = psycopg.connect(url, autocommit=True)
            for channel in sorted(set(channels)):
                self._listener.execute(f"LISTEN {channel}")
        except psycopg.Error as error:
            raise StoreError(f"cannot listen for changes: {error}") from None

    def next(self, timeout_s: float) -> Wakeup:
        try:
            found = list(self._listener.notifies(timeout=timeout_s, stop_after=1))
            if found:  # and whatever else is already waiting, without blocking
                found += list(self._listener.notifies(timeout=0))
        except psycopg.Error:  # a lost listener is only a lost wake-up: pause instead
            time.sleep(timeout_s)
            return _QUIET
        return Wakeup(
            changed=any(n.channel == CHANNEL for n in found),
            announced=tuple(n.payload for n in found if n.channel == NOTIFICATIONS),
        )

    def close(self) -> None:
        self._listener.close()


class _Source(Protocol):
    def next(self, timeout_s: float) -> Wakeup: ...

    def close(self) -> None: ...


class ChangeSignal:
    """``next(timeout_s)`` returns early with what another process did, as ``source`` (a
    :class:`Listener` or a :class:`FileWatch`) tells it; with none, it only pauses."""

    def __init__(self, source: _Source | None) -> None:
        self._source = source

    @property
    def listening(self) -> bool:
        """Whether wake-ups can arrive; else ``next`` only pauses."""
        return self._source is not None

    def next(self, timeout_s: float) -> Wakeup:
        """Block up to ``timeout_s`` for a wake-up; what came (at once, all that is waiting)."""
        if self._source is None:
            time.sleep(timeout_s)
            return _QUIET
        return self._source.next(timeout_s)

    def wait(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` for a wake-up; whether one came."""
        return bool(self.next(timeout_s))

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
