"""Python's cyclic garbage collector paused around work that makes millions of objects and no
cycles: the detector's rebuild (a few objects a volume) and the ledger's check of the whole log
(a few an entry). Each collection of the oldest generation walks every object the process
holds, and such work sets off many of them: at 10^6, a process holding the detector's index
took 24 s to check the whole ledger, about 5 without it (docs/benchmarks.md, "Restart")."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collection_paused"]


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """The collector off for the block, and on again after if it was on (what the block leaves
    unreachable in cycles is collected then)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
