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
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from deconflict.errors import DeconflictError
from deconflict.hub.service import Hub, ProcessReport
from deconflict.store import LeaseLost

__all__ = ["DetectorWorker"]


class DetectorWorker:
    """Runs ``hub``'s detector in batches of ``batch`` change-log rows while holding the lease."""

    def __init__(
        self,
        hub: Hub,
        *,
        lease_s: float = 5.0,
        batch: int = 200,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._hub = hub
        self._lease_s = lease_s
        self._batch = batch
        self._wall = wall
        self._token: int | None = None
        self._renew_at = 0.0

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
        if self._token is not None and now < self._renew_at:
            return self._token
        token = self._hub.store.acquire_lease(now, self._lease_s, self._token)
        if token is not None and token != self._token:
            self._hub.resync()
        self._token = token
        self._renew_at = now + self._lease_s / 3
        return token

    def step(self, tick: bool = False) -> ProcessReport | None:
        """Take or renew the lease and process one batch; None when on standby. With ``tick``
        the leader also runs the hub's ``tick()`` first (notices moved by time, escalations), so
        that too happens in one process, not in every one."""
        token = self._hold()
        if token is None:
            return None
        try:
            if tick:
                self._hub.tick()
            return self._hub.process(limit=self._batch, fence=token)
        except LeaseLost:
            self._token = None
            return None

    def release(self) -> None:
        """Give the lease up (on a clean stop) so a standby takes over without waiting, first
        storing how far the detector read (see ``Hub.store_cursor``)."""
        if self._token is not None:
            with contextlib.suppress(DeconflictError):  # lost meanwhile: the next holder reads on
                self._hub.store_cursor(self._token)
            self._hub.store.release_lease(self._token)
            self._token = None

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
