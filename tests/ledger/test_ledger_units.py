"""The ledger in a unit of work: entries written at its end, in order, each savepoint's undone
with it, and an entry that refers to a commitment made earlier in the unit finds it. On each
database: on PostgreSQL the unit's end writes its rows in one pipeline."""

from __future__ import annotations

import pytest
from tests.hub.scenario import make_hub, vol

from deconflict.errors import InvalidInput, NotFound, StoreError
from deconflict.ledger import MemoryTree, leaf_hash, verify_opening


class _Undo(Exception):
    """Raised inside a savepoint to roll it back."""


def _file_cancel_and_undo(hub) -> None:
    with hub.store.savepoint():
        hub.file_notice("usaf", [vol("b")], "air-activity", "N2")
        hub.cancel_notice("usaf", "N2")
        raise _Undo


def _check_log(hub) -> list[dict]:
    """The log verifies and its stored root is the reference tree's; its entries."""
    entries = hub.store.ledger_entries()
    assert [index for index, _ in entries] == list(range(len(entries)))
    hub.ledger.verify()
    tree = MemoryTree(leaf_hash(body) for _, body in entries)
    assert hub.store.ledger_root(len(entries)) == tree.root()
    return [hub.ledger.entry(index) for index, _ in entries]


def test_a_unit_writes_its_entries_at_its_end_and_its_ledger_reads_see_them(tmp_path, store_target):
    """Inside the unit the ledger's own reads see the unit's appends; after it, the log is the
    same as if each filing had been its own transaction."""
    hub, _ = make_hub(tmp_path, target=store_target)
    before = hub.ledger.size
    with hub.store.unit_of_work():
        hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
        hub.file_notice("faf", [vol("b", lon=39.5)], "air-activity", "N2")
        assert hub.store.ledger_size() == before + 2
        assert [kind for _, kind in hub.store.ledger_find("notice:faf/N2")] == ["notice.filed"]
    entries = _check_log(hub)
    assert [(e["type"], e.get("notice")) for e in entries[before:]] == [
        ("notice.filed", "N1"),
        ("notice.filed", "N2"),
    ]
    salts = set()
    for entry, party in zip(entries[before:], ("usaf", "faf"), strict=True):
        opening = hub.ledger.opening(party, entry["notice"])
        verify_opening(opening, entry["commitment"])
        salts.add(opening.salt)
    assert len(salts) == 2  # each its own, though drawn at once
    hub.close()


def test_a_rolled_back_savepoint_takes_its_entries_with_it(tmp_path, store_target):
    """A filing undone in its savepoint leaves no entry and no gap; those around it stay."""
    hub, _ = make_hub(tmp_path, target=store_target)
    before = hub.ledger.size
    with hub.store.unit_of_work():
        with hub.store.savepoint():
            hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
        with pytest.raises(_Undo):
            _file_cancel_and_undo(hub)
        with pytest.raises(InvalidInput), hub.store.savepoint():
            hub.file_notice("usaf", [vol("c")], "air-activity", "N1")  # a duplicate id
        with hub.store.savepoint():
            hub.file_notice("usaf", [vol("d")], "air-activity", "N3")
    entries = _check_log(hub)
    assert [(e["type"], e["notice"]) for e in entries[before:]] == [
        ("notice.filed", "N1"),
        ("notice.filed", "N3"),
    ]
    hub.close()


def test_entries_refer_to_commitments_made_earlier_in_the_unit(tmp_path, store_target):
    """A cancellation and the notifications the detector writes in the same unit as the
    filings refer to the filings' commitments, not yet written when they are appended."""
    hub, _ = make_hub(tmp_path, target=store_target)
    before = hub.ledger.size
    with hub.store.unit_of_work():
        hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
        hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
        hub.process()
        hub.file_notice("usaf", [vol("c", lon=41.0)], "air-activity", "N3")
        hub.cancel_notice("usaf", "N3")
    entries = _check_log(hub)[before:]
    filed = {e["notice"]: e["commitment"] for e in entries if e["type"] == "notice.filed"}
    told = [e for e in entries if e["type"] == "notification.created" and e["notice"]]
    assert told
    for entry in told:
        assert entry["notice_commitment"] == filed[entry["notice"]]
    (cancelled,) = [e for e in entries if e["type"] == "notice.cancelled"]
    assert cancelled["commitment"] == filed["N3"]
    hub.close()


def test_a_failed_append_keeps_what_earlier_appends_noted(tmp_path, store_target):
    """An append that fails undoes only itself: the commitments of the filings noted before it
    (built when it began) are still known to the entries that follow."""
    from deconflict.store import ledger_append

    hub, clock = make_hub(tmp_path, target=store_target)
    with hub.store.unit_of_work():
        hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
        c = hub.store._unit
        with pytest.raises(Exception, match="No row"):  # a notification that is not stored
            ledger_append.record_changes(
                c,
                [("party.added", "x", clock.now(), None), ("notification.created", "M", 0, None)],
                defer=True,
            )
        version, commitment = ledger_append._end(c).known.newest(c, "notice:usaf/N1")
        assert (version, commitment) != (None, None)
    (filed,) = [e for e in _check_log(hub) if e.get("notice") == "N1"]
    assert (filed["version"], filed["commitment"]) == (version, commitment)
    hub.close()


def test_a_unit_whose_deferred_insert_is_refused_at_its_end_writes_nothing(tmp_path, store_target):
    """A filing whose id was stored before the unit is refused where the unit writes its rows
    (on PostgreSQL at the pipeline's end): the unit fails as a whole, saying so, and neither
    its other filing nor any ledger entry is written."""
    hub, _ = make_hub(tmp_path, target=store_target)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    again = hub.store.get_notice("usaf/N1")
    before = hub.ledger.size

    def file_n2_and_n1_again() -> None:
        with hub.store.unit_of_work():
            hub.file_notice("faf", [vol("b", lon=39.5)], "air-activity", "N2")
            hub.store.add_notice(again)

    with pytest.raises(StoreError, match="refused"):
        file_n2_and_n1_again()
    with pytest.raises(NotFound):
        hub.store.get_notice("faf/N2")
    assert hub.ledger.size == before
    _check_log(hub)
    hub.close()


def test_a_detection_in_the_unit_refers_to_the_version_amended_in_it(tmp_path, store_target):
    """A notice filed before the unit and amended in it, the amendment's entry built but not
    written yet: the notifications the detector writes in the same unit refer to the amended
    version's commitment, which only the unit knows, not to the stored one."""
    hub, _ = make_hub(tmp_path, target=store_target)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.process()
    before = hub.ledger.size
    with hub.store.unit_of_work():
        hub.amend_notice("usaf", "N1", 1, [vol("a", lat=35.96)])
        hub.add_party("nato", "NATO")  # builds the amendment's entry: known here, not stored
        hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
        hub.process()
    entries = _check_log(hub)[before:]
    (amended,) = [e for e in entries if e["type"] == "notice.amended"]
    told = [e for e in entries if e["type"] == "notification.created" and e["notice"] == "N1"]
    assert told
    for entry in told:
        assert (entry["notice_version"], entry["notice_commitment"]) == (
            2,
            amended["commitment"],
        )
    hub.close()
