"""One receiver's deliveries under way: what to send next, when a failed one is due again, and how
far delivery is complete. Pure: no I/O and no clock (times are arguments, in seconds of any
monotonic clock), so the schedule is tested with the times written out.

The window holds the receiver's notifications read ahead of its cursor, in stream order (at most
``capacity``). Each is first sent in that order, with at most ``in_flight`` requests at once. One
that fails (no 2xx, no answer in time, refused) is due again after its own backoff (``base_s``
doubling per failure, at most ``max_s``) while the ones after it go on being sent: one failing
notification holds up no other. The cursor (:meth:`DeliveryWindow.completed`) is the last of the
delivered run at the window's front: every notification up to it was delivered, so a restart or
another sender resumes there and sends again only what may not have arrived (at least once, each
with its ``Webhook-Id``).

A receiver that fails ``in_flight`` times in a row is taken to be down: one request at a time
until one succeeds, none before a pause (the same backoff, by the count of failures in a row), so
a dead receiver is not sent the whole window, nor every new notification, at the stream's rate.
A 10%-refusing receiver is almost never taken to be down (in_flight refusals in a row), and loses
only its refused notifications' backoff; they are sent again while the rest go on. The window
being full (a notification failing for longer than the window takes to fill behind it) stops
new reads for that receiver only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Delivery", "DeliveryWindow"]


@dataclass(slots=True)
class Delivery:
    """One notification to one receiver: its ``Webhook-Id`` and body, and how its sending goes."""

    delivery_id: str
    body: bytes
    failures: int = 0
    due_s: float = 0.0
    sending: bool = False
    delivered: bool = False


class DeliveryWindow:
    """The deliveries of one receiver read ahead of its cursor (see the module docstring)."""

    def __init__(
        self, capacity: int, in_flight: int, base_s: float = 1.0, max_s: float = 300.0
    ) -> None:
        if capacity < 1 or in_flight < 1:
            raise ValueError("a window holds and sends at least one")
        self.capacity = capacity
        self.in_flight = in_flight
        self._base_s = base_s
        self._max_s = max_s
        self._queue: deque[Delivery] = deque()
        self._sending = 0
        self._failing = 0  # failures in a row
        self._paused_until_s = 0.0

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def room(self) -> int:
        """How many more it may hold."""
        return self.capacity - len(self._queue)

    @property
    def sending(self) -> int:
        return self._sending

    @property
    def down(self) -> bool:
        """Whether the receiver failed ``in_flight`` times in a row (one at a time, paused)."""
        return self._failing >= self.in_flight

    def add(self, deliveries: Iterable[Delivery]) -> None:
        """Append deliveries read after the last one held (in stream order)."""
        self._queue.extend(deliveries)
        if len(self._queue) > self.capacity:
            raise ValueError("the window is over capacity")

    def backoff_s(self, failures: int) -> float:
        return min(self._max_s, self._base_s * 2.0 ** min(failures - 1, 30))

    def to_send(self, now_s: float) -> list[Delivery]:
        """The deliveries to start now (each marked sending), oldest first."""
        limit = 1 if self.down else self.in_flight
        if self.down and now_s < self._paused_until_s:
            return []
        chosen: list[Delivery] = []
        for delivery in self._queue:
            if self._sending + len(chosen) >= limit:
                break
            if not delivery.sending and not delivery.delivered and delivery.due_s <= now_s:
                chosen.append(delivery)
        for delivery in chosen:
            delivery.sending = True
        self._sending += len(chosen)
        return chosen

    def finished(self, delivery: Delivery, delivered: bool, now_s: float) -> None:
        """Record how sending ``delivery`` ended at ``now_s``."""
        delivery.sending = False
        self._sending -= 1
        if delivered:
            delivery.delivered = True
            self._failing = 0
            return
        delivery.failures += 1
        delivery.due_s = now_s + self.backoff_s(delivery.failures)
        self._failing += 1
        if self.down:
            self._paused_until_s = now_s + self.backoff_s(self._failing - self.in_flight + 1)

    def completed(self) -> str | None:
        """Drop the delivered run at the front; the last one's id (the new cursor) if any."""
        last = None
        while self._queue and self._queue[0].delivered:
            last = self._queue.popleft().delivery_id
        return last

    def next_due_s(self) -> float | None:
        """When something waiting may be started (None: nothing is waiting, or as many are
        being sent as may be: the next one may start when one of them ends)."""
        if self._sending >= (1 if self.down else self.in_flight):
            return None
        waiting = [d.due_s for d in self._queue if not d.sending and not d.delivered]
        if not waiting:
            return None
        due = min(waiting)
        return max(due, self._paused_until_s) if self.down else due
