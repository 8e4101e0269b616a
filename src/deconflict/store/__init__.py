"""store: persistence behind small protocols, one per concern, whose union is ``Store``, with
the SQL implementation on SQLite (the default) and PostgreSQL (``open_store`` picks by path or
URL); every write of the detector's inputs appends to a sequenced change log in the same
transaction, the log's order is its commit order, and the detector's outputs are committed
together with its cursor, fenced by the detector lease.

The seams (:mod:`~deconflict.store.base`, :mod:`~deconflict.store.ledger_base`), chosen by who
uses what; the hub holds a whole ``Store``, every other user the narrowest protocol it calls:

- ``Units``: unit of work, read snapshot, savepoint, ``twin``, ``close`` (group commit; the
  detector worker's lease keeper);
- ``Wakeups`` and ``Secrets``: wake-ups between processes (the runner, the worker), the secret
  conflict ids are keyed with (the detector);
- ``Parties``, ``Notices``, ``Plans``: the detector's inputs (the hub; the detector and the
  sight read notices and plans at the versions the log names);
- ``ChangeLog``, ``Detections``, ``Lease``: the log and its cursor (the detector, the log
  consumer, the runner), the outputs committed with it (the consumer), the detector lease and
  the WAL checkpoint its holder runs (the worker);
- ``Conflicts``, ``Notifications``: what detection found, the outbox and its deliveries;
- ``ServiceStates``: the state every process shares (stored responses, webhooks: the runtime);
- ``LedgerStore``, with ``LedgerKeys``: the ledger's reads, checkpoints and halt (the hub's
  ledger), the registered key (the key loader).

Reading it, start with:

- :mod:`~deconflict.store.sql`: ``SqlStore``, one part per concept (parties, notices, plans,
  detections, conflicts, notifications, the ledger's read side), and the change log;
- :mod:`~deconflict.store.transactions`: how each call gets its transaction (its own, or the
  open unit of work or read snapshot it joins), retries and error translation;
- :mod:`~deconflict.store.tx`: ``Tx``, one transaction's connection and state as plain fields,
  which the store's module functions take in place of a connection: what runs now and what at
  the unit's end depends on it alone, and nothing is left on the pooled connection;
- :mod:`~deconflict.store.dialect`: what differs between SQLite and PostgreSQL (the write turn,
  pipelining, wake-ups, WAL checkpoints, upserts, the migration lock), one object per database
  chosen when the store is opened; no other module asks which database it is on;
- :mod:`~deconflict.store.order` and :mod:`~deconflict.store.lease`: why the log's order is
  its commit order, and how the detector is fenced;
- :mod:`~deconflict.store.bulk`, :mod:`~deconflict.store.ledger_append`: the write path's
  statements at the driver's speed, and the ledger's appends in the caller's transaction.
"""

from deconflict.store.base import (
    Change,
    ChangeLog,
    Conflicts,
    Detection,
    Detections,
    Lease,
    LivePage,
    LiveRecord,
    Notices,
    Notifications,
    Parties,
    Plans,
    Secrets,
    Seen,
    ServiceStates,
    Store,
    Units,
    Wakeups,
)
from deconflict.store.engines import open_postgres, open_sqlite, open_store
from deconflict.store.lease import LeaseLost
from deconflict.store.retry import RetryPolicy
from deconflict.store.sql import SqlStore

__all__ = [
    "Change",
    "ChangeLog",
    "Conflicts",
    "Detection",
    "Detections",
    "Lease",
    "LeaseLost",
    "LivePage",
    "LiveRecord",
    "Notices",
    "Notifications",
    "Parties",
    "Plans",
    "RetryPolicy",
    "Secrets",
    "Seen",
    "ServiceStates",
    "SqlStore",
    "Store",
    "Units",
    "Wakeups",
    "open_postgres",
    "open_sqlite",
    "open_store",
]
