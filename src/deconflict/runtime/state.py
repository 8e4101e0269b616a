"""The service state every hub process on one database shares (stored Idempotency-Key
responses, webhooks and their cursors: :mod:`deconflict.store.service_state`), reached from a
hub on its own thread, as every hub call."""

from __future__ import annotations

from deconflict.hub import Hub
from deconflict.store import SqlStore
from deconflict.store.service_state import ServiceState

__all__ = ["service_state"]


def service_state(hub: Hub) -> ServiceState:
    """The shared service state on ``hub``'s database."""
    store = hub.store
    if not isinstance(store, SqlStore):  # pragma: no cover - every store is a SqlStore
        raise TypeError("the service needs a SQL store")
    return ServiceState(store)
