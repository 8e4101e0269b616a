"""Fixtures shared by every test package."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from tests.pg import scratch_schema


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub on a database URL keeps its local files (ledger key, issuer key) in the state
    folder: a fresh one per test (and its subprocesses), never the working directory."""
    monkeypatch.setenv("DECONFLICT_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(autouse=True)
def _deconflict_logger() -> Iterator[None]:
    """A test that runs ``serve`` in this process (``log_to_stderr``) leaves the deconflict
    logger as it found it: no handler writing the next tests' log lines into their captured
    standard error (a command's output compared with another's)."""
    logger = logging.getLogger("deconflict")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL URL on a scratch schema of its own (tests using it are marked postgres)."""
    if request.node.get_closest_marker("postgres") is None:
        pytest.fail("a test using pg_url must be marked @pytest.mark.postgres")
    with scratch_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_target(request: pytest.FixtureRequest, tmp_path) -> str:
    """A store target on each database: a SQLite file path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000 while the test runs: a file it finds open to others was made so by the code,
    not by the umask (which can only take bits away)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)
