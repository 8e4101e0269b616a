"""One receiver's deliveries under way, in written-out time: a failing one holds up none after
it and is retried after its own backoff; the cursor stops before the first undelivered; a
receiver that keeps failing gets one attempt at a time, paused; the window bounds what is held."""

from __future__ import annotations

import pytest

from deconflict.runtime.webhooks.window import Delivery, DeliveryWindow


def _window(count: int, capacity: int = 16, in_flight: int = 4) -> DeliveryWindow:
    window = DeliveryWindow(capacity, in_flight, base_s=1.0, max_s=8.0)
    window.add(Delivery(f"e{i}", b"{}") for i in range(count))
    return window


def _ids(deliveries: list[Delivery]) -> list[str]:
    return [d.delivery_id for d in deliveries]


def test_a_failing_delivery_holds_up_none_after_it():
    """e0 fails; e1..e5 are sent and delivered meanwhile; e0 is due again after 1 s; the
    cursor stays before e0 until it is delivered, then jumps past all."""
    window = _window(6)
    first = window.to_send(0.0)
    assert _ids(first) == ["e0", "e1", "e2", "e3"]
    window.finished(first[0], False, 0.1)
    for d in first[1:]:
        window.finished(d, True, 0.1)
    assert window.completed() is None
    later = window.to_send(0.2)
    assert _ids(later) == ["e4", "e5"]  # e0 waits for its backoff
    assert window.next_due_s() == pytest.approx(1.1)
    assert window.to_send(1.0) == []  # e0 not due yet
    for d in later:
        window.finished(d, True, 1.05)
    [again] = window.to_send(1.1)
    assert again.delivery_id == "e0"
    window.finished(again, True, 1.2)
    assert window.completed() == "e5"
    assert len(window) == 0


def test_backoff_doubles_per_failure_up_to_its_most():
    """The same delivery failing again waits 1, 2, 4, 8, 8 s."""
    window = _window(1, in_flight=8)
    waits = []
    now = 0.0
    for _ in range(5):
        [d] = window.to_send(now)
        window.finished(d, False, now)
        due = window.next_due_s()
        assert due is not None
        waits.append(due - now)
        now = due
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_a_receiver_that_keeps_failing_gets_one_attempt_at_a_time():
    """After in_flight failures in a row the receiver is down: nothing before its pause, then
    one at a time, not the whole window; one success and it is sent as many as before."""
    window = _window(12)
    for d in window.to_send(0.0):
        window.finished(d, False, 0.0)
    assert window.down
    assert window.to_send(0.5) == []  # paused, though e4.. were never tried
    [probe] = window.to_send(1.0)
    assert probe.delivery_id == "e0"
    assert window.to_send(1.0) == []  # one at a time
    assert window.next_due_s() is None  # the next may start when the probe ends
    window.finished(probe, True, 1.1)
    assert not window.down
    assert len(window.to_send(1.1)) == 4


def test_what_is_held_is_bounded():
    """A window holds at most its capacity; the room left says how much more to read."""
    window = _window(3, capacity=4)
    assert window.room == 1
    with pytest.raises(ValueError, match="over capacity"):
        window.add([Delivery("x", b""), Delivery("y", b"")])
