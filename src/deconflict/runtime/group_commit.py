"""Group commit: a burst of writes shares one store unit of work, and so one commit (one fsync).

Writes sent with ``group=True`` (:meth:`~deconflict.runtime.runner.HubRunner.run_write`) queue
up while the hub thread is busy, and the queue is drained as one batch in one store unit of
work, so a burst of filings costs one commit rather than one each. A write that raises its own
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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deconflict.errors import StoreError
from deconflict.hub import Hub
from deconflict.store import Units

__all__ = ["Outcome", "Write", "WriteGroups", "commit_group"]

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


class WriteGroups:
    """The grouped writes, queued until one task drains them in batches of at most
    ``_GROUP_MAX``: each batch is handed to ``commit`` (which runs :func:`commit_group` on the
    hub thread), each write is answered with its outcome, then ``committed`` is told of the
    batch."""

    def __init__(
        self,
        commit: Callable[[list[Write]], Awaitable[list[Outcome]]],
        committed: Callable[[list[Write]], None],
    ) -> None:
        self._commit = commit
        self._committed = committed
        self._queued: list[Write] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[Hub], Any], *, party: str | None, detects: bool) -> Any:
        """``fn(hub)``'s result once its batch committed, or the error it raised."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append(Write(fn, future, detects, party))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        """Run the queued grouped writes in batches until none is left."""
        while self._queued:
            batch = self._queued[:_GROUP_MAX]
            del self._queued[:_GROUP_MAX]
            try:
                outcomes = await self._commit(batch)
            except Exception as error:  # the hub thread itself failed (e.g. shut down)
                outcomes = [(False, error)] * len(batch)
            for queued, (ok, value) in zip(batch, outcomes, strict=True):
                if queued.future.done():  # the caller went away
                    continue
                if ok:
                    queued.future.set_result(value)
                else:
                    queued.future.set_exception(value)
            self._committed(batch)


def commit_group(hub: Hub, fns: Sequence[Callable[[Hub], Any]]) -> list[Outcome]:
    """On the hub thread: ``fns`` in one unit of work, an outcome each. One that raises its own
    error is answered with it, and the unit is rolled back and run again without it; a store
    failure of the unit runs each write alone (see the module docstring). Not after a detector
    pass: a grouped write reads no detection outputs (a filing), so it commits at once and the
    detector loop runs next."""
    store: Units = hub.store  # it groups calls, and touches nothing else of the store
    outcomes: dict[int, Outcome] = {}
    left = list(range(len(fns)))
    try:
        while left:
            done: dict[int, Any] = {}
            try:
                with store.unit_of_work("committing a group of writes"):
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
        log.info("a group of %d writes failed as a whole; running each alone", len(left))
        for i in left:
            try:
                outcomes[i] = (True, fns[i](hub))
            except Exception as error:
                outcomes[i] = (False, error)
    return [outcomes[i] for i in range(len(fns))]
