"""Service state every hub process on one database shares: stored Idempotency-Key responses and
the webhook of each party with how far delivery has got.

Both live in the main database (migration 0004), not beside one process, so that a retry that
lands on another worker is recognised, and a webhook registered through any worker is served.

``idempotency_keys`` holds the first response to a POST by (party, key), with the request's
fingerprint. It is written by :meth:`ServiceState.remember_response` in the caller's
transaction: inside a unit of work (see ``Store.unit_of_work``) together with the change the POST
made, so a crash commits both or neither and a retry finds the response whenever the change is
there. Rows older than the time to live are ignored when read, replaced when their key is used
again, and deleted in bounded batches by :meth:`ServiceState.expire_responses`, away from the
hot path.

``webhooks`` holds one row per party: its URL, its secret sealed (migration 0014: never in clear;
the service seals and opens it with a key kept outside the database, see
:mod:`deconflict.runtime.webhooks.sealing`; a row written before 0014 holds its secret in clear in
``secret`` until :meth:`ServiceState.seal_webhook_secrets` seals it), and its cursor: the event id
up to which every notification was delivered. The cursor only moves by compare-and-set
(:meth:`ServiceState.advance_webhook` names the cursor it read), so two senders racing (an old
lease holder and a new one, across a failover) can resend an event, never move a cursor back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from deconflict.store.schema import Id, Time, metadata
from deconflict.store.tx import Tx

if TYPE_CHECKING:
    from deconflict.store.transactions import SqlTransactions

__all__ = [
    "ServiceState",
    "StoredResponse",
    "Webhook",
    "idempotency_keys",
    "webhooks",
]

T = TypeVar("T")

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("party", Id, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),
    sa.Column("at_s", Time, nullable=False),  # wall-clock seconds when stored
    sa.Index("ix_idempotency_keys_at_s", "at_s"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("party", Id, primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(200)),  # in clear: rows before migration 0014, until sealed
    sa.Column("cursor", sa.String(400)),  # every event up to this id delivered; null: none yet
    sa.Column("sealed", sa.String(2000)),  # the secret, sealed with the service's webhook key
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first response to a POST: its request's fingerprint, status, JSON body, headers."""

    fingerprint: str
    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Webhook:
    """A party's webhook as stored: its URL, its secret ``sealed`` (or, in a row from before
    migration 0014 not yet sealed, ``clear_secret``), and its cursor."""

    party: str
    url: str
    sealed: str | None
    cursor: str | None = None
    clear_secret: str | None = None


_k = idempotency_keys.c
_w = webhooks.c
_GET_RESPONSE = sa.select(_k.fingerprint, _k.status, _k.body, _k.headers, _k.at_s).where(
    _k.party == sa.bindparam("party"), _k.key == sa.bindparam("key")
)
_DROP_RESPONSE = sa.delete(idempotency_keys).where(
    _k.party == sa.bindparam("party"), _k.key == sa.bindparam("key")
)
_INSERT_RESPONSE = sa.insert(idempotency_keys)
_WEBHOOK = sa.select(_w.party, _w.url, _w.sealed, _w.cursor, _w.secret)


class ServiceState:
    """Stored responses and webhooks on ``store``'s database. Each method is one transaction
    (retried on a serialization failure), or part of the store's open unit of work, whose owner
    retries the whole unit. Use it on the thread that uses ``store``."""

    def __init__(self, store: SqlTransactions) -> None:
        self._store = store

    def _run(self, write: bool, doing: str, work: Callable[[Tx], T]) -> T:
        # The store's own transactions: they join its open unit of work, if any. In a unit a
        # read goes through ``write_connection`` too: these tables hold no ledger rows, so the
        # unit's pending ledger rows need not be written out first (as ``read_connection`` does).
        store = self._store
        in_unit = store.in_unit

        def run() -> T:
            connection = store.write_connection if write or in_unit else store.read_connection
            with connection(doing) as c:
                return work(c)

        if in_unit:
            return run()
        return store.retry.run(run)

    def stored_response(self, party: str, key: str, newer_than_s: float) -> StoredResponse | None:
        """``party``'s response stored under ``key`` at or after ``newer_than_s``, if any."""

        def work(c: Tx) -> StoredResponse | None:
            row = c.execute(_GET_RESPONSE, {"party": party, "key": key}).first()
            if row is None or row.at_s < newer_than_s:
                return None
            return StoredResponse(
                row.fingerprint, int(row.status), json.loads(row.body), json.loads(row.headers)
            )

        return self._run(False, "reading a stored response", work)

    def remember_response(
        self, party: str, key: str, response: StoredResponse, at_s: float
    ) -> None:
        """Store ``response`` under (party, key), replacing an expired one; in the open unit of
        work if there is one (so with the change the request made)."""

        def work(c: Tx) -> None:
            # An expired row may still hold the key: replace it (a live one was found by the
            # caller's read in this same transaction, so none is here).
            c.execute(_DROP_RESPONSE, {"party": party, "key": key})
            c.execute(
                _INSERT_RESPONSE,
                {
                    "party": party,
                    "key": key,
                    "fingerprint": response.fingerprint,
                    "status": response.status,
                    "body": json.dumps(response.body),
                    "headers": json.dumps(response.headers),
                    "at_s": at_s,
                },
            )

        self._run(True, "storing a response", work)

    def expire_responses(self, older_than_s: float, limit: int = 1000) -> int:
        """Delete at most ``limit`` responses stored before ``older_than_s``; how many."""

        def work(c: Tx) -> int:
            old = (
                sa.select(_k.party, _k.key)
                .where(_k.at_s < older_than_s)
                .order_by(_k.at_s)
                .limit(limit)
            )
            rows = c.execute(old).all()
            for row in rows:
                c.execute(_DROP_RESPONSE, {"party": row.party, "key": row.key})
            return len(rows)

        return self._run(True, "expiring stored responses", work)

    def put_webhook(self, party: str, url: str, sealed: str) -> Webhook:
        """Set ``party``'s webhook URL and sealed secret; its cursor stays."""
        values = {"url": url, "sealed": sealed, "secret": None}

        def work(c: Tx) -> Webhook:
            done = c.execute(sa.update(webhooks).where(_w.party == party).values(**values))
            if done.rowcount == 0:
                c.execute(sa.insert(webhooks).values(party=party, **values))
            return Webhook(*c.execute(_WEBHOOK.where(_w.party == party)).one())

        return self._run(True, f"setting the webhook of {party!r}", work)

    def seal_webhook_secrets(self, seal: Callable[[str, str], str]) -> list[str]:
        """Seal every secret still in clear (rows from before migration 0014) with
        ``seal(party, secret)`` and erase the clear one; the parties whose secret it sealed.
        A row changed meanwhile (by another process doing the same) is left as it is."""

        def work(c: Tx) -> list[str]:
            found = c.execute(sa.select(_w.party, _w.secret).where(_w.secret.is_not(None)))
            done = []
            for party, clear in found.all():
                move = (
                    sa.update(webhooks)
                    .where(_w.party == party, _w.secret == clear)
                    .values(sealed=seal(party, clear), secret=None)
                )
                if c.execute(move).rowcount == 1:
                    done.append(party)
            return done

        def any_clear(c: Tx) -> bool:
            return c.execute(sa.select(_w.party).where(_w.secret.is_not(None))).first() is not None

        # A read first: a start with none in clear (the rule) writes nothing (security.md §4.4).
        if not self._run(False, "looking for webhook secrets in clear", any_clear):
            return []
        return self._run(True, "sealing the webhook secrets", work)

    def get_webhook(self, party: str) -> Webhook | None:
        def work(c: Tx) -> Webhook | None:
            row = c.execute(_WEBHOOK.where(_w.party == party)).first()
            return None if row is None else Webhook(*row)

        return self._run(False, f"reading the webhook of {party!r}", work)

    def list_webhooks(self) -> list[Webhook]:
        def work(c: Tx) -> list[Webhook]:
            return [Webhook(*row) for row in c.execute(_WEBHOOK.order_by(_w.party))]

        return self._run(False, "reading the webhooks", work)

    def delete_webhook(self, party: str) -> bool:
        """Remove ``party``'s webhook (and its cursor); whether there was one."""

        def work(c: Tx) -> bool:
            return c.execute(sa.delete(webhooks).where(_w.party == party)).rowcount > 0

        return self._run(True, f"removing the webhook of {party!r}", work)

    def advance_webhook(self, party: str, expected: str | None, cursor: str) -> bool:
        """Move ``party``'s cursor from ``expected`` to ``cursor``; False (and nothing moved) if
        its cursor is no longer ``expected`` or the webhook is gone."""

        def work(c: Tx) -> bool:
            was = _w.cursor.is_(None) if expected is None else _w.cursor == expected
            move = sa.update(webhooks).where(_w.party == party, was).values(cursor=cursor)
            return c.execute(move).rowcount == 1

        return self._run(True, f"moving the webhook cursor of {party!r}", work)
