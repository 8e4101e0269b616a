"""Retrying a transaction that the database aborted to keep the history serializable.

PostgreSQL at SERIALIZABLE (and CockroachDB always) may abort a transaction that raced another:
SQLSTATE 40001 (serialization failure) or 40P01 (deadlock detected). The whole transaction is then
run again, after a pause that doubles each time (with full jitter, so racing writers spread out),
a bounded number of times. SQLite's "database is locked" after its busy timeout is treated the
same way. Each store method is one transaction, so the method is what is run again.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import exc

from deconflict.errors import StoreError, StoreUnavailable
from deconflict.store.faults import BUSY

__all__ = ["RETRYABLE_SQLSTATES", "RetryPolicy", "Retryable", "is_retryable"]

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

T = TypeVar("T")


class Retryable(StoreError):
    """A transaction the database aborted only because it raced another; run it again."""


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` (a SQLAlchemy or driver error) says "run the transaction again"."""
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most ``attempts`` runs; before run k+1 a random pause up to
    ``min(max_delay_s, base_delay_s * 2**k)``."""

    attempts: int = 12
    base_delay_s: float = 0.002
    max_delay_s: float = 0.25
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def run(self, transaction: Callable[[], T]) -> T:
        for attempt in range(self.attempts):
            try:
                return transaction()
            except Retryable as error:
                if attempt + 1 == self.attempts:  # the driver's words stay in the cause (the log)
                    raise StoreUnavailable(BUSY) from error
                cap = min(self.max_delay_s, self.base_delay_s * 2**attempt)
                self.sleep(random.uniform(0.0, cap))
        raise StoreError("a transaction was given no attempt")  # attempts < 1
