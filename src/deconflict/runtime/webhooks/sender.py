"""The webhook sender: every party's notifications POSTed to its receiver, each receiver on its
own, at the rate of the stream.

Only the process holding the detector lease sends (the one whose detection makes the
notifications, so it is woken first); it checks that it still holds the lease before each
request. A supervisor (:meth:`WebhookSender._supervise`) looks at the webhooks every ``poll_s``
(at once after a change made through this process) and runs one lane per webhook: an asyncio
task with its own HTTP client and connection pool, so a receiver that is slow, stalls or refuses
delays no other. A lane:

- reads the party's notifications from where its last read ended, a bounded batch at a time
  into a bounded window (:class:`~deconflict.runtime.webhooks.window.DeliveryWindow`), so the cost
  of a send does not grow with the party's history; it reads again when the hub announces new
  notifications (the runner's wake-ups) and every ``poll_s``;
- sends at most ``in_flight`` at once, each attempt bounded in total time (``timeout_s``: a
  receiver sending a byte at a time is hung up on), connecting only to checked addresses
  (:mod:`.net`), the URL checked again before each request (:mod:`.guard`);
- retries a failed notification after its own backoff while the ones after it are sent;
- moves the party's cursor, by compare-and-set, to the end of the delivered run at the window's
  front: every notification up to the cursor was delivered. A cursor moved by someone else (an
  old lease holder, the webhook set again or removed) ends the lane; the supervisor starts it
  again from the stored cursor.

Delivery is at least once: after a failover or restart, what was sent past the stored cursor is
sent again, with the same ``Webhook-Id`` (the event id). Order: first attempts go out in stream
order, but with several in flight and retries going on beside newer ones, a receiver may get them
out of order; the ``Webhook-Id`` orders them (``<created microseconds>.<notification id>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import httpx

from deconflict.errors import InvalidInput, RefusedDestination
from deconflict.hub import Hub
from deconflict.runtime.events import (
    event_id,
    next_page,
    notifications_seen,
    parse_event_id,
    resume_at,
)
from deconflict.runtime.runner import HubRunner
from deconflict.runtime.webhooks.guard import Destinations
from deconflict.runtime.webhooks.net import guarded_transport
from deconflict.runtime.webhooks.registry import Webhooks
from deconflict.runtime.webhooks.sealing import SecretLost
from deconflict.runtime.webhooks.signing import sign
from deconflict.runtime.webhooks.window import Delivery, DeliveryWindow
from deconflict.store.service_state import Webhook

__all__ = ["SenderSettings", "WebhookEvent", "WebhookSender"]

log = logging.getLogger("deconflict.runtime")

_READ_BATCH = 64  # notifications read at once, at most


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """What an observer is told. After each delivery attempt, its ``outcome``: ``delivered``,
    ``failed`` (no 2xx, or no answer within the time; to be retried), ``refused`` (an address
    webhooks may not be sent to; retried too, in case the operator comes to allow it). Besides:
    ``advanced`` when the party's cursor moved to ``delivery_id``, and ``suspended`` when the hub
    cannot open the webhook's secret (nothing is sent until the party sets it again;
    ``delivery_id`` empty)."""

    party: str
    delivery_id: str
    outcome: str


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How the sender sends: ``timeout_s`` is the most one attempt may take in all (connecting,
    sending, the answer's head and up to ``answer_bytes`` of its body); ``in_flight`` requests
    at once per receiver; ``window`` notifications read ahead of a receiver's cursor; a failed
    one is retried after ``backoff_s`` doubling to ``max_backoff_s``."""

    timeout_s: float = 10.0
    in_flight: int = 4
    window: int = 256
    backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    poll_s: float = 1.0
    answer_bytes: int = 65_536


Observer = Callable[[WebhookEvent], None]


@dataclass(slots=True)
class _Lane:
    """One receiver's sending task, for one version of its webhook (URL and secret)."""

    hook: Webhook
    secret: str | None  # None: suspended (the secret cannot be opened)
    kick: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    restart_at: float = 0.0

    @property
    def identity(self) -> tuple[str, str | None, str | None]:
        return (self.hook.url, self.hook.sealed, self.hook.clear_secret)


def _identity(hook: Webhook) -> tuple[str, str | None, str | None]:
    return (hook.url, hook.sealed, hook.clear_secret)


def _read(
    hub: Hub,
    party: str,
    after: tuple[float, str] | None,
    cursor: tuple[int, str] | None,
    limit: int,
) -> tuple[list[Delivery], tuple[float, str] | None, int]:
    """On a hub thread: ``party``'s next ``limit`` notifications after the position ``after``
    (those at or before the event ``cursor`` left out), as deliveries; the new position and
    how many rows were read. One snapshot: the notifications and what the party may see."""

    def read() -> tuple[list[Delivery], tuple[float, str] | None, int]:
        fresh, position, rows = next_page(hub, party, after, cursor, limit)
        shown = notifications_seen(hub, party, fresh)
        deliveries = [
            Delivery(event_id(n), json.dumps(s.model_dump(mode="json")).encode())
            for n, s in zip(fresh, shown, strict=True)
        ]
        return deliveries, position, rows

    return hub.store.in_snapshot(read, "reading a webhook's next notifications")


def _start(
    hub: Hub, party: str, cursor: str | None
) -> tuple[tuple[float, str] | None, tuple[int, str] | None]:
    """On a hub thread: the read position of ``party``'s stored cursor, and the event key
    what is at or before is left out by (``runtime.events.resume_at``: right after the
    notification it names)."""
    try:
        key = parse_event_id(cursor)
    except InvalidInput:  # not an event id (hand-edited): from the start, delivered again
        log.warning("webhook cursor %r is not an event id: sending from the start", cursor)
        return None, None
    return resume_at(hub, party, key)


class WebhookSender:
    """Sends every party's pending notifications to its webhook, woken by the hub runner."""

    def __init__(
        self,
        runner: HubRunner,
        hooks: Webhooks,
        destinations: Destinations,
        settings: SenderSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.runner = runner
        self.hooks = hooks
        self.destinations = destinations
        self.settings = settings if settings is not None else SenderSettings()
        self._transport = transport  # replaces the network (tests)
        self._observer = observer  # told of every WebhookEvent, on the event loop
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # the supervisor -----------------------------------------------------------------------

    async def _supervise(self) -> None:
        lanes: dict[str, _Lane] = {}
        looked_at = -1.0
        version = -1
        try:
            while True:
                generation = self.runner.generation
                now = time.monotonic()
                if not self.runner.leading:
                    await self._stop_lanes(lanes, list(lanes))
                elif version != self.hooks.version or now - looked_at >= self.settings.poll_s:
                    version, looked_at = self.hooks.version, now
                    try:
                        found = await self.hooks.all()
                    except Exception:  # the database is away: again at the next poll
                        log.exception("reading the webhooks failed")
                    else:
                        await self._reconcile(lanes, found)
                for lane in lanes.values():
                    lane.kick.set()
                await self.runner.changed(self.settings.poll_s, since=generation)
        finally:
            await self._stop_lanes(lanes, list(lanes))

    async def _reconcile(self, lanes: dict[str, _Lane], hooks: list[Webhook]) -> None:
        """One lane per webhook, for its current URL and secret; a lane that ended started
        again (at once if its cursor moved under it, after ``poll_s`` if it failed)."""
        wanted = {hook.party: hook for hook in hooks}
        await self._stop_lanes(lanes, [p for p in lanes if p not in wanted])
        now = time.monotonic()
        for party, hook in wanted.items():
            lane = lanes.get(party)
            if lane is not None and lane.identity == _identity(hook):
                ended = lane.task is not None and lane.task.done()
                if not ended or now < lane.restart_at:
                    continue
            await self._stop_lanes(lanes, [party])
            lanes[party] = self._start_lane(hook)

    def _start_lane(self, hook: Webhook) -> _Lane:
        try:
            secret: str | None = self.hooks.secret(hook)
        except SecretLost as error:
            log.warning("webhook of %s not sent: %s", hook.party, error)
            self._tell(WebhookEvent(hook.party, "", "suspended"))
            return _Lane(hook, None)
        lane = _Lane(hook, secret)
        lane.task = asyncio.create_task(self._run_lane(lane), name=f"webhook-{hook.party}")
        return lane

    async def _stop_lanes(self, lanes: dict[str, _Lane], parties: list[str]) -> None:
        stopping = [lanes.pop(p) for p in parties if p in lanes]
        tasks = [lane.task for lane in stopping if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # a lane -----------------------------------------------------------------------------------

    async def _run_lane(self, lane: _Lane) -> None:
        try:
            await self._lane(lane)
        except asyncio.CancelledError:
            raise
        except Exception:  # started again by the supervisor after poll_s
            lane.restart_at = time.monotonic() + self.settings.poll_s
            log.exception("the webhook sender of %s failed", lane.hook.party)

    def _client(self, party: str) -> httpx.AsyncClient:
        s = self.settings
        transport = self._transport
        if transport is None:  # names looked up on the party's share of the resolver
            transport = guarded_transport(self.destinations.for_party(party), s.in_flight)
        part_s = min(5.0, s.timeout_s)  # each phase; the whole attempt is bounded by timeout_s
        return httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(part_s),
            follow_redirects=False,
            trust_env=False,
        )

    async def _lane(self, lane: _Lane) -> None:
        s, runner, party = self.settings, self.runner, lane.hook.party
        window = DeliveryWindow(s.window, s.in_flight, s.backoff_s, s.max_backoff_s)
        cursor = lane.hook.cursor
        after, cursor_key = await runner.run_beside(partial(_start, party=party, cursor=cursor))
        read_at = -1.0  # when a read last found nothing more (monotonic), -1: read now
        read_generation = -1
        sending: set[asyncio.Task[None]] = set()
        async with self._client(party) as http:
            try:
                while True:
                    lane.kick.clear()
                    now = time.monotonic()
                    stale = read_generation != runner.generation or now - read_at >= s.poll_s
                    if window.room > 0 and stale:
                        generation = runner.generation
                        asked = min(window.room, _READ_BATCH)
                        found, after, rows = await runner.run_beside(
                            partial(_read, party=party, after=after, cursor=cursor_key, limit=asked)
                        )
                        window.add(found)
                        if rows < asked:  # the end for now: read again when woken or polled
                            read_generation, read_at = generation, time.monotonic()
                        else:
                            read_generation, read_at = -1, -1.0
                    if runner.leading and lane.secret is not None:
                        for delivery in window.to_send(time.monotonic()):
                            task = asyncio.create_task(
                                self._attempt(http, lane, lane.secret, window, delivery)
                            )
                            sending.add(task)
                            task.add_done_callback(sending.discard)
                    done = window.completed()
                    if done is not None:
                        if not await self.hooks.advance(party, cursor, done):
                            return  # moved meanwhile (set again, removed, another sender)
                        cursor = done
                        self._tell(WebhookEvent(party, done, "advanced"))
                    if window.room > 0 and read_at < 0:
                        continue  # more to read at once
                    sends = runner.leading and lane.secret is not None
                    await self._wait(lane, window if sends else None, s.poll_s)
            finally:
                for task in sending:
                    task.cancel()
                await asyncio.gather(*sending, return_exceptions=True)

    @staticmethod
    async def _wait(lane: _Lane, window: DeliveryWindow | None, poll_s: float) -> None:
        """Until kicked (an attempt ended, a wake-up), something in ``window`` falls due, or
        ``poll_s``."""
        due = None if window is None else window.next_due_s()
        wait_s = poll_s if due is None else min(poll_s, max(0.0, due - time.monotonic()))
        if wait_s <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await lane.kick.wait()

    async def _attempt(
        self,
        http: httpx.AsyncClient,
        lane: _Lane,
        secret: str,
        window: DeliveryWindow,
        delivery: Delivery,
    ) -> None:
        try:
            outcome = await self._post(http, lane.hook.url, secret, delivery)
        except Exception:  # not the network's: a bug; counted as failed, retried
            log.exception("webhook delivery to %s failed", lane.hook.party)
            outcome = "failed"
        was_down = window.down
        window.finished(delivery, outcome == "delivered", time.monotonic())
        lane.kick.set()
        if window.down and not was_down:
            log.warning(
                "the webhook receiver of %s is failing (%s): one attempt at a time, backing off",
                lane.hook.party,
                outcome,
            )
        elif was_down and not window.down:
            log.info("the webhook receiver of %s takes deliveries again", lane.hook.party)
        self._tell(WebhookEvent(lane.hook.party, delivery.delivery_id, outcome))

    async def _post(self, http: httpx.AsyncClient, url: str, secret: str, d: Delivery) -> str:
        """One attempt to deliver ``d``: its outcome (see :class:`WebhookEvent`)."""
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Webhook-Id": d.delivery_id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": sign(secret, d.delivery_id, timestamp, d.body),
        }
        answered = False
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                target = self.destinations.target(url)  # checked again, as it is now allowed
                request = http.build_request("POST", target.url, content=d.body, headers=headers)
                answer = await http.send(request, stream=True)
                try:
                    answered = answer.is_success
                    read = 0  # a bounded part of the body, so the connection can be reused
                    async for chunk in answer.aiter_raw():
                        read += len(chunk)
                        if read > self.settings.answer_bytes:
                            break
                finally:
                    await answer.aclose()
        except RefusedDestination:
            return "refused"
        except (TimeoutError, httpx.HTTPError, httpx.StreamError, OSError):
            pass  # no answer, or the body cut short: the status decides
        return "delivered" if answered else "failed"

    def _tell(self, event: WebhookEvent) -> None:
        if self._observer is not None:
            self._observer(event)
