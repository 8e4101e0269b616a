"""client: the Python client of the deconflict API (``Client``), over HTTP only."""

from deconflict.client._client import Client, Event, RemoteError

__all__ = ["Client", "Event", "RemoteError"]
