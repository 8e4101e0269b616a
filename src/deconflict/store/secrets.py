"""Secrets every hub process on one database shares and no party may learn, made on first open.

``ids`` keys the ids the hub makes itself (conflicts, notifications: ``hub.detector``), so that an
id, which the parties it concerns see, is a function of what it refers to (the same conflict met
twice is one conflict) without naming it: a party that guessed another's hidden notice id could
otherwise test its guess against a conflict id (security.md §3.2). ``withheld`` salts the
commitment of a party's digest to the private entries it withholds from the party.

A secret is made when the store is opened (under the migration's lock on PostgreSQL, an
insert that yields to another process's on SQLite) and never changes. It is not a signing key:
anyone who reads the database reads every record anyway.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import sqlalchemy as sa

from deconflict.errors import StoreError
from deconflict.store import schema as t

if TYPE_CHECKING:
    from deconflict.store.dialect import Dialect

__all__ = ["NAMES", "complete", "ensure", "read"]

#: The secrets a store has, by name, and their size in bytes. ``withheld`` salts what a party's
#: digest withholds from it (``store.ledger_private``).
NAMES = {"ids": 32, "withheld": 32}


def ensure(connection: sa.Connection, dialect: Dialect) -> None:
    """Make the missing secrets (another process making one at the same time wins)."""
    for name, size in NAMES.items():
        value = secrets.token_bytes(size)
        connection.execute(dialect.insert_new(t.hub_secrets, "name", name=name, value=value))


def complete(connection: sa.Connection) -> bool:
    """Whether every secret is made (a read)."""
    names = sa.select(t.hub_secrets.c.name).where(t.hub_secrets.c.name.in_(list(NAMES)))
    return set(connection.execute(names).scalars()) == set(NAMES)


def read(connection: sa.Connection, name: str) -> bytes:
    """The secret ``name``; StoreError if the store has none (it was not opened by this version)."""
    value = connection.execute(
        sa.select(t.hub_secrets.c.value).where(t.hub_secrets.c.name == name)
    ).scalar()
    if value is None:
        raise StoreError(f"the store has no {name!r} secret: open it with this version to make it")
    return bytes(value)
