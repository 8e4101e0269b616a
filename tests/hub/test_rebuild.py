"""The detector's rebuild, paged from the store in a few queries, indexes exactly what the walk
it replaced indexed (each record's last change-log row up to the cursor, the record read at that
row's version, one read a record): the same keys, sides and volumes, on both databases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.hub.scenario import HOUR, T0, make_hub, vol

from deconflict.engine.columns import Rows
from deconflict.errors import NotFound
from deconflict.hub import Hub, rebuild
from deconflict.model import NoticeState, PlanState, RecordKind, Side
from deconflict.store import Change, Store
from deconflict.store.codec import volume_to_dict


def _walked(store: Store) -> dict[str, tuple[Side, dict[str, Any]]]:
    """What the rebuild before paging indexed: by index key, the side and its volume."""
    cursor = store.detector_cursor()
    last: dict[tuple[str, str], Change] = {}
    for change in store.changes_after(0):
        if change.seq <= cursor and change.entity in ("notice", "plan"):
            last[(change.entity, change.entity_id)] = change
    found = {}
    for change in sorted(last.values(), key=lambda c: c.seq):
        if change.version is None or change.state is None:
            continue
        try:
            if change.entity == "notice":
                record: Any = store.get_notice_version(change.entity_id, change.version)
                live = NoticeState(change.state).live
            else:
                record = store.get_plan_version(change.entity_id, change.version)
                live = PlanState(change.state) is PlanState.CURRENT
        except NotFound:
            continue
        if not live:
            continue
        for volume in record.volumes:
            kind = RecordKind(change.entity)
            side = Side(kind, record.id, record.version, volume.id, record.party)
            found[side.key] = (side, volume_to_dict(volume))
    return found


def _rebuilt(hub: Hub) -> dict[str, tuple[Side, dict[str, Any]]]:
    """What the rebuild indexed: each key's side and volume. The numbers the index keeps of
    each volume (taken from the bulk reader's arrays) are those it reads of the volume alone."""
    hub._detector.rebuild()
    return _indexed(hub)


def _indexed(hub: Hub) -> dict[str, tuple[Side, dict[str, Any]]]:
    """What the detector's index holds: each key's side and volume."""
    inner = hub._detector
    index = inner.index
    slots = np.fromiter(index._slots.values(), np.intp)
    read = Rows.of([index._volume(slot) for slot in slots.tolist()], [0] * len(slots))
    np.testing.assert_array_equal(index._table.rows(slots).numbers, read.numbers, strict=True)
    found = {}
    for entry in index:
        side = inner.side(entry.key)
        assert side is not None
        assert side.party == entry.party
        found[entry.key] = (side, volume_to_dict(entry.volume))
    return found


def _history(hub: Hub, clock: Any) -> None:
    """Notices amended, cancelled and ended, plans amended and withdrawn, detected up to a
    point; then more of each that the detector has not read yet."""
    for i in range(6):
        hub.file_notice("usaf", [vol(f"a{i}", lon=39.0 + i * 0.2)], "air-activity", f"N{i}")
    hub.file_notice(
        "faf",
        [vol("x", lon=38.0), vol("y", lon=38.2, start_s=T0 + 2 * HOUR, end_s=T0 + 3 * HOUR)],
        "air-activity",
        "F1",
    )
    hub.file_notice(
        "faf", [vol("z", lon=37.0, start_s=T0 + HOUR, end_s=T0 + 2 * HOUR)], "air", "F2"
    )
    hub.amend_notice("usaf", "N1", 1, [vol("a1-v2", lon=40.0)])
    hub.amend_notice("usaf", "N1", 2, [vol("a1-v3", lon=40.5), vol("a1-v3b", lon=40.6)])
    hub.cancel_notice("usaf", "N2")
    hub.amend_notice("usaf", "N3", 1, [vol("a3-v2", lon=41.0)])
    hub.cancel_notice("usaf", "N3")
    hub.add_plan("faf", [vol("p1", lon=39.1)], "P1")
    hub.add_plan("faf", [vol("p2", lon=39.3)], "P2")
    hub.amend_plan("faf", "P1", 1, [vol("p1-v2", lon=39.2)])
    hub.withdraw_plan("faf", "P2")
    hub.add_plan("usaf", [vol("p3", lon=39.4), vol("p3b", lon=39.5)], "P3")
    clock.advance(2 * HOUR + 60)  # F2 ends, F1 becomes active
    hub.tick()
    hub.process()
    # After the cursor: none of this is in the rebuilt index, and the records above that these
    # rows change are indexed as they were at the cursor.
    hub.amend_notice("usaf", "N4", 1, [vol("a4-v2", lon=42.0)])
    hub.cancel_notice("usaf", "N5")
    hub.file_notice("usaf", [vol("late")], "air-activity", "N9")
    hub.amend_plan("usaf", "P3", 1, [vol("p3-v2", lon=39.6)])
    hub.withdraw_plan("faf", "P1")
    hub.add_plan("faf", [vol("p4", lon=38.9)], "P4")


@pytest.mark.parametrize("page", [1, 2, 5, 10_000])
def test_the_paged_rebuild_indexes_what_the_walk_did(
    store_target: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """Records amended, cancelled, ended and withdrawn before the cursor, and changed after
    it, notices and plans, in pages of any size (one across notices and plans too): the
    rebuilt index holds the same keys, sides and volumes as the record-by-record walk."""
    monkeypatch.setattr(rebuild, "PAGE", page)
    hub, clock = make_hub(tmp_path, target=store_target)
    try:
        _history(hub, clock)
        expected = _walked(hub.store)
        assert hub.store.detector_cursor() < hub.store.last_change()
        kinds = {side.kind for side, _ in expected.values()}
        assert kinds == {RecordKind.NOTICE, RecordKind.PLAN}
        assert _rebuilt(hub) == expected
        assert "usaf/N1" in {side.record_key for side, _ in expected.values()}
        versions = {side.record_key: side.version for side, _ in expected.values()}
        assert versions["usaf/N1"] == 3
        assert versions["usaf/N4"] == 1
        assert not {"usaf/N2", "usaf/N3", "faf/F2", "faf/P2", "usaf/N9"} & set(versions)
    finally:
        hub.close()


@pytest.mark.parametrize("page", [1, 10_000])
def test_a_rebuilt_index_follows_the_changes_after_it(
    store_target: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """After a rebuild, records of one volume and of several (kept apart by the detector) are
    amended to more and to fewer volumes, cancelled and withdrawn: the index then holds what
    the walk finds, no volume or side of what was removed left behind."""
    monkeypatch.setattr(rebuild, "PAGE", page)
    hub, clock = make_hub(tmp_path, target=store_target)
    try:
        _history(hub, clock)
        _rebuilt(hub)
        hub.process()
        hub.amend_notice("usaf", "N1", 3, [vol("a1-v4", lon=40.7)])  # two volumes to one
        hub.amend_notice("usaf", "N0", 1, [vol("a0-v2", lon=39.0), vol("a0-v2b", lon=39.1)])
        hub.cancel_notice("faf", "F1")  # two volumes, active
        hub.withdraw_plan("usaf", "P3")
        hub.amend_plan("faf", "P4", 1, [vol("p4-v2", lon=38.8)])
        hub.process()
        expected = _walked(hub.store)
        assert hub.store.detector_cursor() == hub.store.last_change()
        indexed = _indexed(hub)
        assert indexed == expected
        volumes = {side.volume_id for side, _ in indexed.values()}
        assert {"a1-v4", "a0-v2", "a0-v2b", "p4-v2"} <= volumes
        assert not {"a1-v3", "a1-v3b", "a0", "x", "y", "p3-v2", "p4"} & volumes
    finally:
        hub.close()


def test_a_hub_builds_its_index_when_it_first_detects(tmp_path: Any) -> None:
    """Opening a hub reads no record for the index; its first detection pass builds it from
    the store, as a restart at the cursor."""
    hub, _ = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.process()
    hub.close()
    again = Hub.open(tmp_path / "hub.db")
    try:
        assert again.indexed == 0
        assert again.process().changes == 0
        assert again.indexed == 1
    finally:
        again.close()
