"""The order in which the hub writes what it does at one time: a secret one.

Every party reads the indexes of its own ledger entries, and so where they fall among the
entries of others written at the same time. Written in the order the work came (filing order,
the change log's, the index's), a party's own entries placed another party's hidden ones among
them: between which of its filings a hidden notice was filed, which linked that notice's
filing entry to its start or to a conflict (the twelfth to fourteenth second readers:
docs/security.md §3.4). What the hub writes at one time is written in an order keyed by a
secret of the hub's and that time: the same work at another time falls in another order, so
one's rank tells nothing of another's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

__all__ = ["unlinked"]

T = TypeVar("T")


def unlinked(key: bytes, at_s: float, items: Iterable[T], name: Callable[[T], str]) -> list[T]:
    """``items`` in an order keyed by ``key`` and ``at_s``, each ranked by its ``name``."""
    salt = repr(at_s).encode() + b"\0"

    def rank(item: T) -> bytes:
        return hashlib.blake2b(salt + name(item).encode(), key=key, digest_size=16).digest()

    return sorted(items, key=rank)
