"""The signing key lives in a key file, never in the database: made once with mode 0600, shared
by every hub on one database, refused when it is not the log's key, and moved out of a database
that held it (pre-0003)."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.hub.scenario import T0, vol

from deconflict.errors import InvalidDocument, VerificationFailed
from deconflict.hub import Hub, SimulatedClock
from deconflict.hub.ledger_key import KeyMismatch
from deconflict.ledger import Signer, Verifier, read_key_file, write_key_file
from deconflict.settings import ledger_key_path
from deconflict.store import ledger_tables as lt
from deconflict.store import open_store

GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"


def test_signer_key_is_the_go_note_format():
    """golang.org/x/mod/sumdb/note's documented key pair reads and writes back the same."""
    signer = Signer.parse(GO_SIGNER)
    assert signer.verifier_key == GO_VERIFIER
    assert signer.signer_key == GO_SIGNER
    with pytest.raises(ValueError, match="key id does not match"):
        Signer.parse(GO_SIGNER.replace("c74f20a3", "c74f20a4"))


def test_default_path_beside_sqlite_or_in_the_state_dir(tmp_path):
    """<db>.ledger-key beside a SQLite file; <state-dir>/hub.ledger-key for a URL; the setting
    wins."""
    env = {"DECONFLICT_STATE_DIR": str(tmp_path / "state")}
    assert ledger_key_path(str(tmp_path / "a.db"), env) == tmp_path / "a.db.ledger-key"
    url = "postgresql://db.example/hub"
    assert ledger_key_path(url, env) == tmp_path / "state" / "hub.ledger-key"
    env["DECONFLICT_LEDGER_KEY"] = "/keys/hub"
    assert str(ledger_key_path(url, env)) == "/keys/hub"


def _file_one(hub: Hub, notice_id: str) -> str:
    if "usaf" not in {p.id for p in hub.list_parties()}:
        hub.add_party("usaf")
    hub.file_notice("usaf", [vol(notice_id)], "air-activity", notice_id)
    return hub.ledger.checkpoint()


def test_key_file_made_0600_and_nothing_private_in_the_database(store_target, tmp_path):
    """The first checkpoint makes the key file (0600); the database holds only the public key,
    and a second hub on the same database and file signs as the same log."""
    key_file = tmp_path / "ledger.key"
    with Hub.open(store_target, SimulatedClock(T0), ledger_key=key_file) as hub:
        _file_one(hub, "N1")
        public = hub.ledger.public_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    signer = read_key_file(key_file)
    assert signer is not None
    assert signer.verifier_key == public
    check = open_store(store_target)
    try:
        with check._engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(lt.ledger_keys)).scalar() == 0
            registered = c.execute(sa.select(lt.ledger_public_keys.c.verifier_key)).scalars()
            assert list(registered) == [public]
    finally:
        check.close()
    with Hub.open(store_target, SimulatedClock(T0 + 60), ledger_key=key_file) as again:
        note = _file_one(again, "N2")
        assert Verifier.parse(public).open_checkpoint(note).size == again.ledger.size
        assert again.ledger.verify().checkpoints == 2


def test_another_key_or_a_missing_one_is_refused(store_target, tmp_path):
    """A hub given another key file, or none where the log has a key, refuses to sign (and
    makes no key file); the log keeps verifying with its own key."""
    key_file = tmp_path / "ledger.key"
    with Hub.open(store_target, SimulatedClock(T0), ledger_key=key_file) as hub:
        _file_one(hub, "N1")
    write_key_file(tmp_path / "other.key", Signer.generate("deconflict.hub/00000000"))
    with (
        Hub.open(store_target, SimulatedClock(T0), ledger_key=tmp_path / "other.key") as hub,
        pytest.raises(KeyMismatch, match="same key file"),
    ):
        hub.ledger.checkpoint()
    missing = tmp_path / "missing.key"
    with (
        Hub.open(store_target, SimulatedClock(T0), ledger_key=missing) as hub,
        pytest.raises(VerificationFailed, match="is missing"),
    ):
        hub.ledger.checkpoint()
    assert not missing.exists()
    with Hub.open(store_target, SimulatedClock(T0), ledger_key=key_file) as hub:
        assert hub.ledger.verify().checkpoints == 1


def test_auditing_needs_no_key_file(tmp_path, capsys):
    """A copy of the database without the key file: `ledger key` and `ledger verify` work from
    the public key the database registered, and nothing signs."""
    from deconflict.cli.main import main

    db = tmp_path / "hub.db"
    with Hub.open(db, SimulatedClock(T0)) as hub:
        _file_one(hub, "N1")
        public = hub.ledger.public_key
    (tmp_path / "hub.db.ledger-key").unlink()
    assert main(["ledger", "key", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == public
    assert main(["ledger", "verify", "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")
    assert not (tmp_path / "hub.db.ledger-key").exists()


def test_a_stored_key_is_moved_to_the_key_file(store_target, tmp_path, caplog):
    """A database as hubs before 0003 left it (the private key in ledger_keys, no key file):
    the key moves to the key file, leaves the database, a warning says so, and the old
    checkpoints still verify under the same public key."""
    key_file = tmp_path / "ledger.key"
    with Hub.open(store_target, SimulatedClock(T0), ledger_key=key_file) as hub:
        _file_one(hub, "N1")
        signer = hub.ledger.signer
    store = open_store(store_target)
    try:
        with store._engine.begin() as c:  # back to how a pre-0003 hub kept it
            c.execute(sa.delete(lt.ledger_public_keys))
            c.execute(
                sa.insert(lt.ledger_keys).values(
                    name=signer.name, private_key=signer.private_bytes(), created_at_s=T0
                )
            )
    finally:
        store.close()
    key_file.unlink()
    moved_to = tmp_path / "moved.key"
    with (
        caplog.at_level(logging.WARNING, logger="deconflict.ledger"),
        Hub.open(store_target, SimulatedClock(T0), ledger_key=moved_to) as hub,
    ):
        assert hub.ledger.public_key == signer.verifier_key
        _file_one(hub, "N2")
        assert hub.ledger.verify().checkpoints == 2
    assert "moved out of the database" in caplog.text
    assert stat.S_IMODE(moved_to.stat().st_mode) == 0o600
    again = read_key_file(moved_to)
    assert again is not None
    assert again.verifier_key == signer.verifier_key
    store = open_store(store_target)
    try:
        with store._engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(lt.ledger_keys)).scalar() == 0
    finally:
        store.close()


def test_a_database_at_revision_0002_keeps_its_key_and_checkpoints(tmp_path, caplog):
    """A database migrated only to 0002 by a hub that kept its key inside, with a checkpoint
    signed by it: opened now, it migrates to 0003, the key moves to the key file, and the old
    checkpoint and a new one both verify under the same public key."""
    from alembic import command
    from alembic.config import Config

    import deconflict.store.migrations as migrations
    from deconflict.ledger import EMPTY_ROOT, Checkpoint

    db = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    old = Signer.generate("deconflict.hub/0a0b0c0d")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            sa.text("INSERT INTO ledger_keys VALUES (:n, :k, :t)"),
            {"n": old.name, "k": old.private_bytes(), "t": T0},
        )
        note = old.sign_checkpoint(Checkpoint(old.name, 0, EMPTY_ROOT))
        connection.execute(
            sa.text("INSERT INTO ledger_checkpoints (size, note, at_s) VALUES (0, :note, :t)"),
            {"note": note, "t": T0},
        )
    engine.dispose()
    key_file = tmp_path / "old.key"
    with (
        caplog.at_level(logging.WARNING, logger="deconflict.ledger"),
        Hub.open(db, SimulatedClock(T0), ledger_key=key_file) as hub,
    ):
        _file_one(hub, "N1")
        assert hub.ledger.public_key == old.verifier_key
        report = hub.ledger.verify(Verifier.parse(old.verifier_key))
        assert report.checkpoints == 2
    assert "moved out of the database" in caplog.text
    assert read_key_file(key_file).signer_key == old.signer_key
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM ledger_keys").fetchone() == (0,)


def test_a_key_file_others_may_read_or_garbage_is_refused(tmp_path):
    """Mode 0644 or a file that is not a signer key: a clear InvalidDocument naming the file."""
    write_key_file(tmp_path / "k", Signer.generate("deconflict.hub/12345678"))
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(InvalidDocument, match="readable by others"):
        read_key_file(tmp_path / "k")
    bad = tmp_path / "bad"
    bad.write_text("not a key\n")
    bad.chmod(0o600)
    with pytest.raises(InvalidDocument, match="not a ledger signing key"):
        read_key_file(bad)
    assert read_key_file(tmp_path / "none") is None


def test_two_processes_making_the_key_at_once_agree(tmp_path):
    """Racing writers of one key file: one wins, every one gets the winner's key."""
    path = tmp_path / "race.key"
    got: list[str] = []
    barrier = threading.Barrier(4)

    def make(i: int) -> None:
        barrier.wait()
        got.append(write_key_file(path, Signer.generate(f"deconflict.hub/0000000{i}")).signer_key)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(got)) == 1
    assert path.read_text().strip() == got[0]
    assert [p.name for p in tmp_path.iterdir()] == ["race.key"]


def test_the_ledger_key_flag_names_the_key_file(tmp_path, capsys, monkeypatch):
    """``deconflict --ledger-key FILE`` signs with FILE (made there on first use), for any
    command; the default file beside the database is not made."""
    from deconflict.cli.main import main
    from deconflict.settings import SETTINGS

    # Set (empty: the default), not deleted: the flag writes the variable, and monkeypatch
    # undoes only what it recorded, so deleting an absent variable left the flag's value to
    # every later test in this process (a hub beside another database signed with this key).
    monkeypatch.setenv(SETTINGS["ledger-key"].env, "")
    db = tmp_path / "hub.db"
    key = tmp_path / "keys" / "signing.key"
    key.parent.mkdir()
    assert main(["--ledger-key", str(key), "party", "add", "US", "--db", str(db)]) == 0
    assert main(["--ledger-key", str(key), "ledger", "checkpoint", "--db", str(db)]) == 0
    capsys.readouterr()
    assert key.exists()
    assert not (tmp_path / "hub.db.ledger-key").exists()
    with Hub.open(db) as hub:
        assert read_key_file(key).verifier_key == hub.ledger.public_key
    # Another key for the same log is refused, by name.
    other = tmp_path / "keys" / "other.key"
    assert main(["--ledger-key", str(other), "ledger", "checkpoint", "--db", str(db)]) != 0
    assert "key" in capsys.readouterr().err
