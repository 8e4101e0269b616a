"""Bit rot named: checks of a store's files that report damage as such, naming what is damaged.

A flipped byte shows up in SQLite as a raw driver error at some later read (``database disk
image is malformed``), or not at all until a query walks the damaged page. These checks look
for it on purpose and say where it is, as a person acting on it needs: the table or index
(SQLite's messages give b-tree page numbers, mapped here to names through ``sqlite_schema``'s
root pages and, where SQLite has it, the ``dbstat`` table of every page), or the file's header.

- :func:`check` with ``full=False`` (``serve`` at start): ``PRAGMA quick_check``, which reads
  every page and checks its structure, not that indexes match their tables.
- :func:`check` with ``full=True`` (``deconflict doctor``): ``PRAGMA integrity_check`` (indexes
  against tables too), ``PRAGMA foreign_key_check``, and whether the schema is at the revision
  this version expects.

When a check cannot even run (SQLite stops at the damaged page), each table is checked alone,
and each of its indexes read alone, to name the one that fails. The database is opened
read-only and never migrated or repaired here. On PostgreSQL, whose pages carry no
structure a client can walk, the indexes are checked with the ``amcheck`` extension's
``bt_index_check`` where it is installed, and the check says it was skipped where it is not.

What no check finds: a byte flipped inside a row's data (a digit of an altitude) leaves a page
well formed; the ledger's own verification (``deconflict ledger verify``) is what finds such
an edit of what the hub committed to.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from deconflict.errors import StoreError
from deconflict.store.engines import sqlite_file

__all__ = ["Finding", "Health", "check", "check_postgres", "check_sqlite"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_CORRUPT = 11  # SQLITE_CORRUPT
_NOT_A_DATABASE = 26  # SQLITE_NOTADB
_MOST_MESSAGES = 100  # integrity_check stops after this many
_PAGE = re.compile(r"(?:[Tt]ree|[Pp]age) (\d+)")
_INDEX = re.compile(r"(?:from|in|UNIQUE) index (\w+)")
_COLUMN = re.compile(r"(?:NULL value|value) in (\w+)\.")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found damaged: where (``table notices``, ``index ix_notices_state_end``, ``the
    database header``, ``the schema``) and what is wrong with it."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Health:
    """What the checks found (nothing: the store is sound as far as they can tell), what
    they ran, and what they could not run (and why)."""

    findings: tuple[Finding, ...]
    ran: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    @property
    def sound(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        """Every damaged part named in one line, for an error message."""
        return ", ".join(dict.fromkeys(f.where for f in self.findings))


def check(target: str | Path, full: bool) -> Health:
    """Check the store ``target`` names (a SQLite path, or a ``sqlite:///``/PostgreSQL URL)."""
    path = sqlite_file(target)
    return check_postgres(str(target), full) if path is None else check_sqlite(path, full)


def check_sqlite(path: Path, full: bool) -> Health:
    """Check the SQLite database at ``path`` (see the module docstring)."""
    if not path.is_file():
        raise StoreError(f"cannot check {str(path)!r}: no such file")
    pragma = "integrity_check" if full else "quick_check"
    ran = [f"PRAGMA {pragma}"]
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {str(path)!r} to check it: {error}") from None
    try:
        try:
            names = _page_names(db)
        except sqlite3.DatabaseError as error:
            if not _damaged(error):
                raise
            return Health((_unreadable_schema(error),), tuple(ran))
        findings = _structure(db, pragma, names)
        if full:
            ran += ["PRAGMA foreign_key_check", "schema revision"]
            findings += _foreign_keys(db)
            findings += _revision(sa.create_engine(f"sqlite:///{uri}&uri=true"))
        return Health(tuple(dict.fromkeys(findings)), tuple(ran))
    except sqlite3.Error as error:  # not damage: locked, unreadable, no room for its -shm ...
        raise StoreError(f"cannot check {str(path)!r}: {error}") from None
    finally:
        db.close()


def _damaged(error: sqlite3.Error) -> bool:
    """Whether SQLite said the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB), not something
    else (locked, cannot open, out of memory), which is no finding."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (_CORRUPT, _NOT_A_DATABASE)


def _unreadable_schema(error: sqlite3.Error) -> Finding:
    if getattr(error, "sqlite_errorcode", None) == _NOT_A_DATABASE:
        return Finding("the database header", "damaged: SQLite does not recognise the file")
    return Finding("the schema (page 1)", "damaged: SQLite cannot read the list of tables")


def _page_names(db: sqlite3.Connection) -> dict[int, str]:
    """Page number -> the table or index it belongs to: every page where ``dbstat`` can be
    read, else the root page of each."""
    kinds = {}
    names = {}
    for kind, name, root in db.execute(
        "SELECT type, name, rootpage FROM sqlite_schema WHERE rootpage > 0"
    ):
        kinds[name] = kind
        names[int(root)] = f"{kind} {name}"
    try:
        for name, page in db.execute("SELECT name, pageno FROM dbstat"):
            if name in kinds:
                names.setdefault(int(page), f"{kinds[name]} {name}")
    except sqlite3.Error:  # no dbstat in this SQLite, or it met the damage: root pages only
        pass
    return names


def _structure(db: sqlite3.Connection, pragma: str, names: dict[int, str]) -> list[Finding]:
    """The b-trees' structure: the whole file at once; where the check stops at the damage,
    the quick one (structure only) at once; else table by table."""
    for each in dict.fromkeys((pragma, "quick_check")):
        try:
            messages = [row[0] for row in db.execute(f"PRAGMA {each}({_MOST_MESSAGES})")]
        except sqlite3.DatabaseError as error:
            if not _damaged(error):
                raise
            continue
        return [_finding(m, names) for m in messages if m != "ok"]
    return _table_by_table(db, pragma, names)


def _finding(message: str, names: dict[int, str]) -> Finding:
    """A message of SQLite's check, with the table or index it is about."""
    text = message.replace("*** in database main ***", "").strip()
    found = _INDEX.search(text)
    if found:
        return Finding(f"index {found.group(1)}", text)
    found = _COLUMN.search(text)
    if found:
        return Finding(f"table {found.group(1)}", text)
    found = _PAGE.search(text)
    if found:
        page = int(found.group(1))
        return Finding(names.get(page, f"page {page}"), text)
    return Finding("the database", text)


def _table_by_table(db: sqlite3.Connection, pragma: str, names: dict[int, str]) -> list[Finding]:
    """Each table checked alone (with its indexes); one whose check cannot run is read alone
    to tell whether its own pages or its indexes' are damaged."""
    findings = []
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    for table in tables:
        for each in dict.fromkeys((pragma, "quick_check")):
            try:
                messages = [row[0] for row in db.execute(f"PRAGMA {each}({_quoted(table)})")]
            except sqlite3.DatabaseError as error:
                if not _damaged(error):
                    raise
                continue
            findings += [_finding(m, names) for m in messages if m != "ok"]
            break
        else:
            findings.append(_unreadable(db, table))
    return findings


def _unreadable(db: sqlite3.Connection, table: str) -> Finding:
    """Of a table whose check cannot run: its own pages, or else one of its indexes."""
    try:
        db.execute(f"SELECT count(*) FROM {_quoted(table)} NOT INDEXED").fetchone()
    except sqlite3.DatabaseError as error:
        if not _damaged(error):
            raise
        return Finding(f"table {table}", "damaged: SQLite cannot read its pages")
    return Finding(f"table {table}", "damaged: SQLite cannot read one of its indexes")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _foreign_keys(db: sqlite3.Connection) -> list[Finding]:
    try:
        rows = db.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError as error:
        if not _damaged(error):
            raise
        return []  # the structure check has named the damage that stops it
    return [
        Finding(f"table {table}", f"row {rowid} refers to a row of {parent} that is not there")
        for table, rowid, parent, _ in rows
    ]


def _revision(engine: sa.Engine) -> list[Finding]:
    """Whether the schema is at the revision this version expects."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except sa.exc.SQLAlchemyError:
        return [Finding("the schema", "its revision cannot be read")]
    finally:
        engine.dispose()
    if current == heads:
        return []
    have = ", ".join(sorted(current)) or "none"
    return [
        Finding(
            "the schema",
            f"at revision {have}, not {', '.join(sorted(heads))} as this version expects "
            "(an older store is migrated when the hub opens it; a newer one needs a newer hub)",
        )
    ]


def check_postgres(url: str, full: bool) -> Health:
    """Check the PostgreSQL store at ``url``: its indexes with ``amcheck`` where installed
    (full only), and its schema revision."""
    from deconflict.store.engines import postgres_url

    engine = sa.create_engine(postgres_url(url))
    findings: list[Finding] = []
    ran: list[str] = []
    skipped: list[str] = []
    try:
        with engine.connect() as connection:
            installed = connection.execute(
                sa.text("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")
            ).first()
            if not full:
                skipped.append("a quick check at start (run `deconflict doctor`)")
            elif installed is None:
                skipped.append("index check: the amcheck extension is not installed")
            else:
                ran.append("amcheck bt_index_check")
                findings += _amcheck(connection)
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot check the store: {error}") from None
    if full:
        ran.append("schema revision")
        findings += _revision(engine)
    engine.dispose()
    return Health(tuple(findings), tuple(ran), tuple(skipped))


def _amcheck(connection: sa.Connection) -> list[Finding]:
    indexes = connection.execute(
        sa.text(
            "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am a ON a.oid = c.relam"
            " WHERE a.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace"
        )
    ).all()
    found = []
    for oid, name in indexes:
        try:
            with connection.begin_nested():
                connection.execute(sa.text("SELECT bt_index_check(:oid)"), {"oid": oid})
        except sa.exc.DBAPIError as error:
            found.append(Finding(f"index {name}", f"damaged: {error.orig}"))
    return found
