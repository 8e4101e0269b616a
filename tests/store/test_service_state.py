"""The service state several workers share: stored Idempotency-Key responses (written with the
change they answer, expired by age) and webhooks whose cursor only moves from what was read."""

from __future__ import annotations

from deconflict.model import Party
from deconflict.store import open_store
from deconflict.store.service_state import ServiceState, StoredResponse


def test_a_response_is_stored_with_the_change_or_not_at_all(store_target):
    """In a unit of work the response commits with the change; undone, neither is there."""
    store = open_store(store_target)
    state = ServiceState(store)
    answer = StoredResponse("POST /v1/parties abc", 201, {"id": "US"}, {"ETag": '"1"'})
    try:
        with store.unit_of_work():
            store.add_party(Party("US", "US"), 0.0)
            state.remember_response("US", "k-1", answer, 100.0)
        assert state.stored_response("US", "k-1", 0.0) == answer
        try:
            with store.unit_of_work():
                store.add_party(Party("RU", "RU"), 0.0)
                state.remember_response("RU", "k-1", answer, 100.0)
                raise RuntimeError("crash before the commit")
        except RuntimeError:
            pass
        assert state.stored_response("RU", "k-1", 0.0) is None
        assert [p.id for p in store.list_parties()] == ["US"]
    finally:
        store.close()


def test_old_responses_are_ignored_replaced_and_expired(store_target):
    """A response older than the limit is not returned, its key can be used again, and the
    sweep deletes old rows in bounded batches."""
    store = open_store(store_target)
    state = ServiceState(store)
    try:
        for i in range(5):
            state.remember_response("US", f"k-{i}", StoredResponse("f", 200, i, {}), 10.0 + i)
        assert state.stored_response("US", "k-0", 50.0) is None
        state.remember_response("US", "k-0", StoredResponse("g", 201, "new", {}), 60.0)
        assert state.stored_response("US", "k-0", 50.0) == StoredResponse("g", 201, "new", {})
        assert state.expire_responses(50.0, limit=3) == 3
        assert state.expire_responses(50.0, limit=3) == 1
        assert state.expire_responses(50.0) == 0
        assert state.stored_response("US", "k-0", 50.0) is not None
    finally:
        store.close()


def test_a_webhook_cursor_moves_only_from_what_was_read(store_target):
    """Two stores on one database see one webhook; a sender holding a stale cursor cannot move
    it back; a new URL keeps the cursor, a removed webhook starts again."""
    first, second = open_store(store_target), open_store(store_target)
    a, b = ServiceState(first), ServiceState(second)
    try:
        a.put_webhook("US", "http://127.0.0.1:1/hook", "s" * 20)
        hook = b.get_webhook("US")
        assert hook is not None
        assert hook.cursor is None
        assert b.advance_webhook("US", None, "e-2")
        assert not a.advance_webhook("US", None, "e-1")  # stale: it read None
        assert a.advance_webhook("US", "e-2", "e-3")
        moved = a.put_webhook("US", "http://127.0.0.1:2/hook", "t" * 20)
        assert (moved.url, moved.cursor) == ("http://127.0.0.1:2/hook", "e-3")
        assert [h.party for h in b.list_webhooks()] == ["US"]
        assert b.delete_webhook("US")
        assert not b.delete_webhook("US")
        assert a.get_webhook("US") is None
        assert not a.advance_webhook("US", "e-3", "e-4")
    finally:
        first.close()
        second.close()
