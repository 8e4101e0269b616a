"""Fixtures of the API tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.api.harness import Site, make_db

from deconflict.settings import local_state_path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The parties and agreements of tests.api.harness.make_db, on SQLite then PostgreSQL."""
    monkeypatch.setenv("DECONFLICT_STATE_DIR", str(tmp_path / "state"))
    if request.param == "sqlite":
        db = make_db(tmp_path)
        return Site(str(db), db)
    url = request.getfixturevalue("pg_url")
    make_db(tmp_path, url)
    return Site(url, local_state_path(url))
