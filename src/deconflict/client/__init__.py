"""client: the Python client of the deconflict API (``Client``), over HTTP only."""

from deconflict.client._client import DETECTION_HEADER, Client, Event, RemoteError

__all__ = ["DETECTION_HEADER", "Client", "Event", "RemoteError"]
