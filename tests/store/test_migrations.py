"""Migrations from the previous head: a database at 0004 opened now gains the conflicts
table's indexes by record (0005), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import deconflict.store.migrations as migrations
from deconflict.model import Party
from deconflict.store import open_store
from deconflict.store.engines import postgres_url


def _engine(target: str) -> sa.Engine:
    if target.startswith("postgresql"):
        return sa.create_engine(postgres_url(target))
    return sa.create_engine(f"sqlite:///{target}")


def _record_indexes(engine: sa.Engine) -> dict[str, list[str | None]]:
    found = sa.inspect(engine).get_indexes("conflicts")
    return {i["name"]: i["column_names"] for i in found if "record" in str(i["name"])}


def test_a_database_at_0004_gains_the_conflict_record_indexes(store_target):
    engine = _engine(store_target)
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(
            sa.text("INSERT INTO parties (id, name, created_at_s) VALUES ('usaf', 'USAF', 1.0)")
        )
    assert _record_indexes(engine) == {}
    store = open_store(store_target)
    try:
        assert store.list_parties() == [Party("usaf", "USAF")]
    finally:
        store.close()
    assert _record_indexes(engine) == {
        "ix_conflicts_a_record": ["a_kind", "a_record_id"],
        "ix_conflicts_b_record": ["b_kind", "b_record_id"],
    }
    with engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [v for (v,) in version] == ["0005"]
    engine.dispose()
