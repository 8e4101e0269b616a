"""The detector lease: one detector at a time over a shared store, fenced by a token.

Several hub processes may share one database; each can write, but only the holder of the
detector lease consumes the change log. Why a lease and not a partition by area: the detector's
results depend on the order of the whole log (a notice amended in one area and filed into another
moves between partitions, and a conflict joins two records that may sit in two partitions), so
partitioning needs cross-partition hand-offs to stay exactly-once. One leader keeps the log's
single order and the existing cursor; the detector is cheap next to the writes (an R-tree query per
volume), and a standby takes over within one lease period when the leader dies.

The lease is two ``cursors`` rows: ``detector.lease`` holds the fencing token, a number that
grows by one at every change of holder, and ``detector.lease_until_ms`` the expiry, in
milliseconds of the holders' wall clocks (the lease period must dwarf the clock skew between
machines). A process takes the lease when it has expired (or is its own), renews it by heartbeat
before it expires, and releases it on a clean stop (expiry 0, so a standby need not wait).

Fencing: every detection commit carries the token it was computed under and, in the same
transaction, updates the token row on the condition that the token is unchanged. An old leader
that paused (GC, SIGSTOP, a slow disk) past its expiry and then commits finds a newer token and
gets :class:`LeaseLost`; had it raced the takeover instead, both transactions write the token row,
so SERIALIZABLE lets only one of them commit and the loser retries and then sees the outcome.
Either way a change is processed under exactly one token.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from deconflict.errors import StoreError
from deconflict.store import schema as t

__all__ = ["LEASE_ROWS", "LeaseLost", "acquire", "fence_sql", "fenced", "release"]

TOKEN = "detector.lease"
UNTIL = "detector.lease_until_ms"
LEASE_ROWS = (TOKEN, UNTIL)


class LeaseLost(StoreError):
    """The detector lease is held under a newer token: this process must stop detecting."""

    status = 409


def _get(c: sa.Connection, name: str) -> int:
    value = c.execute(sa.select(t.cursors.c.seq).where(t.cursors.c.name == name)).scalar()
    if value is None:
        raise StoreError(f"the lease row {name!r} is missing: open the store to create it")
    return int(value)


def _set(c: sa.Connection, name: str, value: int) -> None:
    c.execute(sa.update(t.cursors).where(t.cursors.c.name == name).values(seq=value))


def acquire(c: sa.Connection, now_ms: int, ttl_ms: int, held: int | None) -> int | None:
    """Take or renew the lease; the token it is held under, or None while another holds it.

    ``held`` is the token this process holds (None if it holds none): if it is still current the
    lease is extended under it (even past expiry: no one else took it, so nothing happened).
    """
    token = _get(c, TOKEN)
    if held is not None and held == token:
        _set(c, UNTIL, now_ms + ttl_ms)
        return token
    if _get(c, UNTIL) > now_ms:
        return None
    _set(c, TOKEN, token + 1)
    _set(c, UNTIL, now_ms + ttl_ms)
    return token + 1


def held_by_another(c: sa.Connection, now_ms: int) -> bool:
    """Whether the lease is unexpired at ``now_ms`` (a hint read without the write turn: a
    process on standby asks this first, and queues to take the lease only when it says no)."""
    return _get(c, UNTIL) > now_ms


def release(c: sa.Connection, held: int) -> None:
    """Give the lease up now, if ``held`` is still its token."""
    if _get(c, TOKEN) == held:
        _set(c, UNTIL, 0)


def fence_sql(held: int) -> str:
    """The fence of a write under token ``held``, as one statement without parameters (the
    token is an integer), to run with others in one round trip: it writes the token row either
    way, so that a concurrent takeover and this transaction cannot both commit; give its rows
    to :func:`fenced`."""
    return (
        f"UPDATE cursors SET seq = seq WHERE name = '{TOKEN}' AND seq = {int(held)} RETURNING seq"
    )


def fenced(rows: Sequence[object], held: int) -> None:
    """Fail with LeaseLost unless :func:`fence_sql` found the token ``held`` (its rows)."""
    if not rows:
        raise LeaseLost(f"the detector lease is no longer held under token {held}")
