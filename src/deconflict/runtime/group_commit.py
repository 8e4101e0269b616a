"""Group commit: a burst of writes shares one store unit of work, and so one commit (one fsync).

Writes sent with ``group=True`` (:meth:`~deconflict.runtime.runner.HubRunner.run_write`) queue
up while the hub thread is busy, and the queue is drained as one batch in one store unit of
work, so a burst of filings costs one commit rather than one each. A batch takes its writes
once its unit holds the write turn: those that came while it waited for the turn (behind the
detector's commit, say) join it, where they waited for the next batch and then for the turn
again. A write that raises its own
error (bad input, a duplicate id) is answered with that error, and the batch is rolled back and
run again without it (its writes before it again, in the same order), so the rest commit
together as if it had never been sent. No savepoint per write: errors are rare, and a savepoint
cost every write two more statements (two round trips on PostgreSQL). A store failure of the
batch (a serialization failure, a failed commit) runs each write of it again on its own, as
without grouping. Nobody is answered before the batch committed.

:class:`WriteGroups` is the queue and the task that drains it, on the event loop;
:func:`commit_group` is one batch, on the hub thread. What a batch means to the rest of the
runner (the detector is due, its writers wait for their detection) is the runner's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deconflict.errors import StoreError
from deconflict.hub import Hub
from deconflict.store import Units

__all__ = ["Batch", "Outcome", "Write", "WriteGroups", "commit_group"]

log = logging.getLogger("deconflict.runtime")
_GROUP_MAX = 64  # most writes one batch commits

#: What became of one write of a batch: (True, its result) or (False, its error).
Outcome = tuple[bool, Any]


@dataclass(slots=True)
class Write:
    """A grouped write waiting for its batch: by ``party`` (None: by no party, a delivery);
    ``detects``: whether it writes anything the detector reads."""

    fn: Callable[[Hub], Any]
    future: asyncio.Future[Any]
    detects: bool
    party: str | None


class _Failed(Exception):
    """Write ``index`` of a batch raised ``error`` (its own, not the store's)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class Batch:
    """One batch's writes: taken from the queue by :meth:`take`, at most ``_GROUP_MAX``, the
    first time it is called (on the hub thread, once the batch's unit holds the write turn)."""

    def __init__(self, groups: WriteGroups) -> None:
        self._groups = groups
        self.writes: list[Write] = []
        self._taken = False

    def take(self) -> list[Write]:
        if not self._taken:
            self._taken = True
            self.writes = self._groups.take()
        return self.writes


class WriteGroups:
    """The grouped writes, queued until one task drains them in batches: each :class:`Batch`
    is handed to ``commit`` (which runs :func:`commit_group` on the hub thread, where the batch
    takes its writes), each write is answered with its outcome, then ``committed`` is told of
    the batch."""

    def __init__(
        self,
        commit: Callable[[Batch], Awaitable[list[Outcome]]],
        committed: Callable[[list[Write]], None],
    ) -> None:
        self._commit = commit
        self._committed = committed
        self._queued: list[Write] = []
        self._lock = threading.Lock()  # the loop appends, the hub thread takes
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[Hub], Any], *, party: str | None, detects: bool) -> Any:
        """``fn(hub)``'s result once its batch committed, or the error it raised."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queued.append(Write(fn, future, detects, party))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    def take(self) -> list[Write]:
        """The writes queued now, at most ``_GROUP_MAX`` (see :class:`Batch`)."""
        with self._lock:
            batch = self._queued[:_GROUP_MAX]
            del self._queued[:_GROUP_MAX]
        return batch

    async def _drain(self) -> None:
        """Run the queued grouped writes in batches until none is left."""
        while self._queued:
            taking = Batch(self)
            try:
                outcomes = await self._commit(taking)
            except Exception as error:  # the hub thread itself failed (e.g. shut down)
                outcomes = [(False, error)] * len(taking.take())  # taken here if not there
            batch = taking.writes
            for queued, (ok, value) in zip(batch, outcomes, strict=True):
                if queued.future.done():  # the caller went away
                    continue
                if ok:
                    queued.future.set_result(value)
                else:
                    queued.future.set_exception(value)
            self._committed(batch)


def commit_group(hub: Hub, take: Callable[[], Sequence[Write]]) -> list[Outcome]:
    """On the hub thread: the writes ``take`` gives (called once the unit holds the write
    turn) in one unit of work, an outcome each. One that raises its own error is answered with
    it, and the unit is rolled back and run again without it; a store failure of the unit runs
    each write alone (see the module docstring). Not after a detector pass: a grouped write
    reads no detection outputs (a filing), so it commits at once and the detector loop runs
    next."""
    # At one time, however it goes (the unit, its runs again without a failed write, each
    # write alone): each write read the clock anew, and the times of a party's own writes
    # timed the others' between them (hub.clock.HeldClock); a party could make the group fail
    # as a whole at will (an id already held), and alone they read it anew again (a
    # fifteenth reader).
    with hub.held_time():
        return _commit_group(hub, take)


def _commit_group(hub: Hub, take: Callable[[], Sequence[Write]]) -> list[Outcome]:
    store: Units = hub.store  # it groups calls, and touches nothing else of the store
    outcomes: dict[int, Outcome] = {}
    fns: list[Callable[[Hub], Any]] | None = None
    left: list[int] = []
    try:
        while fns is None or left:
            done: dict[int, Any] = {}
            try:
                with store.unit_of_work("committing a group of writes"):
                    if fns is None:  # the writes queued by now, the turn held
                        fns = [write.fn for write in take()]
                        left = list(range(len(fns)))
                    for i in left:
                        try:
                            done[i] = fns[i](hub)
                        except StoreError:
                            raise  # the batch as a whole: each write alone, below
                        except Exception as error:
                            raise _Failed(i, error) from error
            except _Failed as failed:  # rolled back: again, without the one that failed
                outcomes[failed.index] = (False, failed.error)
                left.remove(failed.index)
                continue
            outcomes.update((i, (True, result)) for i, result in done.items())
            left = []
    except StoreError:
        if fns is None:  # the turn itself failed
            fns = [write.fn for write in take()]
            left = list(range(len(fns)))
        log.info("a group of %d writes failed as a whole; running each alone", len(left))
        for i in left:
            try:
                outcomes[i] = (True, fns[i](hub))
            except Exception as error:
                outcomes[i] = (False, error)
    return [outcomes[i] for i in range(len(fns))]
