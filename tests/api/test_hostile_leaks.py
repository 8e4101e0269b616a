"""No driver text, SQL or stored data in any error (security.md §3.1), by forcing the store to
fail for real: a driver error quoting a statement and another party's values answers 500 with a
generic text (it answered 503 with the SQL and its parameters), a lost connection answers 503
with Retry-After and words a user understands, and a stored record edited out of shape answers
500 saying nothing of it (it answered 400 quoting the record), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc
from tests.api.harness import circle, client, notice_body, token

from deconflict.api.problems import STORE_FAILED
from deconflict.store.engines import postgres_url

pytestmark = pytest.mark.anyio

SECRET = "SECRET-PLAN-OF-FR"
STATEMENT = "SELECT plans.volumes FROM plans WHERE plans.id = %(id)s"
#: What no error body may hold: the statement, the parameters, the driver's words.
LEAKS = ("SELECT", SECRET, "plans.volumes", "DataError", "OperationalError", "psycopg", "sqlite")


@contextmanager
def failing(error: BaseException) -> Iterator[None]:
    """Every statement reading notices raises ``error`` (as the driver would) while inside."""

    def fail(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM notices" in statement:
            raise error

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", fail)


def _clean(text: str) -> None:
    assert not any(word in text for word in LEAKS), text


async def test_a_driver_failure_is_500_and_says_nothing_of_it(site, caplog):
    """security.md §3.1: a driver error that is not transient (here a DataError quoting a
    statement and another party's value) answers 500 with a generic text; the operator's
    log has the driver's words."""
    ru = token(site.state, "RU")
    driver = exc.DataError(STATEMENT, {"id": SECRET}, Exception(f"NUL in {SECRET}"))
    async with client(site.db) as http:
        with failing(driver):
            answer = await http.get("/v1/notices", headers=ru)
        assert answer.status_code == 500, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"] == STORE_FAILED
        assert "Retry-After" not in answer.headers  # not for now: retrying cannot help
        _clean(answer.text)
        assert SECRET in caplog.text  # for the operator, in the log
        assert (await http.get("/v1/notices", headers=ru)).status_code == 200


async def test_a_lost_connection_is_503_with_retry_after_and_plain_words(site):
    """security.md §3.1: a failure that is for now only (the connection lost) answers 503
    with Retry-After and a sentence a user understands, never the driver's."""
    ru = token(site.state, "RU")
    lost = exc.OperationalError(
        STATEMENT, {"id": SECRET}, Exception("server closed"), connection_invalidated=True
    )
    async with client(site.db) as http:
        with failing(lost):
            answer = await http.get("/v1/notices", headers=ru)
        assert answer.status_code == 503, answer.text
        assert int(answer.headers["Retry-After"]) >= 1
        assert "try again" in answer.json()["detail"]
        _clean(answer.text)


async def test_a_locked_sqlite_store_is_503_busy(tmp_path, caplog):
    """security.md §3.1: SQLite locked past every retry (SQLITE_BUSY) is 503, Retry-After."""
    from tests.api.harness import make_db

    db = make_db(tmp_path)
    ru = token(db, "RU")
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
    async with client(db) as http:
        with failing(exc.OperationalError(STATEMENT, {"id": SECRET}, locked)):
            answer = await http.get("/v1/notices", headers=ru)
        assert answer.status_code == 503, answer.text
        assert int(answer.headers["Retry-After"]) >= 1
        _clean(answer.text)


def _edit(db: str, sql: str) -> None:
    url = postgres_url(db) if db.startswith("postgresql") else f"sqlite:///{db}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(sql))
    engine.dispose()


async def test_a_stored_record_edited_out_of_shape_is_500_quoting_nothing(site):
    """security.md §3.1: a notice whose stored volumes cannot be read back is the store's
    fault: 500 with the generic text (it was 400 quoting the record's repr), and the other
    records are still served."""
    ru = token(site.state, "RU")
    async with client(site.db) as http:
        for notice_id in ("N1", "N2"):
            body = notice_body(circle(f"v-{notice_id}"), id=notice_id)
            assert (await http.post("/v1/notices", json=body, headers=ru)).status_code == 201
        _edit(
            str(site.db),
            """UPDATE notices SET volumes = '[{"id": "v", "footprint": {"geometry": """
            """{"type": "Blob-SECRET-PLAN-OF-FR"}}}]' WHERE id = 'RU/N1'""",
        )
        answer = await http.get("/v1/notices/N1", headers=ru)
        assert answer.status_code == 500, answer.text
        assert answer.json()["detail"] == STORE_FAILED
        _clean(answer.text)
        assert "Blob" not in answer.text
        assert (await http.get("/v1/notices/N2", headers=ru)).status_code == 200
