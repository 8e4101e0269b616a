"""Which driver failures are for now only, and what a user is told of each.

The store translates every driver error at its boundary (:func:`~deconflict.store.transactions.
translated`). Most mean a fault to fix (a bug, a schema out of step, a value the database cannot
hold): ``StoreError``, which the API answers 500 with a generic text, the driver's own words going
to the operator's log only. A few mean "not now": the connection was lost, the database is locked
past every retry, the server is shutting down or out of connections, the disk is full. Those are
``StoreUnavailable``: 503 with ``Retry-After`` and a sentence a user understands, so a client
retries what will work and gives up on what never will (security.md §3.1). Anything not listed
here is not transient: answering 503 for a fault makes a client retry for ever.
"""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy import exc

from deconflict.errors import StoreUnavailable

__all__ = ["BUSY", "transient"]

#: What a user is told when the store was locked or raced by other writes past every retry.
BUSY = "the hub's database is locked by other writes; try again in a moment"
_LOST = "the hub lost its connection to its database; try again in a moment"
_FULL = "the hub's disk is full; the operator must free space before it takes more writes"
_DOWN = "the hub's database is restarting or out of connections; try again in a moment"

#: SQLite's primary result codes that are "not now": busy, locked, disk full, I/O error.
_SQLITE = {
    sqlite3.SQLITE_BUSY: (BUSY, 1.0),
    sqlite3.SQLITE_LOCKED: (BUSY, 1.0),
    sqlite3.SQLITE_FULL: (_FULL, 30.0),
    sqlite3.SQLITE_IOERR: (_LOST, 5.0),
}

#: PostgreSQL SQLSTATEs (or their classes, two characters) that are "not now".
_POSTGRES = {
    "08": (_LOST, 2.0),  # connection exception
    "53": (_DOWN, 5.0),  # insufficient resources (53100: disk full, 53300: too many connections)
    "57P01": (_DOWN, 5.0),  # admin shutdown
    "57P02": (_DOWN, 5.0),  # crash shutdown
    "57P03": (_DOWN, 5.0),  # cannot connect now (starting up)
    "40001": (BUSY, 1.0),  # serialization failure past every retry
    "40P01": (BUSY, 1.0),  # deadlock past every retry
    "55P03": (BUSY, 1.0),  # lock not available
}


def transient(error: BaseException) -> StoreUnavailable | None:
    """``StoreUnavailable`` for a driver (or SQLAlchemy) error that means "not now", else
    None."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable(_LOST, 2.0)
    if isinstance(error, (exc.DisconnectionError, exc.TimeoutError)):
        return StoreUnavailable(_LOST, 2.0)
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(orig, sqlite3.Error) and code is not None:
        found = _SQLITE.get(code & 0xFF)  # the primary code of an extended one
        return StoreUnavailable(*found) if found else None
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        found = _POSTGRES.get(state) or _POSTGRES.get(state[:2])
        return StoreUnavailable(*found) if found else None
    if isinstance(orig, OSError) and orig.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreUnavailable(_FULL, 30.0)
    return None
