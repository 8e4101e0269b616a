"""A halt a read-only store still holds (the database was set read-only, or is a standby, while
the hub was halted): when the whole log checks good, ``serve`` starts and serves reads; the halt
stands (writes are refused anyway) until a start that may write lifts it (security.md §4.4)."""

from __future__ import annotations

import pytest

from deconflict.cli.serve import _refuse_a_broken_ledger
from deconflict.hub import Hub


@pytest.mark.postgres
def test_a_stale_halt_on_a_read_only_store_lets_serve_start_and_stands(pg_url):
    with Hub.open(pg_url) as hub:
        hub.add_party("usaf")
        hub.store.ledger_record_halt("halted before the database was set read-only", 1.0)
    read_only = pg_url + "%20-cdefault_transaction_read_only%3Don"
    _refuse_a_broken_ledger(read_only)  # raised WritesRefused: serve did not start
    with Hub.open(read_only) as hub:
        assert hub.ledger.recheck() is None  # nothing lifted: the store takes no writes
        assert hub.store.ledger_halt() is not None
    _refuse_a_broken_ledger(pg_url)  # a start that may write lifts it
    with Hub.open(pg_url) as hub:
        assert hub.store.ledger_halt() is None
