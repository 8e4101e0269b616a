"""What a driver failure is (security.md §3.1, §4.4): a fault of the host (a full disk, a
read-only store: WritesRefused; a damaged file: StoreCorrupt), for now only (StoreUnavailable,
503 with Retry-After), or else a StoreError (500), whatever its words."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy import exc

from deconflict.errors import StoreCorrupt, StoreError, StoreUnavailable, WritesRefused
from deconflict.store.faults import classified


class _Pg(Exception):
    """A driver error with a SQLSTATE, as psycopg's."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _sqlite(code: int) -> sqlite3.Error:
    error = sqlite3.OperationalError("driver words")
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def _wrapped(orig: BaseException, invalidated: bool = False) -> exc.DBAPIError:
    return exc.OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(_Pg("08006")),  # connection failure
        _wrapped(_Pg("57P01")),  # admin shutdown
        _wrapped(_Pg("53100")),  # disk full
        _wrapped(_Pg("53300")),  # too many connections
        _wrapped(_Pg("40001")),  # serialization failure, past every retry
        _wrapped(Exception("gone"), invalidated=True),
        _wrapped(_sqlite(sqlite3.SQLITE_BUSY)),
        _wrapped(_sqlite(sqlite3.SQLITE_FULL)),
        _sqlite(sqlite3.SQLITE_IOERR | (3 << 8)),  # an extended I/O error code
        OSError(errno.ENOSPC, "No space left on device"),
    ],
)
def test_what_is_for_now_only_is_unavailable_with_retry_after(error):
    """Each of these is StoreUnavailable, with a Retry-After of a whole second or more and
    none of the driver's words."""
    found = classified("writing", error)
    assert isinstance(found, StoreUnavailable)
    assert int(found.headers["Retry-After"]) >= 1
    assert "driver" not in str(found)
    assert "SELECT" not in str(found)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(_Pg("22021")),  # a NUL in text
        _wrapped(_Pg("22003")),  # numeric value out of range
        _wrapped(_Pg("42P01")),  # no such table
        _wrapped(_sqlite(sqlite3.SQLITE_CORRUPT)),
        _wrapped(_sqlite(sqlite3.SQLITE_ERROR)),
        OSError(errno.EACCES, "Permission denied"),
        ValueError("not a driver error"),
    ],
)
def test_a_fault_is_not_transient(error):
    """A fault retrying cannot mend is not StoreUnavailable (the API answers it 500)."""
    assert not isinstance(classified("writing", error), StoreUnavailable)


@pytest.mark.parametrize(
    ("error", "kind", "full"),
    [
        (_wrapped(_sqlite(sqlite3.SQLITE_FULL)), WritesRefused, True),
        (_wrapped(_Pg("53100")), WritesRefused, True),
        (OSError(errno.ENOSPC, "No space left on device"), WritesRefused, True),
        (_wrapped(_sqlite(sqlite3.SQLITE_READONLY | (1 << 8))), WritesRefused, False),
        (_wrapped(_Pg("25006")), WritesRefused, False),
        (OSError(errno.EROFS, "Read-only file system"), WritesRefused, False),
        (_wrapped(_sqlite(sqlite3.SQLITE_CORRUPT)), StoreCorrupt, None),
        (_wrapped(_sqlite(sqlite3.SQLITE_NOTADB)), StoreCorrupt, None),
        (_wrapped(_Pg("XX001")), StoreCorrupt, None),
    ],
)
def test_a_fault_of_the_host_is_named_by_its_code(error, kind, full):
    """A full disk or a read-only store refuses writes, a damaged file is named as such; the
    message says what was being done and none of the driver's words."""
    found = classified("filing N1", error)
    assert type(found) is kind
    assert str(found).startswith("filing N1: ")
    assert "driver" not in str(found)
    if full is not None:
        assert found.full is full


def test_anything_else_quotes_the_driver_for_the_log():
    """An error no code names is a StoreError with the driver's words (the log's, never a
    party's: the API answers it with a generic text)."""
    found = classified("filing N1", _wrapped(_Pg("42P01")))
    assert type(found) is StoreError
    assert "sqlstate 42P01" in str(found)
