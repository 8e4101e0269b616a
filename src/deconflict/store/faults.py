"""Faults of the host told as such: a full disk, a read-only store, a damaged file.

A driver says these in its own words (``database or disk is full``, SQLSTATE 53100, ``attempt to
write a readonly database``, ``database disk image is malformed``), which mean nothing to a party
and tell it of the hub's internals. :func:`named` recognises them by code (SQLite's primary
result code, PostgreSQL's SQLSTATE, the OS's errno), not by text, and gives the store's own
error with a message a person understands: ``WritesRefused`` (503 with ``Retry-After``: the
write may succeed once space is freed) or ``StoreCorrupt`` (pointing at ``deconflict doctor``).
Anything else is left to the caller (``StoreError`` with the driver's text, for the log).
"""

from __future__ import annotations

import errno

from deconflict.errors import StoreCorrupt, StoreError, WritesRefused

__all__ = ["FULL", "READ_ONLY", "named"]

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_READONLY = 8
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26
# PostgreSQL's: disk_full, read_only_sql_transaction, data_corrupted, index_corrupted.
_PG_FULL = frozenset({"53100"})
_PG_READ_ONLY = frozenset({"25006"})
_PG_CORRUPT = frozenset({"XX001", "XX002"})

FULL = "the hub's storage is full"
READ_ONLY = "the hub's store is read-only"
_CORRUPT = "the hub's database is damaged; the operator should run `deconflict doctor`"


def named(doing: str, error: BaseException | None) -> StoreError | None:
    """The store's error for ``error`` (what the driver or the OS raised while ``doing``) if
    it is a fault of the host it knows, else None."""
    if error is None:
        return None
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    sqlstate = getattr(error, "sqlstate", None)
    number = error.errno if isinstance(error, OSError) else None
    if primary == _SQLITE_FULL or sqlstate in _PG_FULL or number in (errno.ENOSPC, errno.EDQUOT):
        return WritesRefused(doing, FULL, full=True)
    if primary == _SQLITE_READONLY or sqlstate in _PG_READ_ONLY or number == errno.EROFS:
        return WritesRefused(doing, READ_ONLY, full=False)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or sqlstate in _PG_CORRUPT:
        return StoreCorrupt(f"{doing}: {_CORRUPT}")
    return None
