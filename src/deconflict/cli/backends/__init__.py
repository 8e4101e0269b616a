"""Where the acting commands send their work: a hub database (``LocalBackend``, ``--db`` and
``--as``) or a remote hub's API (``RemoteBackend``, ``--url`` and ``--token``), both behind the one
``Backend`` interface, so each command is written once and prints the same either way.
``connect`` picks one from the common options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from deconflict.cli.backends.base import (
    Backend,
    ConflictSummary,
    Filed,
    NoticeSummary,
    NotificationSummary,
    PlanSummary,
)
from deconflict.cli.backends.local import LocalBackend, hub_session
from deconflict.cli.backends.remote import RemoteBackend
from deconflict.client import Client
from deconflict.errors import InvalidInput

__all__ = [
    "Backend",
    "ConflictSummary",
    "Filed",
    "LocalBackend",
    "NoticeSummary",
    "NotificationSummary",
    "PlanSummary",
    "RemoteBackend",
    "connect",
    "hub_session",
]


@contextmanager
def connect(db: str, url: str, token: str, party: str | None) -> Iterator[Backend]:
    """The remote hub at ``url`` when one is given (the token's party acts), else the database
    ``db`` with ``party`` acting; without either, InvalidInput."""
    if url:
        with Client(url, token or None) as client:
            yield RemoteBackend(client)
        return
    if party is None:
        raise InvalidInput("say which party acts: --as PARTY (or --url and --token)")
    yield LocalBackend(db, party)
