"""Change-log order with concurrent writers: a row's position in the log is its commit order.

The hazard. ``changes.seq`` comes from an identity sequence. On PostgreSQL several transactions
write at once, and a sequence hands out numbers at ``INSERT`` time, not at commit: transaction A
takes 5, B takes 6, B commits, the detector reads ``seq > 4``, sees 6, moves its cursor to 6 and
A's row 5, committed a moment later, is never processed.

The scheme: a log mutex row. Every write transaction, just before it appends its first change-log
row, locks one row of ``cursors`` (``name = 'changes.order'``) with ``SELECT ... FOR UPDATE`` and
keeps the lock to its commit. The sequence number is drawn after the lock is taken, so two
transactions that append to the log hold the mutex one after the other and draw their numbers in
that same order: a transaction that drew a smaller number committed (or rolled back) before one
with a larger number could even draw it. PostgreSQL makes a commit visible before it releases the
transaction's locks, so once a reader sees row N every row below N is visible too (or never will
be: a rolled-back number is a gap, which the detector reads past harmlessly). Reading
``seq > cursor`` is therefore correct again, with no watermark to compute.

Why this rather than the alternatives:

- *Lock only, never update.* The mutex row is locked and not modified. Under SERIALIZABLE (and
  REPEATABLE READ) PostgreSQL aborts a transaction that updates a row a concurrent transaction
  has updated since its snapshot, so a counter row bumped by every writer would turn nearly every
  concurrent write into a serialization failure and a retry. A row that is only locked makes
  the second writer wait, then proceed without error.
- *Writers queue before their snapshot (PostgreSQL).* Writers also derive values from the end
  of what earlier writers appended (the ledger's next leaf index). A writer that waited on the
  mutex row still reads with the snapshot it took before waiting, so those values would be
  stale and SERIALIZABLE would abort it: with eight concurrent writers a third of the writes
  were retried and some gave up. So on PostgreSQL every write transaction first takes a table
  lock (:data:`QUEUE_SQL`; ``LOCK TABLE`` takes no snapshot), and then reads what the
  previous writer committed. Writes are serialised, never aborted for racing each other.
- *Portable.* Plain ``SELECT ... FOR UPDATE`` on a table row works on PostgreSQL and CockroachDB
  (SQLite has one writer at a time anyway, so there it is not taken); the table lock above is for
  PostgreSQL only and a matter of retries, not of order. A commit watermark from
  ``pg_snapshot_xmin`` or an advisory lock would tie correctness to PostgreSQL internals, and
  LISTEN/NOTIFY is only ever a wake-up.
- *Cost.* Write transactions are serialised: the write rate is bounded by one at a time, so
  what matters is how long each holds the turn. The HTTP workers group concurrent filings into
  one transaction, and on PostgreSQL the write turn
  (:meth:`deconflict.store.dialect.Postgres.take_write_turn`) queues, takes the mutex and reads
  what the transaction needs first in one round trip (the rows are then written in one more,
  :meth:`~deconflict.store.dialect.Dialect.pipelined`). That is what one ordered, hash-linked
  log is; a later partition by area could give each partition its own mutex row, ledger and
  cursor.

The statements are here; they are run by the dialect (:mod:`deconflict.store.dialect`), and
whether a transaction holds the mutex is its :class:`~deconflict.store.tx.Tx`'s
``holds_log_mutex``. On SQLite neither is run: its write transaction holds the database's one
write lock from its ``BEGIN IMMEDIATE`` to its commit, so its change-log rows are in commit order
already.

The rows this module and :mod:`deconflict.store.lease` need live in ``cursors`` and are created
(if missing) when a store is opened, so no migration is needed for them.
"""

from __future__ import annotations

import sqlalchemy as sa

from deconflict.store import schema as t

__all__ = ["LOG_MUTEX", "MUTEX", "MUTEX_SQL", "QUEUE_SQL", "ensure_rows"]

LOG_MUTEX = "changes.order"

#: Wait for the write turn before the transaction takes its snapshot (PostgreSQL).
#:
#: ``LOCK TABLE`` is the one statement that does not take the snapshot, so issued first it makes
#: write transactions queue and then read the state the previous writer committed. Without it,
#: a writer queued on the log mutex reads with a snapshot from before the previous writer's
#: commit, and anything it derives from the log's or the ledger's end (the next leaf index) is
#: stale, which SERIALIZABLE turns into a retry; with several writers that is nearly every
#: write (measured: 8 writers, 277 retries per 800 writes and some giving up after 12 tries).
#: SHARE ROW EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE lock an INSERT takes,
#: never with readers. CockroachDB has no ``LOCK TABLE``; there the mutex row alone keeps the
#: order and contention is left to its retries. SQLite's ``BEGIN IMMEDIATE`` already queues.
QUEUE_SQL = "LOCK TABLE changes IN SHARE ROW EXCLUSIVE MODE"

#: Lock the log mutex row until the transaction ends.
MUTEX = sa.select(t.cursors.c.seq).where(t.cursors.c.name == LOG_MUTEX).with_for_update()
#: The same, to run with the write turn (no parameters: its one value is the constant above).
MUTEX_SQL = str(MUTEX.compile(compile_kwargs={"literal_binds": True}))


def ensure_rows(connection: sa.Connection, names: tuple[str, ...]) -> None:
    """Insert the ``cursors`` rows in ``names`` that are missing, at 0."""
    have = set(
        connection.execute(sa.select(t.cursors.c.name).where(t.cursors.c.name.in_(names))).scalars()
    )
    for name in names:
        if name not in have:
            connection.execute(sa.insert(t.cursors).values(name=name, seq=0))
