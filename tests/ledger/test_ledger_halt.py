"""The halt is the database's, not a process's: hubs on one store, one of which finds the log
broken behind its back (an SQL edit), as the detector process and the HTTP workers of ``serve
--workers N`` are; then ``ledger repair`` and ``serve``'s start check lifting it (security.md
§7.2, docs/ledger.md). Each hub times its reads of the halt on a clock the test moves."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.disk import remount, small_filesystem
from tests.hub.scenario import make_hub, vol

from deconflict.cli.main import main
from deconflict.errors import LedgerBroken
from deconflict.hub import Hub, SimulatedClock
from deconflict.hub.ledger import HALT_READ_PERIOD_S
from deconflict.store.engines import postgres_url


class Ticks:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def signed_store(tmp_path: Path, target: str | None = None) -> str:
    """A store whose log the hub signed at its tick, with an unsigned tail after it."""
    hub, clock = make_hub(tmp_path, target=target)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.process()
    clock.advance(60)
    hub.tick()
    hub.file_notice("faf", [vol("b", lon=40.0)], "air-activity", "N2")
    hub.close()
    return target if target is not None else str(tmp_path / "hub.db")


def two_hubs(target: str) -> tuple[Hub, Ticks, Hub, Ticks]:
    """Two hubs on one store, as two processes on one database: the first to run the detector's
    tick, the second to take filings. Each with a monotonic clock of its own."""
    clock = SimulatedClock(1_447_000_120.0)
    first, second = Ticks(), Ticks()
    return (
        Hub.open(target, clock, monotonic=first),
        first,
        Hub.open(target, clock, monotonic=second),
        second,
    )


def execute(target: str, statement: str, **params: object) -> None:
    """An SQL statement run behind the hubs' backs (SQLite file or PostgreSQL URL)."""
    if not target.startswith("postgresql"):
        with contextlib.closing(sqlite3.connect(target)) as db, db:
            db.execute(statement, params)
        return
    engine = sa.create_engine(postgres_url(target))
    try:
        with engine.begin() as c:
            c.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def cut_last_signed_entry(target: str, hub: Hub) -> None:
    signed = hub.store.ledger_latest_checkpoint()
    assert signed is not None
    execute(target, "DELETE FROM ledger_entries WHERE idx >= :idx", idx=signed[0] - 1)


def checkpoints(hub: Hub) -> list[int]:
    return [size for size, _ in hub.store.ledger_checkpoints()]


def serve(monkeypatch, target: str) -> tuple[int, list[object]]:
    """``deconflict serve`` up to where it would serve: its exit code, and the server it would
    have run, if it got there (never run)."""
    import deconflict.api.server

    served: list[object] = []
    monkeypatch.setattr(deconflict.api.server, "run", served.append)
    code = main(["serve", "--db", target, "--workers", "1", "--no-detector-process"])
    return code, served


def test_a_log_one_hub_finds_broken_stops_the_other_hubs_filings_within_a_second(tmp_path):
    """The hub running the tick finds its last signed entry gone and halts: the other hub on
    the database, which took a filing a moment before, refuses the next once its last read of
    the halt is a period old (the period is all it may lag), signs nothing either, and its
    reads of the halt cost one query a period however many writes it guards."""
    target = signed_store(tmp_path)
    detector, _, worker, worker_ticks = two_hubs(target)
    try:
        worker.file_notice("faf", [vol("c", lon=41.0)], "air-activity", "N3")  # reads: no halt
        signed = checkpoints(worker)
        cut_last_signed_entry(target, worker)
        detector.tick()
        assert detector.ledger.broken is not None
        with pytest.raises(LedgerBroken):
            detector.file_notice("usaf", [vol("d", lon=42.0)], "air-activity", "N4")

        worker_ticks.now = HALT_READ_PERIOD_S
        with pytest.raises(LedgerBroken) as refused:
            worker.file_notice("faf", [vol("e", lon=43.0)], "air-activity", "N5")
        assert refused.value.status == 503
        assert "entries were deleted from its end" in str(refused.value)
        with pytest.raises(LedgerBroken):
            worker.acknowledge("faf", "M-none")
        with pytest.raises(LedgerBroken):
            worker.ledger.checkpoint()
        worker.tick()  # its other work goes on; it signs nothing
        assert checkpoints(worker) == signed
    finally:
        detector.close()
        worker.close()


def test_a_log_cut_between_the_tick_check_and_its_signature_halts_the_hub(tmp_path):
    """The tick checks the log, then digests, then signs: entries cut in between are found at
    the signature (a smaller log has no consistency proof to ask for), and the hub is halted,
    rather than the tick failing with an error about the proof."""
    target = signed_store(tmp_path)
    detector, _, worker, worker_ticks = two_hubs(target)
    try:
        detector.ledger.check()
        cut_last_signed_entry(target, detector)
        with pytest.raises(LedgerBroken, match="entries were deleted from its end"):
            detector.ledger.checkpoint(checked=True)
        worker_ticks.now = HALT_READ_PERIOD_S
        assert worker.ledger.broken is not None
    finally:
        detector.close()
        worker.close()


def test_another_hub_signing_meanwhile_is_no_cut(tmp_path, monkeypatch):
    """Two hubs on one store sign checkpoints as they need them (a tick, a receipt). One reads
    the log's size; the other appends a filing and signs it; the first then reads what was
    signed. Read in that order, the signed checkpoint was larger than the size read and looked
    like entries cut from the end: the first hub halted every process on a sound log (two hubs
    on PostgreSQL did, in the concurrent-filings test). What was signed is read first, so the
    first hub signs what it read, and nothing is halted."""
    target = signed_store(tmp_path)
    first, _, other, _ = two_hubs(target)
    try:
        read_size = first.store.ledger_size
        done = []

        def size_then_the_other_signs() -> int:
            size = read_size()
            if not done:  # once: the other hub files and signs just after this read
                done.append(None)
                other.file_notice("faf", [vol("c", lon=41.0)], "air-activity", "N3")
                other.ledger.checkpoint()
            return size

        monkeypatch.setattr(first.store, "ledger_size", size_then_the_other_signs)
        first.ledger.checkpoint()
        assert done
        assert first.ledger.broken is None
        assert other.ledger.broken is None
        monkeypatch.undo()
        first.ledger.verify()
    finally:
        first.close()
        other.close()


def test_a_hub_reads_the_halt_once_a_period_whatever_it_guards(tmp_path, monkeypatch):
    """What a party's write pays for the shared halt: one short read of the store per period
    (HALT_READ_PERIOD_S), not one per write."""
    target = signed_store(tmp_path)
    clock, ticks = SimulatedClock(1_447_000_120.0), Ticks()
    with Hub.open(target, clock, monotonic=ticks) as hub:
        reads = []
        read = hub.store.ledger_halt
        monkeypatch.setattr(hub.store, "ledger_halt", lambda: reads.append(1) or read())
        for _ in range(1000):
            hub.ledger.guard()
        ticks.now = HALT_READ_PERIOD_S - 0.001
        hub.ledger.guard()
        assert len(reads) == 1
        ticks.now = HALT_READ_PERIOD_S
        hub.ledger.guard()
        assert len(reads) == 2


def test_each_hub_says_the_halt_once_in_its_log(tmp_path, caplog):
    """The halt is logged as an ERROR once by the hub that found it and once by each other
    hub when it learns of it, however often either is refused."""
    target = signed_store(tmp_path)
    detector, detector_ticks, worker, worker_ticks = two_hubs(target)
    try:
        cut_last_signed_entry(target, worker)
        with caplog.at_level(logging.ERROR, logger="deconflict.ledger"):
            for second in range(3):
                detector_ticks.now = worker_ticks.now = second * HALT_READ_PERIOD_S
                detector.tick()
                with pytest.raises(LedgerBroken):
                    worker.add_party("late", "Late")
    finally:
        detector.close()
        worker.close()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert all("entries were deleted from its end" in r.getMessage() for r in errors)


def test_verify_and_export_tell_of_the_halt(tmp_path, capsys):
    """An operator looking at a halted store is told so: ``ledger verify`` says since when the
    hub takes no filings and what lifts it, first; ``ledger export`` keeps the halt with the
    evidence. A store that is not halted says nothing of it."""
    target = signed_store(tmp_path)
    assert main(["ledger", "verify", "--db", target]) == 0
    assert "halted" not in capsys.readouterr().out
    detector, _, worker, _ = two_hubs(target)
    try:
        cut_last_signed_entry(target, detector)
        detector.tick()
    finally:
        detector.close()
        worker.close()
    assert main(["ledger", "verify", "--db", target]) != 0
    out = capsys.readouterr().out
    assert out.startswith("halted: since 2015-11-")
    assert "`deconflict ledger repair`" in out
    assert "entries were deleted from its end" in out
    folder = tmp_path / "evidence"
    assert main(["ledger", "export", "--db", target, "--out", str(folder)]) == 0
    assert "the hub is halted: see halt.json" in capsys.readouterr().out
    halt = json.loads((folder / "halt.json").read_text())
    assert "entries were deleted from its end" in halt["reason"]
    assert halt["at_s"] > 0


def test_repair_lifts_the_halt_for_every_hub(tmp_path, capsys):
    """A stored subtree hash zeroed halts both hubs; ``ledger repair`` (another process)
    rebuilds it and lifts the halt: each hub takes filings again once its read of the halt is
    a period old, and the tick signs again."""
    target = signed_store(tmp_path)
    detector, detector_ticks, worker, worker_ticks = two_hubs(target)
    try:
        execute(target, "UPDATE ledger_nodes SET hash = zeroblob(32)")
        detector.tick()
        worker_ticks.now = HALT_READ_PERIOD_S
        with pytest.raises(LedgerBroken):
            worker.file_notice("faf", [vol("c", lon=41.0)], "air-activity", "N3")
        signed = checkpoints(detector)

        assert main(["ledger", "repair", "--db", target]) == 0
        out = capsys.readouterr().out
        assert out.startswith("repaired: ")
        assert "; the halt of " in out

        worker_ticks.now = detector_ticks.now = 2 * HALT_READ_PERIOD_S
        worker.file_notice("faf", [vol("c", lon=41.0)], "air-activity", "N3")
        detector.file_notice("usaf", [vol("d", lon=42.0)], "air-activity", "N4")
        detector.tick()
        assert max(checkpoints(detector)) > max(signed)
    finally:
        detector.close()
        worker.close()


def test_serve_lifts_a_stale_halt_and_halts_every_hub_on_a_broken_log(tmp_path, monkeypatch):
    """A halt held by a database whose whole log checks good (a backup restored that was taken
    while halted) is lifted by ``serve``'s start, which says so; a log that does not is
    refused, and the halt recorded there stops a hub already running on the database."""
    target = signed_store(tmp_path)
    execute(target, "INSERT INTO ledger_halt (id, reason, at_s) VALUES (1, 'restored', 5.0)")
    with Hub.open(target) as hub:
        assert hub.ledger.broken == "restored"
    code, served = serve(monkeypatch, target)
    assert (code, len(served)) == (0, 1)
    with Hub.open(target) as hub:
        assert hub.ledger.broken is None

    clock, ticks = SimulatedClock(1_447_000_120.0), Ticks()
    with Hub.open(target, clock, monotonic=ticks) as running:
        running.file_notice("faf", [vol("c", lon=41.0)], "air-activity", "N3")
        cut_last_signed_entry(target, running)
        code, served = serve(monkeypatch, target)
        assert (code, served) == (1, [])
        ticks.now = HALT_READ_PERIOD_S
        with pytest.raises(LedgerBroken, match="entries were deleted from its end"):
            running.file_notice("faf", [vol("d", lon=42.0)], "air-activity", "N4")


def test_serve_says_what_halt_it_lifted(tmp_path, monkeypatch, caplog):
    """The lifting of a stale halt is in the log, with when it was recorded and what it said."""
    target = signed_store(tmp_path)
    execute(target, "INSERT INTO ledger_halt (id, reason, at_s) VALUES (1, 'restored', 5.0)")
    with caplog.at_level(logging.WARNING, logger="deconflict.ledger"):
        assert serve(monkeypatch, target)[0] == 0
    assert "the halt of 1970-01-01T00:00:05" in caplog.text
    assert "it said: restored" in caplog.text


def test_the_start_check_on_a_read_only_store_says_what_it_finds(tmp_path):
    """security.md §4.4: on a store that takes no writes (its filesystem mounted read-only)
    serve's whole check writes only to lift a halt there is, so a good log checks good; and a
    broken one is refused for what it is, not for the halt it cannot record."""
    with small_filesystem(tmp_path / "disk") as disk:
        target = signed_store(disk)
        remount(disk, read_only=True)
        with Hub.open(target) as hub:
            assert hub.ledger.recheck() is None
        remount(disk, read_only=False)
        with Hub.open(target) as hub:
            cut_last_signed_entry(target, hub)
        remount(disk, read_only=True)
        with Hub.open(target) as hub, pytest.raises(LedgerBroken, match="deleted from its end"):
            hub.ledger.recheck()


@pytest.mark.postgres
def test_on_postgresql_a_halt_stops_every_hub_and_serve_lifts_a_stale_one(
    pg_url, tmp_path, monkeypatch
):
    """On PostgreSQL: serve's start check lifts a stale halt; the log cut, one hub's tick halts
    the other's filings within a period, and serve refuses to start."""
    monkeypatch.setenv("DECONFLICT_LEDGER_KEY", str(tmp_path / "hub.ledger-key"))
    target = signed_store(tmp_path, pg_url)
    execute(target, "INSERT INTO ledger_halt (id, reason, at_s) VALUES (1, 'restored', 5.0)")
    code, served = serve(monkeypatch, target)
    assert (code, len(served)) == (0, 1)

    detector, _, worker, worker_ticks = two_hubs(target)
    try:
        worker.file_notice("faf", [vol("c", lon=41.0)], "air-activity", "N3")
        cut_last_signed_entry(target, worker)
        detector.tick()
        worker_ticks.now = HALT_READ_PERIOD_S
        with pytest.raises(LedgerBroken):
            worker.file_notice("faf", [vol("d", lon=42.0)], "air-activity", "N4")
    finally:
        detector.close()
        worker.close()
    code, served = serve(monkeypatch, target)
    assert (code, served) == (1, [])
