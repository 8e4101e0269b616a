"""What a driver error means, and what a user is told of it: the one place it is decided.

The store translates every driver error at its boundary (:func:`~deconflict.store.transactions.
translated`, after the errors it handles itself: a race to run again, a refused constraint);
:func:`classified` says what the rest are, in this order:

- A fault of the host: a full disk (SQLite's ``SQLITE_FULL``, PostgreSQL's 53100, ``ENOSPC``),
  a read-only store (``SQLITE_READONLY``, 25006, ``EROFS``): ``WritesRefused`` (503 with
  ``Retry-After``: the write may succeed once space is freed, and reads go on); a damaged file
  (``SQLITE_CORRUPT``, ``SQLITE_NOTADB``, XX001, XX002): ``StoreCorrupt``, pointing at
  ``deconflict doctor``.
- "Not now": the connection was lost, the database is locked past every retry, the server is
  shutting down or out of connections: ``StoreUnavailable``, 503 with ``Retry-After`` and a
  sentence a user understands, so a client retries what will work (security.md §3.1).
- Anything else is a fault to fix (a bug, a schema out of step, a value the database cannot
  hold): ``StoreError`` quoting the driver, which the API answers 500 with a generic text, the
  driver's words going to the operator's log only. Nothing is "not now" unless listed here:
  answering 503 for a fault makes a client retry for ever.

Recognised by code (SQLite's primary result code, PostgreSQL's SQLSTATE, the OS's errno), never
by text, which means nothing to a party and tells it of the hub's internals.
"""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy import exc

from deconflict.errors import StoreCorrupt, StoreError, StoreUnavailable, WritesRefused

__all__ = ["BUSY", "classified"]

#: What a user is told when the store was locked or raced by other writes past every retry.
BUSY = "the hub's database is locked by other writes; try again in a moment"
_FULL = "the hub's storage is full"
_READ_ONLY = "the hub's store is read-only"
_CORRUPT = "the hub's database is damaged; the operator should run `deconflict doctor`"
_LOST = "the hub lost its connection to its database; try again in a moment"
_DOWN = "the hub's database is restarting or out of connections; try again in a moment"

# SQLite's primary result codes (the low byte of an extended code) of the host's faults.
_SQLITE_READONLY = 8
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26
# PostgreSQL's: disk_full, read_only_sql_transaction, data_corrupted, index_corrupted.
_PG_FULL = frozenset({"53100"})
_PG_READ_ONLY = frozenset({"25006"})
_PG_CORRUPT = frozenset({"XX001", "XX002"})

#: SQLite's primary result codes that are "not now": busy, locked, I/O error.
_SQLITE_NOT_NOW = {
    sqlite3.SQLITE_BUSY: (BUSY, 1.0),
    sqlite3.SQLITE_LOCKED: (BUSY, 1.0),
    sqlite3.SQLITE_IOERR: (_LOST, 5.0),
}

#: PostgreSQL SQLSTATEs (or their classes, two characters) that are "not now".
_POSTGRES_NOT_NOW = {
    "08": (_LOST, 2.0),  # connection exception
    "53": (_DOWN, 5.0),  # insufficient resources (53300: too many connections; 53100 is full)
    "57P01": (_DOWN, 5.0),  # admin shutdown
    "57P02": (_DOWN, 5.0),  # crash shutdown
    "57P03": (_DOWN, 5.0),  # cannot connect now (starting up)
    "40001": (BUSY, 1.0),  # serialization failure past every retry
    "40P01": (BUSY, 1.0),  # deadlock past every retry
    "55P03": (BUSY, 1.0),  # lock not available
}


def classified(doing: str, error: BaseException) -> StoreError:
    """The store's error for ``error``, what the driver, SQLAlchemy or the OS raised while
    ``doing``: a fault of the host, "not now", or else a ``StoreError`` quoting it."""
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    return _host_fault(doing, orig) or _not_now(error, orig) or StoreError(f"{doing}: {error}")


def _host_fault(doing: str, orig: BaseException | None) -> StoreError | None:
    """``WritesRefused`` or ``StoreCorrupt`` if the driver's error ``orig`` is a host's fault."""
    code = getattr(orig, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    sqlstate = getattr(orig, "sqlstate", None)
    number = orig.errno if isinstance(orig, OSError) else None
    if primary == _SQLITE_FULL or sqlstate in _PG_FULL or number in (errno.ENOSPC, errno.EDQUOT):
        return WritesRefused(doing, _FULL, full=True)
    if primary == _SQLITE_READONLY or sqlstate in _PG_READ_ONLY or number == errno.EROFS:
        return WritesRefused(doing, _READ_ONLY, full=False)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or sqlstate in _PG_CORRUPT:
        return StoreCorrupt(f"{doing}: {_CORRUPT}")
    return None


def _not_now(error: BaseException, orig: BaseException | None) -> StoreUnavailable | None:
    """``StoreUnavailable`` if ``error`` (whose driver error is ``orig``) means "not now"."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable(_LOST, 2.0)
    if isinstance(error, (exc.DisconnectionError, exc.TimeoutError)):
        return StoreUnavailable(_LOST, 2.0)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(orig, sqlite3.Error) and code is not None:
        found = _SQLITE_NOT_NOW.get(code & 0xFF)  # the primary code of an extended one
        return StoreUnavailable(*found) if found else None
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        found = _POSTGRES_NOT_NOW.get(state) or _POSTGRES_NOT_NOW.get(state[:2])
        return StoreUnavailable(*found) if found else None
    return None
