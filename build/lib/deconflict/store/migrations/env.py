"""Alembic environment: runs migrations on the connection the store hands over.

The store calls Alembic programmatically with ``config.attributes["connection"]`` set, so there is
no alembic.ini, no URL and no logging configuration here.
"""

from __future__ import annotations

from alembic import context

from deconflict.store.schema import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("deconflict migrations run online only, from the store")
run_migrations_online()
