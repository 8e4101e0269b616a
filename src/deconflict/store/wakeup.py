"""Wake-ups when the change log grows: LISTEN/NOTIFY on PostgreSQL, a plain pause elsewhere.

Only ever a wake-up, never relied on for correctness (NOTIFY is not in CockroachDB, and a missed
notification only costs the pause): whoever waits reads the change log afterwards as it would
anyway. Every write transaction on PostgreSQL sends ``NOTIFY deconflict_changes`` (delivered at
its commit, folded into one per transaction), so a detector on another hub process, or a stream
waiting for a notification the detector created, wakes at once instead of at its next poll.

The detector lease holder also announces, after a pass that created or changed notifications,
``NOTIFY deconflict_notifications`` with its lease token as payload: the event streams of the
other serve processes wait on that (not on every commit, which their own deliveries make too).
"""

from __future__ import annotations

import time

import psycopg
import sqlalchemy as sa

from deconflict.errors import StoreError
from deconflict.store.order import once_per_transaction

__all__ = ["CHANNEL", "NOTIFICATIONS", "ChangeSignal", "announce", "notify"]

CHANNEL = "deconflict_changes"
NOTIFICATIONS = "deconflict_notifications"


def notify(connection: sa.Connection) -> None:
    """Announce, at this transaction's commit, that the change log grew (PostgreSQL only)."""
    if connection.dialect.name == "postgresql" and once_per_transaction(
        connection, "deconflict.notified"
    ):
        connection.execute(sa.text(f"NOTIFY {CHANNEL}"))


def announce(engine: sa.Engine, payload: str) -> None:
    """``NOTIFY deconflict_notifications, payload`` now, in a transaction of its own
    (PostgreSQL only; a failure is only a lost wake-up and is ignored)."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFICATIONS, "payload": payload},
            )
    except sa.exc.DBAPIError:
        pass


class ChangeSignal:
    """``wait(timeout_s)`` returns early (True) when some process committed a change (or, with
    ``channel=NOTIFICATIONS``, announced notifications; ``payloads`` tells whose)."""

    def __init__(self, engine: sa.Engine, channel: str = CHANNEL) -> None:
        self._listener: psycopg.Connection | None = None
        if engine.dialect.name == "postgresql":
            url = engine.url.set(drivername="postgresql")
            try:
                self._listener = psycopg.connect(
                    url.render_as_string(hide_password=False), autocommit=True
                )
                self._listener.execute(f"LISTEN {channel}")
            except psycopg.Error as error:
                raise StoreError(f"cannot listen for changes: {error}") from None

    @property
    def listening(self) -> bool:
        """Whether announcements can arrive (PostgreSQL); else ``wait`` only pauses."""
        return self._listener is not None

    def wait(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` for a change; whether one was announced."""
        if self._listener is None:
            time.sleep(timeout_s)
            return False
        try:
            return any(True for _ in self._listener.notifies(timeout=timeout_s, stop_after=1))
        except psycopg.Error:  # a lost listener is only a lost wake-up: pause instead
            time.sleep(timeout_s)
            return False

    def payloads(self, timeout_s: float) -> list[str]:
        """Block up to ``timeout_s`` for announcements; the payloads of those that came (at
        once, all that are waiting). On SQLite (no listener) a pause, then none."""
        if self._listener is None:
            time.sleep(timeout_s)
            return []
        try:
            found = [n.payload for n in self._listener.notifies(timeout=timeout_s, stop_after=1)]
            if found:  # and whatever else is already waiting, without blocking
                found += [n.payload for n in self._listener.notifies(timeout=0)]
            return found
        except psycopg.Error:
            time.sleep(timeout_s)
            return []

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
