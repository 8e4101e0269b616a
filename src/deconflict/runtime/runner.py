"""The one thread that owns the Hub: every write of the service runs there, in order.

The Hub (and its SQLite connection) is not thread-safe, so the service keeps it on one thread
and sends it work through a queue (a one-thread executor): writes are serialised there, with
detection. A party's read runs there only while it waits for its own writes' detection, else
beside, on a hub of its own (:meth:`HubRunner.read`): never behind others' group commits.

Detection is batched: a write only marks the detector due and wakes the detector loop, which
runs ``process()`` over everything written meanwhile (a burst of writes costs one detector pass,
not one each). The loop also runs every ``interval_s``, and ``tick()`` (which scans every live
notice) about once a second. Waiters on :meth:`HubRunner.changed` (event streams, webhooks) wake
whenever a pass produced or changed notifications.

Read-your-writes, per party: a party's read first waits for the detection of that party's own
earlier writes through this process (run here if this process detects, else waited for), and of
nothing else, so a party that files and then reads sees its filing's conflicts; a write that is
not grouped runs that detection first where this process detects, as it may read their outcome.
Each write the detector reads records, for its party, the change log's end once it committed
(one read for a group); a call waits while detection has not passed that position. It does not
wait for another party's writes: those are detected on the loop, and a wait for them would tell
the reader that someone is filing, and what it costs (docs/security.md §3.5). Detection reads
the log in order, so a party that just wrote waits also for what others wrote before it.

Several processes (:mod:`deconflict.store.wakeup`): only the lease holder detects, so a thread
listens for what the others do. A process on standby learns of new notifications from the
holder's announcement (its detections' commit, with its lease token) and wakes its waiters, so a
party's stream on any process gets its notification at once rather than at its next keep-alive;
the holder learns of another process's commit (a filing through it) and runs its detector at
once rather than at the next ``interval_s``. Only wake-ups: the store is read as always. A
process on standby tries for the lease a few times a second, not at every write and loop turn.

A read answered before detection passed its party's own writes says so: the runner waits on
standby at most ``_CATCH_UP_S`` (a detector process still building its index as ``serve``
starts, or a detector that stalled), then answers from what is stored, and the party's next
calls do not wait for those writes again but are still answered as behind until detection
passes them (:mod:`.freshness`, which the API turns into a response header): a party that filed
and reads no conflict is told that the check of its filing is still to come, not that there is
none. A party's position is the change log's end once its write committed, so it covers what
others wrote before it (and in its group commit). A process started on standby answers every
party's call as behind until detection passes what the log held when it started: filings made
before a restart, through any process, are unchecked until the detector has rebuilt.

Group commit: writes sent with ``group=True`` share one store unit of work, and one commit, with
the others queued meanwhile (:mod:`deconflict.runtime.group_commit`); here their batch is run on
the hub thread, and their parties then wait for its detection as for any other write.

Beside the hub thread, a second thread with a hub (and store connections) of its own
(:meth:`HubRunner.run_beside`) runs what needs nothing of the detector's state and only what is
committed: the event streams' reads, so a stream never waits behind a write queued for the
database's write lock, nor behind a detector pass. What the streams sent is queued in the
database with the next group of writes (:mod:`deconflict.runtime.deliveries`), and the lease
holder's detector loop marks it delivered after each pass (:meth:`HubRunner._mark_sent`).

The lease is renewed beside the hub thread when the hub thread is late with it
(``DetectorWorker``'s ``renew_beside_s``), so a long pass or a queue of writes on the hub thread
does not let it lapse; every change of holder this process sees (taken, lost, given back) is a
WARNING log line (JSON, ``"event": "detector.lease"``) and is counted (``on_handover``, the
``deconflict_lease_handovers_total`` metric): a detector that moved is told, not found out from
the throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from deconflict.errors import StoreError, WritesRefused
from deconflict.hub import Hub
from deconflict.hub.worker import DetectorWorker
from deconflict.runtime.freshness import FRESHNESS
from deconflict.runtime.group_commit import Batch, Outcome, Write, WriteGroups, commit_group
from deconflict.runtime.side_hub import SideHub
from deconflict.store.wakeup import CHANNEL, NOTIFICATIONS, ChangeSignal

__all__ = ["HubRunner"]

T = TypeVar("T")

log = logging.getLogger("deconflict.runtime")
_TICK_EVERY_S = 1.0
_CATCH_UP_S = 2.0  # the longest a read on standby waits for detection of its party's writes
# On standby, how often the lease is tried for (a read transaction, which every write group
# and loop turn would make): a lapsed or released lease is taken over this much later at most.
_STANDBY_RETRY_S = 0.25
# How often a thread beside the hub thread renews the lease if the hub thread is late with it
# (DetectorWorker: once half its 5 s period has passed): five turns may fail before it lapses.
_RENEW_BESIDE_S = 0.5
_REFUSED_WAIT_S = 1.0  # between detection passes while the store refuses writes (disk full)


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    """Wait until ``event`` is set, at most ``timeout_s``. Not ``asyncio.wait_for``: on Python
    3.11 it swallows a cancellation that arrives just as the event is set, so the cancelled
    task runs on and whoever awaits it (``stop()``, the app's shutdown) waits for ever."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


class HubRunner:
    """Owns one Hub on one thread; ``await run(fn, party=...)`` calls ``fn(hub)`` there."""

    def __init__(
        self,
        hub_factory: Callable[[], Hub],
        interval_s: float = 0.05,
        preferred: bool = False,
        on_handover: Callable[[str], None] | None = None,
        on_lease: Callable[[], None] | None = None,
        before_detecting: Callable[[Hub, Callable[[], None]], None] | None = None,
    ) -> None:
        self._factory = hub_factory
        self._starting = (on_lease, before_detecting)  # see DetectorWorker
        self._interval_s = interval_s
        self._preferred = preferred  # a detector process (see deconflict.store.lease)
        self._on_handover = on_handover  # told "taken" or "lost" at each change of holder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub")
        self._hub: Hub | None = None
        # Work that needs nothing of the detector, each on a hub of its own: the streams'
        # and the webhooks', and the parties' reads.
        self._beside = SideHub(hub_factory, "hub-beside")
        self._reader = SideHub(hub_factory, "hub-reader")
        self._worker: DetectorWorker | None = None
        self._due = True  # the detector has rows to consume (touched on the hub thread only)
        self._generation = 0
        self._wake: asyncio.Event | None = None
        self._detect_now: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._groups = WriteGroups(self._commit_group, self._group_committed)
        self._listener: threading.Thread | None = None
        self._listening = threading.Event()  # cleared to stop the listener thread
        self._announce = False  # whether other processes may listen (PostgreSQL)
        # Read-your-writes (set on the hub thread): per party, the change log's end after its
        # last write through this process the detector reads; and how far detection is known
        # to have passed (this process's passes, or on standby the stored cursor as last read).
        self._written: dict[str, int] = {}
        self._waived: set[str] = set()  # parties whose position was waited for and given up
        # Started on standby: the change log's end then, until detection passes it (see
        # _starting_behind); 0 once it has, or if this process detected everything at start.
        self._horizon = 0
        self._detected = 0
        self._standby_until = 0.0  # on standby, no lease attempt before this (monotonic)
        self._refusing = False  # the store refuses writes: detection waits (logged once)
        self._refused_until = 0.0  # ... and is not tried before a read until then (monotonic)
        self.ready = False

    async def start(self) -> None:
        """Open the hub on its thread, catch the detector up, start the detector loop."""
        self._wake = asyncio.Event()
        self._detect_now = asyncio.Event()
        self._hub = await self._submit(self._factory)
        on_lease, before_detecting = self._starting
        self._worker = DetectorWorker(
            self._hub,
            preferred=self._preferred,
            renew_beside_s=_RENEW_BESIDE_S,
            on_lease=on_lease,
            before_detecting=before_detecting,
        )
        hub = self._hub
        signal = await self._submit(lambda: hub.store.change_signal(CHANNEL, NOTIFICATIONS))
        if signal.listening:
            self._announce = True
            self._listening.set()
            loop = asyncio.get_running_loop()
            self._listener = threading.Thread(
                target=self._listen, args=(signal, loop), name="hub-listener", daemon=True
            )
            self._listener.start()
        else:
            signal.close()
        try:
            await self._submit(lambda: self._settle(tick=True))
        except WritesRefused as error:  # served from what is stored until it takes writes
            self._refused(error)
        if not self.leading:
            with contextlib.suppress(StoreError):  # unread: no call is marked for it
                self._horizon = await self._submit(hub.store.last_change)
        self._loop_task = asyncio.create_task(self._loop())
        self.ready = True

    def _listen(self, signal: ChangeSignal, loop: asyncio.AbstractEventLoop) -> None:
        """On its own thread: wake this process's waiters whenever another process (one whose
        lease token is not ours) announces notifications, and the detector loop whenever
        another process commits while this one holds the lease."""
        try:
            while self._listening.is_set():
                wakeup = signal.next(0.5)
                worker = self._worker
                own = None if worker is None or worker.token is None else str(worker.token)
                with contextlib.suppress(RuntimeError):  # the loop has closed
                    if wakeup.changed and own is not None:
                        loop.call_soon_threadsafe(self._detect_soon)
                    if any(p != own for p in wakeup.announced):
                        loop.call_soon_threadsafe(self._signal)
        finally:
            signal.close()

    def _detect_soon(self) -> None:
        if self._detect_now is not None:
            self._detect_now.set()

    async def stop(self) -> None:
        self.ready = False
        self._listening.clear()
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5.0)
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        try:
            try:
                if self._worker is not None:
                    await self._release(self._worker)
            finally:
                if self._hub is not None:
                    await self._submit(self._hub.close)
                self._executor.shutdown(wait=True)
        finally:  # whatever failed before, the hubs beside are closed and waiters woken
            await self._beside.close()
            await self._reader.close()
            self._signal()

    async def _release(self, worker: DetectorWorker) -> None:
        """Let the lease go (a holder first marks what the streams sent last)."""
        try:
            if self.leading:
                await self._submit(self._mark_sent)
                token = worker.token
                await self._submit(worker.release)
                self._handover(token, None, "released")
            else:
                await self._submit(worker.release)
        except StoreError as error:  # a full disk: the lease lapses by itself
            log.warning("stopping without releasing the detector lease: %s", error)

    async def _submit(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _hub_or_fail(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("the hub is not started")
        return self._hub

    async def run(self, fn: Callable[[Hub], T], *, party: str | None) -> T:
        """``fn(hub)`` on the hub thread, for ``party`` (the caller, from its token) after the
        detection of its own writes through this process (see the module docstring): run here
        first if this process detects, else waited for (:meth:`_caught_up`). ``party=None``
        for a reader that acts for no party (health, metrics, the sweep, the webhooks' rows):
        it waits for nobody's writes."""
        target = self._undetected(party)
        if target and party is not None and not self.leading:
            await self._caught_up(party, target)

        def job() -> tuple[T, bool, bool]:
            changed = self._settle_for(party)
            behind = bool(self._undetected(party)) or self._starting_behind(party)
            return fn(self._hub_or_fail()), changed, behind

        result, changed, behind = await self._submit(job)
        if changed:
            self._signal()
        heard = FRESHNESS.get()
        if behind and heard is not None:
            heard.behind = True
        return result

    def _starting_behind(self, party: str | None) -> bool:
        """On the hub thread, for a call acting for ``party``: whether detection has yet to
        pass what was written before this process started on standby (``serve``'s HTTP
        workers start while its detector process still builds its index): every party's
        answer is then behind, whatever it wrote and wherever (the same for all, so it tells
        no party of another's writes). The stored cursor is read while it has not passed."""
        if party is None or not self._horizon:
            return False
        if self._detected < self._horizon:
            try:
                cursor = self._hub_or_fail().store.detector_cursor()
            except StoreError:
                return True
            self._detected = max(self._detected, cursor)
        if self._detected >= self._horizon:
            self._horizon = 0
            return False
        return True

    def _undetected(self, party: str | None) -> int:
        """The change-log position ``party``'s last write reached, if detection has not passed
        it yet; else 0 (nothing to wait for)."""
        target = 0 if party is None else self._written.get(party, 0)
        return target if target > self._detected else 0

    def _settle_for(self, party: str | None) -> bool:
        """On the hub thread, before a call of ``party``: detection of its own writes (and,
        the log being read in order, of what was written before them), if this process
        detects, as far as the store lets it be written. Detection writes (the lease, its
        outcomes), so on a store that takes no writes now (a full disk, a read-only store) the
        call is answered from what is stored, and the refusal is logged, not answered
        (security.md §4.4). Any other failure is answered: a read that could not see the
        outcome of a filing must not pass for one that did."""
        target = self._undetected(party)
        if not target:
            return False
        if self._refusing and time.monotonic() < self._refused_until:
            return False  # not a failing write before every read: again after a pause
        try:
            return self._settle(tick=False, until=target)
        except WritesRefused as error:
            self._refused(error)
            return False

    def _refused(self, error: StoreError) -> None:
        """Log a failed detection pass before a read: a store refusing writes once per spell
        (every read and every loop turn meets it meanwhile; none tries again for a second),
        any other store error each time."""
        if isinstance(error, WritesRefused):
            if not self._refusing:
                log.warning("detection waits: %s", error)
            self._refusing = True
            self._refused_until = time.monotonic() + _REFUSED_WAIT_S
            return
        log.error("detection failed: %s", error)

    async def settle(self, party: str) -> None:
        """Wait until detection has caught up with ``party``'s writes through this process
        (run here if this process detects): what is read next on any thread shows them."""
        if self._undetected(party):
            await self.run(lambda _hub: None, party=party)

    async def run_beside(self, fn: Callable[[Hub], T]) -> T:
        """``fn(hub)`` on a second thread with a hub (and store connections) of its own, beside
        the hub thread, for work that needs nothing of the detector's state and only what is
        committed: a stream's next events, and the marks of what the streams delivered. It
        never queues behind the hub thread's writes waiting for the database's write lock, nor
        behind its detector passes."""
        return await self._beside.run(fn)

    async def read(self, fn: Callable[[Hub], T], *, party: str) -> T:
        """``fn(hub)`` for ``party``, a read of what is committed that needs nothing of the
        detector's state: as :meth:`run` while it has anything to wait for or to tell (its
        own writes' detection, or the start's), else on a thread with a hub of its own
        (:class:`SideHub`), never queued behind others' group commits or a detection pass
        (docs/security.md §3.5)."""
        if self._horizon or self._undetected(party):
            return await self.run(fn, party=party)
        return await self._reader.run(fn)

    def _wrote(self, parties: Iterable[str | None]) -> None:
        """On the hub thread, after writes the detector reads committed: each of ``parties``
        (None: a write by no party) waits, at its next call, for detection to pass the change
        log's end as it stands now, at or past its write. Read once for a group of writes.
        Should the read fail, the writes stand (they committed) and their parties' next calls
        do not wait for them: logged, not answered."""
        named = {party for party in parties if party is not None}
        if not named:
            return
        try:
            end = self._hub_or_fail().store.last_change()
        except StoreError:
            log.warning("could not read the change log's end after a write", exc_info=True)
            return
        for party in named:
            self._written[party] = end
            self._waived.discard(party)  # a new write is waited for again

    async def _caught_up(self, party: str, target: int) -> None:
        """On standby, wait until the lease holder's detector has passed change ``target``, the
        end of ``party``'s writes through this process (or ``_CATCH_UP_S``), so that a read
        after a write sees its outcome, as it does in the process that detects. The holder's
        commit of its detections wakes the wait. Given up after ``_CATCH_UP_S``: the party's
        later calls do not wait for those writes again."""
        hub = self._hub_or_fail()
        if party in self._waived:  # waited for once already: how far detection is, no more
            cursor = await self._submit(hub.store.detector_cursor)
            self._detected = max(self._detected, cursor)
            return
        deadline = time.monotonic() + _CATCH_UP_S
        while not self.leading:
            generation = self._generation
            cursor = await self._submit(hub.store.detector_cursor)
            self._detected = max(self._detected, cursor)
            if cursor >= target:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("detection is more than %.0f s behind a party's writes", _CATCH_UP_S)
                await self._submit(partial(self._give_up, party, target))
                return
            await self.changed(min(left, 0.05), since=generation)

    def _give_up(self, party: str, target: int) -> None:
        """On the hub thread (where writes set it): ``party``'s calls no longer wait for its
        position ``target`` (they are answered as behind until detection passes it), unless a
        later write of the party has moved it."""
        if self._written.get(party) == target:
            self._waived.add(party)

    async def run_write(
        self,
        fn: Callable[[Hub], T],
        *,
        party: str | None,
        group: bool = False,
        detects: bool = True,
    ) -> T:
        """``fn(hub)``, a write by ``party`` (None: by no party, a delivery), on the hub thread;
        then the detector is due, and ``party``'s next calls wait for its detection. Not
        grouped, after the detection of ``party``'s earlier writes (it may read their outcome,
        as a read does). With ``group`` it may share one commit with other grouped writes
        (:mod:`deconflict.runtime.group_commit`): ``fn`` must touch nothing but the store,
        since it may be run twice if its batch fails. ``detects=False``: ``fn`` writes nothing
        the detector reads (a delivery, an acknowledgement), so no detector pass is due after
        it, nor waited for by ``party``."""
        if group:
            result: T = await self._groups.write(fn, party=party, detects=detects)
            return result

        def job() -> tuple[T, bool]:
            changed = self._settle_for(party)
            try:
                result = fn(self._hub_or_fail())
            finally:
                self._due = self._due or detects
            if detects:
                self._wrote([party])
            return result, changed

        result, changed = await self._submit(job)
        if changed:
            self._signal()
        if detects and self._detect_now is not None:
            self._detect_now.set()
        return result

    async def _commit_group(self, batch: Batch) -> list[Outcome]:
        return await self._submit(partial(self._run_group, batch))

    def _run_group(self, batch: Batch) -> list[Outcome]:
        """On the hub thread: ``batch`` in one unit of work (:func:`commit_group`); then the
        detector is due if a write of it detects, and the party of each write the detector
        reads that committed waits, at its next call, for its detection."""
        hub = self._hub_or_fail()
        try:
            outcomes = commit_group(hub, batch.take)
        finally:
            self._due = self._due or any(write.detects for write in batch.writes)
        self._wrote(
            write.party
            for write, (ok, _) in zip(batch.writes, outcomes, strict=True)
            if ok and write.detects
        )
        return outcomes

    def _group_committed(self, batch: list[Write]) -> None:
        """After a batch was answered: the detector loop runs next if a write of it detects."""
        if any(write.detects for write in batch) and self._detect_now is not None:
            self._detect_now.set()

    def _settle(self, tick: bool, once: bool = False, until: int | None = None) -> bool:
        """Run the detector (and the clock-driven checks) if this process holds the detector
        lease (several serve processes may share one PostgreSQL database; only the lease holder
        detects, fenced by its token); whether notifications may have changed. Until the log's
        end; with ``once``, one step; with ``until``, until it passed that change (a party's
        write: what others wrote after it is the loop's)."""
        worker = self._worker
        if worker is None:
            raise RuntimeError("the hub is not started")
        self._due = False
        changed = False
        if worker.token is None and time.monotonic() < self._standby_until:
            return False  # another process detects; the lease is tried for again soon
        try:
            while True:
                token = worker.token
                try:
                    report = worker.step(tick=tick)
                finally:
                    if worker.token != token:
                        self._handover(token, worker.token)
                tick = False
                if report is None:  # another process holds the lease and detects
                    self._standby_until = time.monotonic() + _STANDBY_RETRY_S
                    return changed
                token = worker.token if worker.token is not None else token
                if report.notifications or report.changes > 0:
                    changed = True
                    if self._announce:  # to the streams on other processes, batch by batch
                        self._hub_or_fail().store.announce_notifications(str(token))
                self._detected = max(self._detected, report.detected)
                if report.changes < worker.batch:
                    return changed
                if once or (until is not None and self._detected >= until):
                    # More to do, after whatever else is waiting for the hub thread.
                    self._due = True
                    return changed
        except Exception:
            self._due = True
            raise

    def _handover(self, before: int | None, after: int | None, how: str = "") -> None:
        """Log and count a change of this process's hold on the lease (``before`` -> ``after``
        tokens): taken, or lost (``how`` says if it was released on a stop)."""
        change = "taken" if after is not None else "lost"
        line = {
            "event": "detector.lease",
            "change": how or change,
            "token": after if after is not None else before,
            "pid": os.getpid(),
            "role": "detector process" if self._preferred else "http worker",
        }
        # The expected ones quietly: this process's first take, a detector process taking it,
        # a clean stop; the rest (an HTTP worker taking over, a holder losing it) as warnings.
        quiet = not self.ready or how == "released" or (after is not None and self._preferred)
        log.log(logging.INFO if quiet else logging.WARNING, json.dumps(line))
        if self._on_handover is not None:
            self._on_handover(change)

    def wake(self) -> None:
        """Wake the waiters (the streams and the webhook sender) now."""
        self._signal()

    def _signal(self) -> None:
        self._generation += 1
        if self._wake is not None:
            self._wake.set()
            self._wake = asyncio.Event()

    @property
    def leading(self) -> bool:
        """Whether this process holds the detector lease (its worker also sends webhooks)."""
        return self._worker is not None and self._worker.token is not None

    @property
    def generation(self) -> int:
        """Counts wake-ups; pass it to :meth:`changed` to miss none between a read and a wait."""
        return self._generation

    async def changed(self, timeout_s: float, since: int | None = None) -> None:
        """Wait until the next detector pass that changed notifications (or the timeout); at
        once if there was one after generation ``since``."""
        if since is not None and since != self._generation:
            return
        wake = self._wake
        if wake is None:
            await asyncio.sleep(timeout_s)
            return
        await _wait(wake, timeout_s)

    async def _loop(self) -> None:
        detect_now = self._detect_now
        if detect_now is None:  # pragma: no cover - start() made it
            return
        last_tick = time.monotonic()
        while True:
            await _wait(detect_now, self._interval_s)
            detect_now.clear()
            tick = time.monotonic() - last_tick >= _TICK_EVERY_S
            if tick:
                last_tick = time.monotonic()
            try:
                changed = await self._submit(partial(self._settle, tick, True))
            except WritesRefused as error:  # a full disk: try again, less often
                self._refused(error)
                await asyncio.sleep(_REFUSED_WAIT_S)
                continue
            except Exception:  # keep detecting; the next pass retries from the change log
                log.exception("background detection failed")
                continue
            if self._refusing:
                log.warning("detection runs again: the store takes writes")
                self._refusing = False
            if changed:
                self._signal()
            if self._due:  # a step at a time: the writes queued meanwhile go first
                detect_now.set()
            if not self.leading:  # on standby: the lease holder marks, no turn of the hub thread
                continue
            try:  # what the streams sent, after the writes queued meanwhile
                await self._submit(self._mark_sent)
            except WritesRefused as error:  # kept queued: marked once the store takes writes
                self._refused(error)
            except Exception:  # kept queued: the next turn marks them
                log.exception("marking the notifications sent delivered failed")

    def _mark_sent(self) -> None:
        """On the hub thread of the lease holder: mark delivered what the streams (of every
        process) queued as sent; a read alone when none is queued. Checked again here: the
        lease may have lapsed since the caller looked."""
        if self.leading:
            self._hub_or_fail().mark_queued_deliveries()
