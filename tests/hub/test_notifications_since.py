"""An event stream's read after its cursor (``Hub.notifications_since`` with ``after``): the
notifications of one detection pass share its time, and a stream woken again read them all
again at every wake-up (decoded, then dropped by the cursor: at 500 notices a second, a
notification's CPU several times over). The store now leaves out those of the cursor's time up to
its id, on both databases, and nothing after the cursor is missed."""

from __future__ import annotations

from pathlib import Path

from tests.hub.scenario import make_hub, vol

from deconflict.runtime.events import event_key


def test_a_read_after_a_cursor_leaves_out_the_cursor_s_pass_up_to_it(store_target: str) -> None:
    hub, _ = make_hub(Path(), target=store_target)
    try:
        for k in range(4):  # usaf's, each met by faf's one notice: one pass, one time
            hub.file_notice("usaf", [vol(f"u{k}", lon=39.0 + 0.001 * k)], "air", f"U{k}")
        hub.process()
        hub.file_notice("faf", [vol("f")], "air", "F")
        hub.process()
        told = sorted(hub.list_notifications("usaf"), key=event_key)
        last_pass = [n for n in told if n.created_at_s == told[-1].created_at_s]
        assert len(last_pass) >= 4  # the pass's, at one time
        for at in range(len(told)):
            micros, after_id = event_key(told[at])
            read = hub.notifications_since(
                "usaf", (micros - 1) / 1e6, ((micros + 0.25) / 1e6, after_id)
            )
            after = [n for n in read if event_key(n) > (micros, after_id)]
            assert [n.id for n in sorted(after, key=event_key)] == [n.id for n in told[at + 1 :]]
            assert len(read) - len(after) <= 1  # the pass's own before the cursor: not read
    finally:
        hub.close()
