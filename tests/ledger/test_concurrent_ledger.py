"""Concurrent writers on one store: every write gets its entry, and the log still verifies."""

from __future__ import annotations

import threading

from tests.hub.scenario import T0, vol

from deconflict.hub import Hub, SimulatedClock

PER_WRITER = 15


def test_concurrent_filings_each_append_once_and_the_log_verifies(store_target):
    """Two hubs on one database file notices at once (retried on serialization failures);
    the ledger holds every filing once, in a log that recomputes and verifies."""
    with Hub.open(store_target, SimulatedClock(T0)) as hub:
        hub.add_party("usaf")
        hub.add_party("faf")
    errors: list[BaseException] = []

    def writer(party: str) -> None:
        try:
            with Hub.open(store_target, SimulatedClock(T0)) as mine:
                for i in range(PER_WRITER):
                    mine.file_notice(party, [vol(f"{party}-{i}")], "air-activity", f"{party}-{i}")
                    if i % 5 == 0:
                        mine.ledger.checkpoint()
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("usaf", "faf")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Hub.open(store_target, SimulatedClock(T0)) as hub:
        filed = [hub.ledger.entry(i) for i in range(hub.ledger.size)]
        notices = sorted(e["notice"] for e in filed if e["type"] == "notice.filed")
        assert notices == sorted(f"{p}-{i}" for p in ("usaf", "faf") for i in range(PER_WRITER))
        report = hub.ledger.verify()
        assert report.size == len(filed)
        assert report.checkpoints >= 1
