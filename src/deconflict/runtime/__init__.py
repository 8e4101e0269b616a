"""runtime: what runs a hub process, with no HTTP in it: the one thread that owns the hub (group
commit, read-your-writes, the detector lease), the detector process of ``deconflict serve``,
the marks of what the event streams delivered, and the webhooks. ``Runtime(settings)`` is one
process's; the API (:mod:`deconflict.api`) is a thin translation of requests to calls on it."""

from deconflict.runtime.runtime import Runtime, RuntimeSettings

__all__ = ["Runtime", "RuntimeSettings"]
