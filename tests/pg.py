"""PostgreSQL for tests: the server at DECONFLICT_TEST_PG, a scratch schema per test.

A test that needs PostgreSQL is marked ``@pytest.mark.postgres`` and takes the ``pg_url`` fixture
(tests/conftest.py). If the server cannot be reached the test fails, unless
DECONFLICT_SKIP_POSTGRES=1 says to skip: CI has PostgreSQL, so a silent skip would hide breakage.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

__all__ = ["DEFAULT_PG", "admin_url", "scratch_database", "scratch_schema"]

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    """The server and database tests use (DECONFLICT_TEST_PG, else the local default)."""
    return os.environ.get("DECONFLICT_TEST_PG", DEFAULT_PG).replace("+psycopg", "")


def _connect() -> psycopg.Connection:
    url = admin_url()
    try:
        return psycopg.connect(url, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as error:
        if os.environ.get("DECONFLICT_SKIP_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL at {url} unreachable and DECONFLICT_SKIP_POSTGRES=1")
        pytest.fail(
            f"PostgreSQL at {url} unreachable ({error}); start it, point DECONFLICT_TEST_PG at "
            "one, or set DECONFLICT_SKIP_POSTGRES=1 to skip these tests explicitly"
        )


@contextmanager
def scratch_schema() -> Iterator[str]:
    """A fresh schema; yields a URL whose connections use it, and drops it afterwards."""
    schema = "t_" + uuid.uuid4().hex[:16]
    with _connect() as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in admin_url() else "?"
        try:
            yield f"{admin_url()}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def scratch_database(icu_locale: str) -> Iterator[str]:
    """A fresh database whose collation is ICU's ``icu_locale`` (not C, as the test database's
    is); yields its URL, and drops it afterwards (with whatever is still connected)."""
    name = "t_" + uuid.uuid4().hex[:16]
    with _connect() as admin:
        admin.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
            f"ICU_LOCALE '{icu_locale}' LOCALE 'C.UTF-8'"
        )
        try:
            yield admin_url().rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
