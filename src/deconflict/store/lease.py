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

Who holds it. ``deconflict serve`` runs a detector process beside its HTTP workers, and the HTTP
workers keep standby detectors for when it is gone. A holder writes its process id
(``detector.lease_holder``, for ``/metrics``) and whether it is a *preferred* holder
(``detector.lease_preferred``: a detector process). An HTTP worker that took the lease while the
detector process was down must give it back once a new one is up, or detection stays in an HTTP
worker for good: a preferred process on standby behind a holder that is not preferred asks for
the lease (``detector.lease_wanted_ms``, an expiry like the lease's), and such a holder is told
no (None) at its next renewal instead of having it extended. Asked, not taken: the holder stores
its cursor under its token, which is still current, and then releases the lease
(:class:`deconflict.hub.worker.DetectorWorker`), so no commit is refused half-way and the next
holder reads on from where it stopped; a holder that dies in between leaves a lease that lapses
as any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from deconflict.errors import StoreError
from deconflict.store import schema as t
from deconflict.store.tx import Tx

__all__ = [
    "LEASE_ROWS",
    "LeaseHolder",
    "LeaseLost",
    "acquire",
    "extend",
    "fence_sql",
    "fenced",
    "holder",
    "release",
]

TOKEN = "detector.lease"
UNTIL = "detector.lease_until_ms"
HOLDER = "detector.lease_holder"  # the holder's process id (0: none yet)
PREFERRED = "detector.lease_preferred"  # 1 if the holder is a detector process
WANTED = "detector.lease_wanted_ms"  # until when a preferred process on standby asks for it
LEASE_ROWS = (TOKEN, UNTIL, HOLDER, PREFERRED, WANTED)


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds the lease as the store says: its token, and the process id of its holder (0
    when the lease has expired or was released)."""

    token: int
    pid: int


class LeaseLost(StoreError):
    """The detector lease is held under a newer token: this process must stop detecting."""

    status = 409


def _get(c: Tx, name: str) -> int:
    value = c.execute(sa.select(t.cursors.c.seq).where(t.cursors.c.name == name)).scalar()
    if value is None:
        raise StoreError(f"the lease row {name!r} is missing: open the store to create it")
    return int(value)


def _set(c: Tx, name: str, value: int) -> None:
    c.execute(sa.update(t.cursors).where(t.cursors.c.name == name).values(seq=value))


def acquire(
    c: Tx,
    now_ms: int,
    ttl_ms: int,
    held: int | None,
    pid: int = 0,
    preferred: bool = False,
) -> int | None:
    """Take or renew the lease; the token it is held under, or None while another holds it.

    ``held`` is the token this process holds (None if it holds none): if it is still current the
    lease is extended under it (even past expiry: no one else took it, so nothing happened),
    unless this holder is not ``preferred`` and a preferred process asks for the lease: then it
    is left as it is, for the holder to store its cursor and :func:`release` it (None). One
    that is not ``preferred`` takes no lease a preferred process asks for, even released or
    expired: the holder that gave it back would take it again before the asker's next try, and
    be asked again. ``pid`` names the holder.
    """
    token = _get(c, TOKEN)
    if held is not None and held == token:
        if not preferred and _get(c, WANTED) > now_ms:
            return None
        _set(c, UNTIL, now_ms + ttl_ms)
        return token
    if not preferred and _get(c, WANTED) > now_ms:
        return None  # kept for the preferred process that asked, not taken back meanwhile
    if _get(c, UNTIL) > now_ms:
        if preferred and not _get(c, PREFERRED):
            _set(c, WANTED, now_ms + ttl_ms)
        return None
    _set(c, TOKEN, token + 1)
    _set(c, UNTIL, now_ms + ttl_ms)
    _set(c, HOLDER, pid)
    _set(c, PREFERRED, 1 if preferred else 0)
    if preferred:
        _set(c, WANTED, 0)
    return token + 1


def extend(c: Tx, now_ms: int, ttl_ms: int, held: int) -> bool:
    """Extend the lease held under ``held`` (the renewal of a thread beside the work it
    protects, :class:`deconflict.hub.worker.DetectorWorker`); False if ``held`` is no longer
    its token. A holder asked to give the lease back is not asked here: its own turn does."""
    if _get(c, TOKEN) != held:
        return False
    _set(c, UNTIL, max(_get(c, UNTIL), now_ms + ttl_ms))
    return True


def standing_by(c: Tx, now_ms: int, preferred: bool = False) -> bool:
    """Whether a process on standby may skip taking the write turn now (a hint read without
    it): the lease is unexpired, and, for a ``preferred`` one, its holder is preferred too or
    has already been asked to give it back."""
    if _get(c, UNTIL) <= now_ms:
        return False
    return not preferred or bool(_get(c, PREFERRED)) or _get(c, WANTED) > now_ms


def holder(c: Tx, now_ms: int) -> LeaseHolder:
    """The lease's token and its holder's process id (0 if it has expired or was released)."""
    pid = _get(c, HOLDER) if _get(c, UNTIL) > now_ms else 0
    return LeaseHolder(_get(c, TOKEN), pid)


def release(c: Tx, held: int) -> None:
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
