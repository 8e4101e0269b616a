"""The detector worker: runs a hub's detector only while it holds the store's detector lease.

Several hub processes may share one database (see :mod:`deconflict.store.lease` for why one
leader rather than a partition by area). Each process writes as it likes; each also runs a
``DetectorWorker``, and at any moment only the lease holder consumes the change log. A worker that
takes the lease first rebuilds its hub's index from the store (another process may have detected
since it last did), renews the lease every third of its period while it works, and passes its
token with every detection commit, so a worker that lost the lease (paused past its expiry) has
its commit refused (``LeaseLost``) and falls back to standby. A stopped worker releases the lease
so a standby takes over at once instead of after the period.

Lease times are the process's wall clock (``wall``), never the hub's clock, which may be
simulated: lease holders on different machines compare them.

A renewal never waits behind the work it protects. Renewed only between steps, a lease lapsed
whenever one step (a detector batch, the clock-driven tick, or the writes queued on the hub's
thread before it) took longer than the lease, and a standby took it for good: under load the
detector process of ``deconflict serve`` went idle while an HTTP worker detected. With
``renew_beside_s`` a thread of its own, on a store connection of its own (``Store.twin``),
looks that often whether the hub's thread is late with its renewal, and renews in its place if
so. Only then: each renewal is a write transaction, and a keeper that renewed at every turn
wrote the lease twice a second beside the hub thread's own renewals, on an idle hub too. The hub's
thread renews once a third of the lease has passed since the last renewal (its own or the
keeper's); the keeper once half of it has, without one: a sixth of the lease after the hub's
thread was due (it steps every few tens of milliseconds when well), with the other half left for
the keeper's turns to succeed before the lease lapses. Either way the lease is written about
every third of its period. Not for ever: the keeper renews only while the hub's thread has
started or finished a step within ``stall_s``, so a worker stuck in one step (a hung disk, a
deadlock) still loses the lease to a standby that can detect.

The holder keeps the detector's index in a file (:mod:`deconflict.hub.index_file`), written at
a tick once ``index_every_s`` passed with the detector moved on, and when it lets the lease go
with the file more than ``INDEX_BEHIND_ROWS`` change-log rows behind (or none of its own yet):
the next start, here or in the process that takes the lease, reads it back rather than every
stored record.

A holder that is not preferred and is asked for the lease (:mod:`deconflict.store.lease`) lets
it go as a stopping worker does (:meth:`DetectorWorker.release`): it stores how far its detector
read first, so the next holder does not read those rows again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from deconflict.errors import DeconflictError
from deconflict.hub.service import Hub, ProcessReport
from deconflict.store import Lease, LeaseLost, Units

log = logging.getLogger("deconflict.hub")

__all__ = ["INDEX_BEHIND_ROWS", "INDEX_EVERY_S", "DetectorWorker"]

#: How often the lease holder writes its index file while it detects, at most (and only when
#: it moved on): at 10^6 volumes a write holds detection some 2 s, and a start after a crash
#: applies the rows since the last one, a read a record.
INDEX_EVERY_S = 600.0
#: How far behind the detector the index file may be left when the lease is let go: the next
#: start reads the record of each row after it (0.4-1.2 ms each, SQLite-PostgreSQL), less time
#: than writing the file at 10^6 volumes (2-3 s); a stop of a quiet hub stays quick.
INDEX_BEHIND_ROWS = 1_000


class DetectorWorker:
    """Runs ``hub``'s detector in batches of ``batch`` change-log rows while holding the lease.

    ``on_lease`` is called each time the worker takes the lease, before it rebuilds its index;
    ``before_detecting(hub, alive)`` with the lease held and the index rebuilt, before the
    worker first detects or ticks, until it returns (an error it raises ends the step, and the
    next step calls it again); a long wait in it calls ``alive()`` now and then, so that the
    lease is renewed meanwhile. ``deconflict serve``'s detector process holds the lease through
    its rebuild, so that the HTTP workers start meanwhile on standby, and signs nothing before
    the supervisor has checked the ledger (:mod:`deconflict.runtime.detector_process`)."""

    def __init__(
        self,
        hub: Hub,
        *,
        lease_s: float = 5.0,
        batch: int = 200,
        wall: Callable[[], float] = time.time,
        preferred: bool = False,
        renew_beside_s: float | None = None,
        stall_s: float = 60.0,
        on_lease: Callable[[], None] | None = None,
        before_detecting: Callable[[Hub, Callable[[], None]], None] | None = None,
        index_every_s: float = INDEX_EVERY_S,
    ) -> None:
        self._hub = hub
        self._index_every_s = index_every_s
        self._writing: threading.Thread | None = None  # the index file's write, if beside
        self._lease_s = lease_s
        self._batch = batch
        self._wall = wall
        self._preferred = preferred  # a detector process: see deconflict.store.lease
        self._token: int | None = None
        self._renewed_at = -math.inf  # wall time of the last renewal, by either thread
        # The renewal beside the work (None: renewed between steps only), and what it reads.
        self._renew_beside_s = renew_beside_s
        self._stall_s = stall_s
        self._active_at = 0.0  # wall time the hub's thread last started or ended a step
        self._lock = threading.Lock()  # the token, between the hub's thread and the renewal
        self._keeper: _Keeper | None = None
        self.renewals = 0  # renewals made beside the work (the hub's thread being late)
        self._on_lease = on_lease
        self._before_detecting = before_detecting

    @property
    def batch(self) -> int:
        """Most change-log rows one ``step`` processes."""
        return self._batch

    @property
    def token(self) -> int | None:
        """The lease token this worker holds, or None on standby."""
        return self._token

    def _hold(self) -> int | None:
        now = self._wall()
        with self._lock:
            held = self._token
            if held is not None and now < self._renewed_at + self._lease_s / 3:
                return held
            store = self._hub.store
            token = store.acquire_lease(now, self._lease_s, held, os.getpid(), self._preferred)
            taken = token is not None and token != held
            self._token = token
            self._renewed_at = now
        if held is not None and token is None:  # asked to give it back, or lost
            self._let_go(held)
            return None
        self._keep(token)  # renewed from now on, also while the index is rebuilt below
        if taken and token is not None:
            if self._on_lease is not None:
                self._on_lease()
            try:
                # A rebuild reading page after page is working, not stalled: the keeper
                # renews the lease through it (10^6 volumes take longer than ``stall_s``).
                self._hub.resync(progress=self._working)
            except BaseException:  # not detecting: let a standby have it rather than hold it
                self._keep(None)
                with self._lock:
                    self._token = None
                with contextlib.suppress(DeconflictError):  # no cursor stored: read again
                    self._hub.store.release_lease(token)
                raise
        return token

    def step(self, tick: bool = False) -> ProcessReport | None:
        """Take or renew the lease and process one batch; None when on standby. With ``tick``
        the leader also runs the hub's ``tick()`` first (notices moved by time, escalations),
        and lets the store checkpoint its WAL last (``Store.checkpoint``), so that too happens
        in one process, not in every one."""
        self._active_at = self._wall()
        try:
            token = self._hold()
            if token is None:
                return None
            if self._before_detecting is not None:
                # It may wait long (serve's check of the whole ledger): it says it is alive, so
                # the keeper renews the lease meanwhile, which is then held again, or not.
                self._before_detecting(self._hub, self._working)
                self._before_detecting = None  # only once it returned: a refusal stands
                token = self._hold()
                if token is None:
                    return None
            try:
                if tick:
                    self._hub.tick()
                report = self._hub.process(limit=self._batch, fence=token)
                if tick and self._hub.index_save_due(self._index_every_s):
                    self._save_index(token, beside=True)
                if tick:  # after the step's writes: what it leaves of the WAL goes too
                    self._hub.store.checkpoint()
                return report
            except LeaseLost:
                with self._lock:
                    self._token = None
                self._keep(None)
                return None
        finally:
            self._active_at = self._wall()

    def _working(self) -> None:
        """The hub's thread is making progress within a step (see ``_renew_beside``)."""
        self._active_at = self._wall()

    def release(self) -> None:
        """Give the lease up (on a clean stop) so a standby takes over without waiting, first
        storing how far the detector read (see ``Hub.store_cursor``)."""
        with self._lock:
            held, self._token = self._token, None
        if held is not None:
            self._let_go(held)

    def _let_go(self, held: int) -> None:
        """Stop renewing, store the cursor read under ``held`` and release the lease: the next
        holder reads on from where this one stopped, at once. No commit is refused half-way:
        the lease is still ``held``'s until released (unless it was lost meanwhile: then the
        cursor is refused, and the next holder reads those rows again)."""
        try:
            with contextlib.suppress(DeconflictError):  # lost meanwhile: the next one reads on
                self._hub.store_cursor(held)
                self.wait_index_written()
                # Renewed meanwhile (seconds at 10^6 volumes); not if the file is only a few
                # rows behind, which the next start applies in less time than this would take.
                if self._hub.index_save_due(0.0, rows=INDEX_BEHIND_ROWS):
                    self._save_index(held)
        finally:
            self._keep(None)
            self._hub.store.release_lease(held)

    def _save_index(self, token: int, beside: bool = False) -> None:
        """Take the detector's index for its file (:meth:`Hub.index_write`) and write it, here
        or, ``beside``, on a thread of its own while the hub's goes on detecting (one write at
        a time: this waits for the one before). One that fails is logged and left: the next
        start rebuilds from the store."""
        self.wait_index_written()
        started = time.perf_counter()
        try:
            write = self._hub.index_write(token)
        except LeaseLost:
            raise
        except Exception as error:  # never the detection's failure: the file is a cache
            _index_log(logging.WARNING, "not written", why=f"{type(error).__name__}: {error}")
            return
        if write is None:
            return
        taken = (self._hub.indexed, time.perf_counter() - started)
        if beside:
            self._writing = threading.Thread(
                target=_write_index, args=(write, *taken), name="index-file", daemon=True
            )
            self._writing.start()
        else:
            _write_index(write, *taken)

    def wait_index_written(self) -> None:
        """Wait for the index file's write on its own thread, if one is under way."""
        if self._writing is not None:
            self._writing.join()
            self._writing = None

    def _keep(self, token: int | None) -> None:
        """Run the renewal beside the work while a token is held (if asked for), else stop it."""
        if self._renew_beside_s is None:
            return
        if token is not None and self._keeper is None:
            self._keeper = _Keeper(self, self._hub.store.twin(), self._renew_beside_s)
        elif token is None and self._keeper is not None:
            self._keeper.stop()
            self._keeper = None

    def _renew_beside(self, store: Lease) -> None:
        """On the renewal's thread: extend the lease under the held token if the hub's thread
        is late with its renewal (half the lease gone without one), unless it has stalled; a
        token no longer current is left to the hub's thread to find."""
        with self._lock:
            token, now = self._token, self._wall()
            if token is None or now < self._renewed_at + self._lease_s / 2:
                return
            if now - self._active_at > self._stall_s:
                return
            if store.extend_lease(now, self._lease_s, token):
                self._renewed_at = now
                self.renewals += 1

    def run(self, stop: Callable[[], bool], idle_s: float = 0.02, max_s: float = 3600.0) -> None:
        """Step until ``stop()`` (or ``max_s`` elapse), waiting up to ``idle_s`` when there was
        nothing to do (on PostgreSQL a committed change wakes it at once, see
        :mod:`deconflict.store.wakeup`); the lease is released on the way out."""
        deadline = time.monotonic() + max_s
        signal = self._hub.store.change_signal()
        try:
            while not stop() and time.monotonic() < deadline:
                report = self.step()
                if report is None or report.changes == 0:
                    signal.wait(idle_s)
        finally:
            signal.close()
            self.release()


class _Renewing(Lease, Units, Protocol):
    """A keeper's own store: it extends the lease, and closes the store when it stops."""


def _index_log(level: int, change: str, **detail: object) -> None:
    log.log(level, json.dumps({"event": "index.file", "change": change, **detail}))


def _write_index(write: Callable[[], int], volumes: int, taken_s: float) -> None:
    """Make an index file's write, logged (a failure too: the next start rebuilds)."""
    started = time.perf_counter()
    try:
        written = write()
    except Exception as error:  # a full disk, say: the next start rebuilds from the store
        _index_log(logging.WARNING, "not written", why=f"{type(error).__name__}: {error}")
        return
    spent = {"taken_s": round(taken_s, 3), "written_s": round(time.perf_counter() - started, 3)}
    _index_log(logging.INFO, "written", volumes=volumes, bytes=written, **spent)


class _Keeper:
    """The thread that renews a worker's lease beside its work, on a store of its own."""

    def __init__(self, worker: DetectorWorker, store: _Renewing, every_s: float) -> None:
        self._stopping = threading.Event()
        self._store = store
        self._thread = threading.Thread(
            target=self._run, args=(worker, every_s), name="detector-lease", daemon=True
        )
        self._thread.start()

    def _run(self, worker: DetectorWorker, every_s: float) -> None:
        try:
            while not self._stopping.wait(every_s):
                try:
                    worker._renew_beside(self._store)
                except DeconflictError:  # the store is busy or away: the next turn tries again
                    log.warning("could not renew the detector lease", exc_info=True)
        finally:
            self._store.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(10.0)
