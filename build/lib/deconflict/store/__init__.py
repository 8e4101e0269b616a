"""store: persistence behind one interface (``Store``), with the SQL implementation on SQLite
(the default) and PostgreSQL (``open_store`` picks by path or URL); every write of the
detector's inputs appends to a sequenced change log in the same transaction, the log's order is
its commit order, and the detector's outputs are committed together with its cursor, fenced by
the detector lease."""

from deconflict.store.base import Change, Detection, Seen, Store
from deconflict.store.engines import open_postgres, open_sqlite, open_store
from deconflict.store.lease import LeaseLost
from deconflict.store.retry import RetryPolicy
from deconflict.store.sql import SqlStore

__all__ = [
    "Change",
    "Detection",
    "LeaseLost",
    "RetryPolicy",
    "Seen",
    "SqlStore",
    "Store",
    "open_postgres",
    "open_sqlite",
    "open_store",
]
