"""The service state every hub process on one database shares (stored Idempotency-Key
responses, webhooks and their cursors: :mod:`deconflict.store.service_state`), reached from a
hub on its own thread, as every hub call."""

from __future__ import annotations

from deconflict.hub import Hub
from deconflict.store.service_state import ServiceState

__all__ = ["service_state"]


def service_state(hub: Hub) -> ServiceState:
    """The shared service state on ``hub``'s database."""
    return hub.store.service_state()
