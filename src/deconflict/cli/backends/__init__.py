"""Where the acting commands send their work: a hub database (``LocalBackend``, ``--db`` and
``--as``) or a remote hub's API (``RemoteBackend``, ``--url`` and ``--token``), both behind the one
``Backend`` interface, so each command is written once and prints the same either way; likewise
parties and agreements behind ``Registry``. ``connect`` and ``registry`` pick one from the common
options.

The two backends are imported when a command connects, not with this package: every command's
help is built at start, and neither the hub (SQLAlchemy, psycopg, numpy) nor the client (httpx)
is needed for it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from deconflict.cli.backends.base import (
    AgreementSummary,
    Backend,
    ConflictSummary,
    Filed,
    NoticeSummary,
    NotificationSummary,
    PlanSummary,
    Registry,
)
from deconflict.errors import InvalidInput

#: Said on standard error after a remote command whose answer was made before the hub had
#: checked the party's own latest filings (``Client.detection_pending``).
PENDING_NOTE = (
    "note: the hub has not yet checked this party's latest filings (it is starting, or behind): "
    "their conflicts may be missing here, and come as they are found"
)

__all__ = [
    "AgreementSummary",
    "Backend",
    "ConflictSummary",
    "Filed",
    "NoticeSummary",
    "NotificationSummary",
    "PlanSummary",
    "Registry",
    "connect",
    "registry",
]


@contextmanager
def connect(db: str, url: str, token: str, party: str | None) -> Iterator[Backend]:
    """The remote hub at ``url`` when one is given (the token's party acts), else the database
    ``db`` with ``party`` acting; without either, InvalidInput. A remote command answered
    before the hub checked the party's own latest filings ends with :data:`PENDING_NOTE`."""
    if url:
        from deconflict.cli.backends.remote import RemoteBackend
        from deconflict.client import Client

        with Client(url, token or None) as client:
            yield RemoteBackend(client)
            if client.detection_pending:
                sys.stderr.write(PENDING_NOTE + "\n")
        return
    if party is None:
        raise InvalidInput("say which party acts: --as PARTY (or --url and --token)")
    from deconflict.cli.backends.local import LocalBackend

    yield LocalBackend(db, party)


@contextmanager
def registry(db: str, url: str, token: str) -> Iterator[Registry]:
    """The parties and agreements of the remote hub at ``url`` when one is given (adding needs
    the token's admin scope), else of the database ``db``."""
    if url:
        from deconflict.cli.backends.remote import RemoteRegistry
        from deconflict.client import Client

        with Client(url, token or None) as client:
            yield RemoteRegistry(client)
        return
    from deconflict.cli.backends.local import LocalRegistry

    yield LocalRegistry(db)
