"""The database and the files beside it are the hub's owner's alone (security.md §5): a local
user of the host without the service's account reads no plan, notice or key from them."""

from __future__ import annotations

import logging
import sqlite3
import stat

import pytest

from deconflict.errors import StoreError
from deconflict.hub import Hub

_COMPANIONS = ("hub.db", "hub.db-wal", "hub.db-shm", "hub.db-writers", "hub.db.ledger-key")


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_its_wal_and_every_file_beside_it_are_owner_only(tmp_path, permissive_umask):
    """security.md §5: under umask 000, the SQLite database, its WAL and shared-memory files,
    the writers' lock file and the ledger key are made 0600 (the database and its WAL were
    0644, and held private plans in clear)."""
    db = tmp_path / "hub.db"
    with Hub.open(db) as hub:
        hub.add_party("US")
        hub.tick()  # signs a checkpoint: the ledger key is made
        modes = {name: _mode(tmp_path / name) for name in _COMPANIONS}
    assert modes == dict.fromkeys(_COMPANIONS, 0o600)


def test_a_database_open_to_others_is_made_owner_only_when_opened(
    tmp_path, permissive_umask, caplog
):
    """security.md §5: a database an older version made 0644 (with its writers' file and a WAL
    left by a crash) is tightened to 0600 by the next hub to open it, with a warning naming
    each file."""
    db = tmp_path / "hub.db"
    with sqlite3.connect(db) as old:  # as an older version left it
        old.execute("PRAGMA journal_mode=WAL")
        old.execute("CREATE TABLE leftover (x)")
    for name in ("hub.db", "hub.db-writers", "hub.db-wal"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="deconflict"), Hub.open(db) as hub:
        hub.add_party("US")
        for name in ("hub.db", "hub.db-wal", "hub.db-shm", "hub.db-writers"):
            assert _mode(tmp_path / name) == 0o600, name
    told = " ".join(r.getMessage() for r in caplog.records)
    assert f"{db} was open to others (mode 644)" in told


def test_a_folder_given_as_the_database_is_left_as_it_is(tmp_path, permissive_umask):
    """security.md §5: tightening touches only the hub's own files: a folder named as the
    database is refused by the store and keeps its mode."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    with pytest.raises(StoreError):
        Hub.open(folder)
    assert _mode(folder) == 0o755
