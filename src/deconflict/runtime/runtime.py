"""What runs one hub process, with no HTTP in it: the hub thread with its group commit and
detector (:mod:`.runner`), the webhooks and their sender (:mod:`.webhooks`), the marks of what
the event streams delivered (:mod:`.deliveries`) and the sweep of stored responses.

The HTTP app of :mod:`deconflict.api` starts one :class:`Runtime` for its lifetime and
translates requests to calls on it; the detector process of ``deconflict serve``
(:mod:`.detector_process`) runs one with no app at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from deconflict.hub import Hub
from deconflict.runtime.deliveries import DeliveryMarks
from deconflict.runtime.runner import HubRunner
from deconflict.runtime.state import service_state
from deconflict.runtime.webhooks import (
    Destinations,
    SenderSettings,
    WebhookEvent,
    WebhookKey,
    Webhooks,
    WebhookSender,
    parse_networks,
)
from deconflict.runtime.webhooks.guard import Resolve
from deconflict.runtime.webhooks.net import DnsResolver
from deconflict.settings import local_state_path, webhook_key_path

__all__ = ["Runtime", "RuntimeSettings", "tune_gc"]

log = logging.getLogger("deconflict.runtime")


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """How one hub process runs. ``db`` is the SQLite file or a database URL; ``state`` is the
    path the process's local files (the local issuer's key, the webhook key) are named after
    (default: see :func:`deconflict.settings.local_state_path`). Stored Idempotency-Key
    responses are replayed for ``idempotency_ttl_s`` and swept every ``sweep_s`` by the lease
    holder.

    Webhooks (see :mod:`deconflict.runtime.webhooks`): sent to public addresses and to the
    networks of ``webhook_allow_networks`` (CIDRs); their secrets sealed with the key in the file
    ``webhook_key`` (default: the ``webhook-key`` setting, else ``<state>.webhook-key``); each
    attempt at most ``webhook_timeout_s`` in all, ``webhook_in_flight`` at once per receiver,
    ``webhook_window`` notifications read ahead of a receiver's cursor, a failed one retried
    after ``webhook_backoff_s`` doubling to 5 minutes; webhooks looked at every
    ``webhook_poll_s``."""

    db: str | Path
    state: Path | None = None
    detect_interval_s: float = 0.05
    webhook_backoff_s: float = 1.0
    webhook_poll_s: float = 1.0
    webhook_allow_networks: tuple[str, ...] = ()
    webhook_key: Path | None = None
    webhook_timeout_s: float = 10.0
    webhook_in_flight: int = 4
    webhook_window: int = 256
    idempotency_ttl_s: float = 86_400.0
    sweep_s: float = 60.0
    #: allocations between young-generation collections in this process (0: Python's own GC
    #: settings, left alone: a hub in a test, or inside another program); see ``tune_gc``
    gc_threshold: int = 0
    #: the detector process of ``deconflict serve`` (:mod:`.detector_process`): a preferred
    #: holder of the detector lease, which an HTTP worker holding it gives back
    detector_process: bool = False
    #: the whole ledger was just checked good by this very process, as ``deconflict serve``
    #: started it (one process, no detector process): if it takes the detector lease as it
    #: starts, its hub's first check of the log need not read it whole again
    #: (:meth:`~deconflict.hub.ledger.HubLedger.checked_by_supervisor`). Never for a process
    #: another one started (a worker may be started again later, unchecked).
    ledger_checked: bool = False

    @property
    def state_path(self) -> Path:
        """Where the process's local files are named after."""
        return self.state if self.state is not None else local_state_path(str(self.db))


class Runtime:
    """One hub process's running parts: build it, :meth:`start` it, :meth:`stop` it.

    Tests replace parts of the webhooks' world: ``webhook_transport`` the network,
    ``webhook_resolver`` the DNS (``await resolve(host, port)``: the addresses), and
    ``webhook_observer`` is told of every delivery attempt and cursor move (on the event loop).
    ``on_handover`` is told of every change of this process's hold on the detector lease;
    ``on_lease`` and ``before_detecting``: see :class:`~deconflict.hub.DetectorWorker`."""

    def __init__(
        self,
        settings: RuntimeSettings,
        hub_factory: Callable[[], Hub] | None = None,
        *,
        on_handover: Callable[[str], None] | None = None,
        on_lease: Callable[[], None] | None = None,
        before_detecting: Callable[[Hub, Callable[[], None]], None] | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_resolver: Resolve | None = None,
        webhook_observer: Callable[[WebhookEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        factory = hub_factory if hub_factory is not None else (lambda: Hub.open(settings.db))
        self._starting = settings.ledger_checked  # until start() returns (see _checked_at_start)
        self._before_detecting = before_detecting
        self.runner = HubRunner(
            factory,
            settings.detect_interval_s,
            preferred=settings.detector_process,
            on_handover=on_handover,
            on_lease=on_lease,
            before_detecting=self._checked_at_start,
        )
        allowed = parse_networks(settings.webhook_allow_networks)
        # Lookups of the names parties set (in requests) and of the receivers' (in deliveries),
        # each on its own loop, a party's at most a few at a time.
        self._resolvers = [] if webhook_resolver is not None else [DnsResolver(), DnsResolver()]
        set_resolve, send_resolve = (
            (webhook_resolver, webhook_resolver)
            if webhook_resolver is not None
            else (self._resolvers[0], self._resolvers[1])
        )
        key_file = settings.webhook_key or webhook_key_path(settings.state_path)
        self.webhooks = Webhooks(
            self.runner, WebhookKey.load(key_file), Destinations(set_resolve, allowed)
        )
        self.deliveries = DeliveryMarks(self.runner)
        self._sender = WebhookSender(
            self.runner,
            self.webhooks,
            Destinations(send_resolve, allowed),
            SenderSettings(
                timeout_s=settings.webhook_timeout_s,
                in_flight=settings.webhook_in_flight,
                window=settings.webhook_window,
                backoff_s=settings.webhook_backoff_s,
                poll_s=settings.webhook_poll_s,
            ),
            webhook_transport,
            webhook_observer,
        )
        self._sweeper: asyncio.Task[None] | None = None

    def _checked_at_start(self, hub: Hub, alive: Callable[[], None]) -> None:
        """With the lease taken and the index built, before the hub first detects (and signs):
        if this process takes the lease as it starts, and ``settings.ledger_checked`` says it
        checked the whole log just before, that check is the hub's first. A process that takes
        the lease later (from another ``serve`` on the database, hours on) checks it itself."""
        if self._starting:
            hub.ledger.checked_by_supervisor()
        if self._before_detecting is not None:
            self._before_detecting(hub, alive)

    async def start(self) -> None:
        """Open the hub (on its thread), seal any webhook secret still in clear, and start the
        sender and the sweep."""
        if self.settings.gc_threshold:
            tune_gc(self.settings.gc_threshold)
        try:
            await self.runner.start()
        finally:
            self._starting = False
        await self.webhooks.seal_clear_secrets()
        self._sender.start()
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        """Stop everything :meth:`start` started, the hub last (the lease released)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._sender.stop()
        for resolver in self._resolvers:
            await resolver.close()
        await self.deliveries.stop()
        await self.runner.stop()

    async def _sweep(self) -> None:
        """Every ``sweep_s``, the lease holder deletes expired Idempotency-Key responses, a
        bounded batch at a time (an expired one is ignored when read anyway: this only bounds
        the table)."""
        settings = self.settings
        while True:
            await asyncio.sleep(settings.sweep_s)
            if not self.runner.leading:
                continue
            before_s = time.time() - settings.idempotency_ttl_s

            def expire(hub: Hub, before_s: float = before_s) -> int:
                return service_state(hub).expire_responses(before_s)

            try:
                await self.runner.run(expire, party=None)
            except Exception:  # the next sweep tries again
                log.exception("expiring stored responses failed")


def tune_gc(threshold: int) -> None:
    """Collect garbage less often in a serving process: a young-generation collection every
    ``threshold`` allocations instead of Python's 700, and what exists now (modules, the app,
    caches) frozen out of every later collection, so that an older generation's collection
    scans only what requests made. Python's collections, each pausing every thread of the
    process, were among the filings' slowest moments: at 250 notices/s on SQLite, p99 fell from
    163-410 ms to 67-100 ms with 20,000, at the same CPU a notice."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *gc.get_threshold()[1:])
