"""A party's private entries and their digests: what concerns its plans, out of the shared log.

Every party sees the shared log grow: its checkpoints' sizes, the indexes of its own entries.
Had the entries about a party's plans (a conflict of a plan with another party's notice, the
notification telling the plan's owner, its delivery and acknowledgement) been appended there, a
party sweeping probe notices would have seen the log grow by more when a probe met another's
hidden plan, and so located the plan (security.md §3.4). So such an entry is the plan owner's
private entry (``ledger_private``, written by :mod:`deconflict.store.ledger_append` in the same
transaction as the record it is about), and the shared log commits to it only through the
party's **digest**: at the first tick of each period (``period_s``), one ``private.digest`` entry
per party, whatever happened, in an order keyed by a hub secret and the period
(:mod:`deconflict.ledger.unlinked`; by id, a party's place in the block told it how many party
ids sort before its own, those of parties it has no agreement with too), each committing
(salted, ``ledger.commit``) to the leaf hashes of the party's private entries since its
previous digest, maybe none. The shared log's growth is
then the same whether or not a probe met a plan: one entry per party per period.

What a party can prove: its digest's inclusion (a receipt of the digest entry), the digest's
opening (its salt and the list of leaf hashes, kept with the entry), and each private entry whose
leaf hash the list holds. An entry is committed to at most a period after it was made.

An entry its party is not told (the hub decides: ``hub.ticker.Ticker.withheld``) is committed
to apart, in the digest's ``withheld`` commitment, salted with the hub's ``withheld`` secret, so
that the party, which opens the digest, sees neither the leaf nor whether there is one: the
store's resolution of a conflict of its plan, at the end of a volume it may not see, appeared in
the list of the period it was made, and dated that end (security.md §3.6). An operator with the
store recomputes it (``ledger verify``).
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from deconflict.ledger.entries import withheld_commitment
from deconflict.ledger.unlinked import unlinked
from deconflict.store import ledger_tables as lt
from deconflict.store import schema as t
from deconflict.store import secrets
from deconflict.store.ledger_append import LogItem
from deconflict.store.ledger_base import PrivatePending
from deconflict.store.ledger_entries import DIGEST, Digest
from deconflict.store.records import IN_CHUNK, SqlRecords
from deconflict.store.transactions import transaction

__all__ = ["PERIOD_CURSOR", "SqlPrivateLedger"]

#: The ``cursors`` row holding the last period digested.
PERIOD_CURSOR = "ledger.digest_period"

_p = lt.ledger_private.c
_UNDIGESTED = (
    sa.select(_p.seq, _p.party, _p.leaf).where(_p.digest_idx.is_(None)).order_by(_p.party, _p.seq)
)
_PENDING = sa.select(_p.seq, _p.party, _p.type, _p.subject).where(_p.digest_idx.is_(None))
_LAST_PERIOD = sa.select(t.cursors.c.seq).where(t.cursors.c.name == PERIOD_CURSOR)


class SqlPrivateLedger(SqlRecords):
    """The digests of the parties' private entries."""

    @transaction
    def ledger_private_pending(self, at_s: float, period_s: float) -> list[PrivatePending] | None:
        """The private entries the digests of the period of ``at_s`` would commit to, for the
        hub to say which it withholds (:meth:`ledger_digest`); None when that period's digests
        are appended already (a read, then, of one row)."""
        with self.read_connection("reading the private entries to digest") as c:
            last = c.execute(_LAST_PERIOD).scalar()
            if last is not None and int(at_s // period_s) <= last:
                return None
            return [
                (int(seq), str(party), str(kind), str(subject))
                for seq, party, kind, subject in c.execute(_PENDING)
            ]

    @transaction
    def ledger_digest(
        self,
        at_s: float,
        period_s: float,
        withheld: Collection[int] = (),
        through: int | None = None,
    ) -> int:
        """At the first call in each period of ``period_s`` seconds (by ``at_s``), append one
        digest entry per party, committing to its private entries not yet digested (those
        after ``through``, a ``seq``, are left to the next: the caller has not seen them), those
        in ``withheld`` apart (their party is not told them); the number of entries appended
        (0 when this period's are there already)."""
        period = int(at_s // period_s)
        with self.write_connection("digesting the parties' private entries") as c:
            last = c.execute(_LAST_PERIOD).scalar()
            if last is not None and period <= last:
                return 0
            key = secrets.read(c.connection, "withheld")
            parties = [row[0] for row in c.execute(sa.select(t.parties.c.id))]
            pending: dict[str, list[tuple[int, bytes]]] = {p: [] for p in parties}
            for seq, party, leaf in c.execute(_UNDIGESTED):
                if through is None or seq <= through:
                    pending.setdefault(party, []).append((int(seq), bytes(leaf)))
            # In the hub's secret order of the period: by id, where a party's digest fell in
            # the block told how many ids sort before its own (a forty-second reader).
            ordered = unlinked(
                secrets.read(c.connection, "ids"), float(period), pending.items(), _party_of
            )
            items: list[LogItem] = []
            for party, rows in ordered:
                told = tuple(h.hex() for seq, h in rows if seq not in withheld)
                hidden = [h.hex() for seq, h in rows if seq in withheld]
                sealed = withheld_commitment(key, party, period, hidden)
                items.append((DIGEST, party, at_s, Digest(party, period, told, sealed)))
            indexes = self._log_many(c, items)
            for (_, rows), index in zip(ordered, indexes, strict=True):
                # A chunk of entries a statement: a party's backlog may be longer than a
                # statement binds (the others' filings meeting its plans make it grow).
                for lo in range(0, len(rows), IN_CHUNK):
                    chunk = [seq for seq, _ in rows[lo : lo + IN_CHUNK]]
                    c.execute(
                        sa.update(lt.ledger_private)
                        .where(_p.seq.in_(chunk))
                        .values(digest_idx=index)
                    )
                    hidden_here = [seq for seq in chunk if seq in withheld]
                    if hidden_here:
                        c.execute(
                            sa.update(lt.ledger_private)
                            .where(_p.seq.in_(hidden_here))
                            .values(withheld=True)
                        )
            if last is None:
                c.execute(sa.insert(t.cursors).values(name=PERIOD_CURSOR, seq=period))
            else:
                c.execute(
                    sa.update(t.cursors).where(t.cursors.c.name == PERIOD_CURSOR).values(seq=period)
                )
        return len(items)

    @transaction
    def ledger_private_entries(
        self, party: str, subject: str | None = None
    ) -> list[tuple[int | None, str]]:
        """``party``'s private entries (about ``subject``, say ``notification:M-...``), oldest
        first: (the index of the digest that commits to it, None until one does; its canonical
        JSON). Not those its digest withholds from it: the party cannot prove them (the digest
        does not list them), whatever it is told since."""
        query = (
            sa.select(_p.digest_idx, _p.body)
            .where(_p.party == party, _p.withheld.is_(False))
            .order_by(_p.seq)
        )
        if subject is not None:
            query = query.where(_p.subject == subject)
        with self.read_connection(f"reading {party!r}'s private entries") as c:
            return [(row[0], row[1]) for row in c.execute(query)]


def _party_of(item: tuple[str, list[tuple[int, bytes]]]) -> str:
    return item[0]
