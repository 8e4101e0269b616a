"""Bit rot named (security.md §4.4): a byte flipped for real in a copy of a database file (in
a table's page, in an index's page, in the header) is reported by ``deconflict doctor`` as
damage of that table, index or header, with exit status 1 and no traceback; and ``serve``
refuses the damaged store, naming the damage and pointing at ``doctor``, before it listens.

Before, ``serve`` stopped with the driver's raw text (``file is not a database``), or started
and served while ``PRAGMA integrity_check`` listed corrupt pages; there was no ``doctor``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from tests.api.harness import make_db

import deconflict.api.server
from deconflict.cli.main import main

_PAGE = 4096  # the page size of every database the hub makes (SQLite's default)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _root_page(db: Path, name: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        (page,) = connection.execute(
            "SELECT rootpage FROM sqlite_schema WHERE name = ?", (name,)
        ).fetchone()
    connection.close()
    return int(page)


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database the hub made (four parties, two agreements), its WAL checkpointed away."""
    db = make_db(tmp_path_factory.mktemp("sound"))
    assert not db.with_name(db.name + "-wal").exists()
    return db


def _flipped(sound: Path, folder: Path, part: str, offset: int) -> Path:
    """A copy of ``sound`` with the byte ``offset`` into the first page of ``part`` (a table
    or an index, or "header": the file's first bytes) inverted."""
    page = 1 if part == "header" else _root_page(sound, part)
    copy = folder / "copy.db"
    shutil.copyfile(sound, copy)
    where = (page - 1) * _PAGE + offset
    with copy.open("r+b") as out:
        out.seek(where)
        byte = out.read(1)[0]
        out.seek(where)
        out.write(bytes([byte ^ 0xFF]))
    return copy


#: (the part flipped, the byte of its page, what doctor and serve must name)
DAMAGE = [
    pytest.param("parties", 0, "table parties", id="a table page's type"),
    pytest.param("parties", 8, "table parties", id="a table page's cell pointer"),
    pytest.param("ix_notices_state_end", 0, "index ix_notices_state_end", id="an index page"),
    pytest.param("header", 0, "the database header", id="the header"),
]


def test_doctor_finds_a_sound_store_sound(sound, capsys):
    """Not a check that always fails: the hub's own database passes every check, exit 0."""
    code, out, err = _cli(capsys, "doctor", "--db", str(sound))
    assert code == 0, out + err
    assert "no damage found" in out
    assert "integrity_check" in out


@pytest.mark.parametrize(("part", "offset", "named"), DAMAGE)
def test_doctor_names_what_a_flipped_byte_damaged(sound, tmp_path, capsys, part, offset, named):
    """security.md §4.4: doctor reports the damage as such, naming the table, index or
    header, exits 1, and prints no traceback."""
    copy = _flipped(sound, tmp_path, part, offset)
    code, out, err = _cli(capsys, "doctor", "--db", str(copy))
    assert code == 1, out + err
    assert f"DAMAGED  {named}" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize(("part", "offset", "named"), DAMAGE)
def test_serve_refuses_a_damaged_store_and_points_at_doctor(
    sound, tmp_path, capsys, monkeypatch, part, offset, named
):
    """security.md §4.4: serve checks the store before it listens and refuses a damaged one
    with one line naming the damage and the doctor command (not the driver's text); it never
    gets as far as listening (its server is replaced by a stand-in that records a start)."""
    copy = _flipped(sound, tmp_path, part, offset)
    started = []
    monkeypatch.setattr(deconflict.api.server, "run", lambda *a, **k: started.append(a))
    code, out, err = _cli(
        capsys, "serve", "--db", str(copy), "--port", "0", "--no-detector-process"
    )
    assert started == []
    assert code == 1, out + err
    assert named in err
    assert f"deconflict doctor --db {copy}" in err
    assert "Traceback" not in out + err
    assert "malformed" not in err
    assert "not a database" not in err


def test_doctor_on_a_missing_file_is_one_line_and_status_1(tmp_path, capsys):
    """No traceback for a path with no database either."""
    code, _, err = _cli(capsys, "doctor", "--db", str(tmp_path / "none.db"))
    assert code == 1
    assert err.startswith("error: ")
    assert err.count("\n") == 1


@pytest.mark.postgres
def test_doctor_on_postgresql_checks_the_revision_and_says_what_it_skipped(
    tmp_path, pg_url, capsys
):
    """On PostgreSQL doctor checks the schema revision, and says it skipped the index check
    where the amcheck extension is not installed (rather than claim a check it did not run)."""
    make_db(tmp_path, pg_url)
    code, out, err = _cli(capsys, "doctor", "--db", pg_url, "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["sound"] is True
    assert "schema revision" in report["ran"]
    assert ("amcheck bt_index_check" in report["ran"]) != any(
        "amcheck" in s for s in report["skipped"]
    )


def test_doctor_names_a_schema_at_another_revision(sound, tmp_path, capsys):
    """A store whose recorded revision is not this version's is named as such (an edit, or a
    store from another version), with status 1."""
    copy = tmp_path / "copy.db"
    shutil.copyfile(sound, copy)
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    connection.close()
    code, out, _ = _cli(capsys, "doctor", "--db", str(copy))
    assert code == 1
    assert "DAMAGED  the schema: at revision ffffffffffff" in out


@pytest.mark.parametrize("form", ["{}", "sqlite:///{}"])
def test_serve_checks_no_store_that_is_not_made_yet(tmp_path, form):
    """A store that does not exist yet, named as a path or as a ``sqlite:///`` URL, is made by
    the hub: the check at start passes it by (the URL form was refused as "no such file")."""
    from deconflict.cli.serve import _check_at_start

    _check_at_start(form.format(tmp_path / "new.db"))
    assert not (tmp_path / "new.db").exists()
