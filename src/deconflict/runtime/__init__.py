"""runtime: what runs a hub process, with no HTTP in it: the one thread that owns the hub
(``runner``: read-your-writes, the detector loop and lease; ``group_commit``: a burst of writes
in one commit), the detector process of ``deconflict serve``, the marks of what the event
streams delivered, and the webhooks. ``Runtime(settings)`` is one
process's; the API (:mod:`deconflict.api`) is a thin translation of requests to calls on it."""

from deconflict.runtime.runtime import Runtime, RuntimeSettings

__all__ = ["Runtime", "RuntimeSettings"]
