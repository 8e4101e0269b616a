"""store: persistence behind one interface (``Store``), with the SQL implementation on SQLite
(``open_sqlite``); every write appends to a sequenced change log in the same transaction, and the
detector's outputs are committed together with its cursor."""

from deconflict.store.base import Change, Detection, Store
from deconflict.store.sql import SqlStore, open_sqlite

__all__ = ["Change", "Detection", "SqlStore", "Store", "open_sqlite"]
