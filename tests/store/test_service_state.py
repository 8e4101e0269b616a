"""The service state several workers share: stored Idempotency-Key responses (written with the
change they answer, expired by age) and webhooks whose cursor only moves from what was read, and
whose secrets are never kept in clear."""

from __future__ import annotations

import sqlalchemy as sa

from deconflict.model import Party
from deconflict.store import open_store
from deconflict.store.service_state import ServiceState, StoredResponse, webhooks


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


def test_secrets_in_clear_from_before_0014_are_sealed_once_and_erased(store_target):
    """A webhook row holding its secret in clear (as hubs before migration 0014 wrote it) is
    sealed by the first store that seals, and the clear secret erased; a second store finds
    nothing to seal; setting a webhook never writes a secret in clear."""
    first, second = open_store(store_target), open_store(store_target)
    a, b = ServiceState(first), ServiceState(second)
    try:
        with first.write_connection("an old hub's webhook row") as c:
            c.execute(
                sa.insert(webhooks).values(party="US", url="https://us.example/", secret="old-s")
            )
        before = b.get_webhook("US")
        assert before is not None
        assert (before.sealed, before.clear_secret) == (None, "old-s")
        assert a.seal_webhook_secrets(lambda party, secret: f"sealed({party},{secret})") == ["US"]
        assert b.seal_webhook_secrets(lambda party, secret: "again") == []
        after = b.get_webhook("US")
        assert after is not None
        assert (after.sealed, after.clear_secret) == ("sealed(US,old-s)", None)
        a.put_webhook("FR", "https://fr.example/", "sealed-fr")
        with first.read_connection("reading the rows") as c:
            clear = c.execute(sa.select(webhooks.c.secret)).scalars().all()
        assert clear == [None, None]
    finally:
        first.close()
        second.close()
