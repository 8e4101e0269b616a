"""Wake-ups when the change log grows: LISTEN/NOTIFY on PostgreSQL, a plain pause elsewhere.

Only ever a wake-up, never relied on for correctness (NOTIFY is not in CockroachDB, and a missed
notification only costs the pause): whoever waits reads the change log afterwards as it would
anyway. Every write transaction on PostgreSQL sends ``NOTIFY deconflict_changes`` (delivered at
its commit, folded into one per transaction), so a detector on another hub process, or a stream
waiting for a notification the detector created, wakes at once instead of at its next poll.
"""

from __future__ import annotations

import time

import psycopg
import sqlalchemy as sa

from deconflict.errors import StoreError
from deconflict.store.order import once_per_transaction

__all__ = ["CHANNEL", "ChangeSignal", "notify"]

CHANNEL = "deconflict_changes"


def notify(connection: sa.Connection) -> None:
    """Announce, at this transaction's commit, that the change log grew (PostgreSQL only)."""
    if connection.dialect.name == "postgresql" and once_per_transaction(
        connection, "deconflict.notified"
    ):
        connection.execute(sa.text(f"NOTIFY {CHANNEL}"))


class ChangeSignal:
    """``wait(timeout_s)`` returns early (True) when some process committed a change."""

    def __init__(self, engine: sa.Engine) -> None:
        self._listener: psycopg.Connection | None = None
        if engine.dialect.name == "postgresql":
            url = engine.url.set(drivername="postgresql")
            try:
                self._listener = psycopg.connect(
                    url.render_as_string(hide_password=False), autocommit=True
                )
                self._listener.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as error:
                raise StoreError(f"cannot listen for changes: {error}") from None

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

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
