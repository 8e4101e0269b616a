"""The SQL store's parties and agreements: adding and reading them.

Inside a unit of work the reads it repeats for every write it groups (whether a party exists,
the agreements) are kept until the unit ends, a savepoint is undone, or one is added.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from deconflict.errors import NotFound
from deconflict.model import Agreement, Party
from deconflict.store import schema as t
from deconflict.store.codec import agreement_from_json, agreement_to_json
from deconflict.store.records import SqlRecords
from deconflict.store.transactions import transaction

__all__ = ["SqlParties"]

# Statements built once (their parameters given at execution).
_GET_PARTY = sa.select(t.parties).where(t.parties.c.id == sa.bindparam("id"))
_LIST_AGREEMENTS = sa.select(t.agreements.c.body).order_by(
    t.agreements.c.created_at_s, t.agreements.c.id
)
_LIST_AGREEMENTS_SQL = str(_LIST_AGREEMENTS.compile())  # no parameters: the write turn's
_AGREEMENTS = "agreements"  # their row in ``versions``
_AGREEMENTS_VERSION = sa.select(t.versions.c.version).where(t.versions.c.name == _AGREEMENTS)
_AGREEMENT_ADDED = (
    sa.update(t.versions)
    .where(t.versions.c.name == _AGREEMENTS)
    .values(version=t.versions.c.version + 1)
)


#: A stored agreement's body as its Agreement (immutable, and never changed once stored): read
#: by every filing and every read, parsed once.
_parsed = lru_cache(maxsize=4096)(agreement_from_json)


def _agreements_of(rows: list[Any]) -> list[Agreement]:
    return [_parsed(row[0]) for row in rows]


class SqlParties(SqlRecords):
    """Parties and the agreements between them."""

    # Every filing reads the agreements (its lead time): on PostgreSQL a unit of work reads
    # them in its write turn's round trip (see SqlTransactions._TURN_READS).
    _TURN_READS = (("agreements", _LIST_AGREEMENTS_SQL, _agreements_of),)
    #: The agreements as last read whole, and the version they were read at (migration 0024).
    _agreements_read: tuple[int, list[Agreement]] | None = None

    @transaction
    def add_party(self, party: Party, at_s: float) -> None:
        self._forget_unit_reads()
        with self.write_connection(f"adding party {party.id!r}") as c:
            c.execute(sa.insert(t.parties).values(id=party.id, name=party.name, created_at_s=at_s))
            self._log(c, "party.added", party.id, at_s)

    @transaction
    def get_party(self, party_id: str) -> Party:
        key = f"party:{party_id}"
        known: Party | None = self._unit_read(key)
        if known is not None:
            return known
        with self.read_connection(f"reading party {party_id!r}") as c:
            row = c.execute(_GET_PARTY, {"id": party_id}).first()
        if row is None:
            raise NotFound(f"no party {party_id!r}")
        party = Party(row.id, row.name)
        self._keep_unit_read(key, party)
        return party

    @transaction
    def list_parties(self) -> list[Party]:
        with self.read_connection("listing parties") as c:
            rows = c.execute(sa.select(t.parties).order_by(t.parties.c.id)).all()
        return [Party(row.id, row.name) for row in rows]

    @transaction
    def add_agreement(
        self,
        agreement: Agreement,
        at_s: float,
        check: Callable[[list[Agreement]], None] | None = None,
    ) -> None:
        self._forget_unit_reads()
        with self.write_connection(f"adding agreement {agreement.id!r}") as c:
            if check is not None:  # against what is stored, in the write turn: no race
                check([_parsed(row.body) for row in c.execute(_LIST_AGREEMENTS)])
            c.execute(
                sa.insert(t.agreements).values(
                    id=agreement.id, body=agreement_to_json(agreement), created_at_s=at_s
                )
            )
            c.execute(_AGREEMENT_ADDED)
            self._log(c, "agreement.added", agreement.id, at_s)

    @transaction
    def list_agreements(self) -> list[Agreement]:
        known: list[Agreement] | None = self._unit_read("agreements")
        if known is not None:
            return list(known)
        with self.read_connection("listing agreements") as c:
            if self.in_unit:  # what it reads may yet be undone: read whole, kept for the unit
                found = [_parsed(row.body) for row in c.execute(_LIST_AGREEMENTS)]
            else:
                found = self._agreements_at(c, c.execute(_AGREEMENTS_VERSION).scalar_one())
        self._keep_unit_read("agreements", found)
        return list(found)

    def _agreements_at(self, c: Any, version: int) -> list[Agreement]:
        """The committed agreements at ``version``: read whole only when one was added since
        they last were, so a read costs the same however many there are (security.md §3.5)."""
        last = self._agreements_read
        if last is not None and last[0] == version:
            return last[1]
        found = [_parsed(row.body) for row in c.execute(_LIST_AGREEMENTS)]
        self._agreements_read = (version, found)
        return found
