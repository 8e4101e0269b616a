"""The detector's index kept in a file: a restart reads it back and applies the log after it,
and ends with the index a rebuild from the store gives (keys, sides, volumes to the last bit);
a file that does not hold for this store (edited, cut short, another store's, ahead of the
store, too far behind) is refused, said so in the log, and the index rebuilt from the store."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.hub.scenario import HOUR, T0, make_hub, vol
from tests.hub.test_rebuild import _history, _rebuilt, _walked

from deconflict.engine.columns import Rows
from deconflict.geo import Circle, Corridor, Polygon, Volume4D
from deconflict.geo.packed import join, pack
from deconflict.hub import DetectorWorker, Hub, detector
from deconflict.hub.index_file import IndexFile, IndexFileRefused, read_index
from deconflict.store.codec import volume_to_dict


def _index_path(hub: Hub) -> Path:
    file = hub._detector._file
    assert file is not None
    return file.path


def _refused(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if '"index.file"' in r.getMessage()]


def _reopen(hub: Hub, target: str | Path, clock: Any) -> Hub:
    hub.close()
    return Hub.open(target, clock)


def test_a_restart_reads_the_index_file_and_applies_the_log_after_it(
    store_target: str, tmp_path: Path
) -> None:
    """The file written at the cursor, then more changes detected (amended, cancelled, new,
    withdrawn) and more not yet detected: the index read back and brought to the cursor is the
    one the store gives, on both databases."""
    target = store_target if store_target else tmp_path / "hub.db"
    hub, clock = make_hub(tmp_path, target=store_target)
    try:
        _history(hub, clock)  # leaves rows after the cursor
        hub.process()
        assert hub.save_index() is not None
        position = hub.store.detector_cursor()
        hub.amend_notice("usaf", "N0", 1, [vol("a0-v2", lon=43.0), vol("a0-v2b", lon=43.1)])
        hub.cancel_notice("usaf", "N9")
        hub.file_notice("faf", [vol("f9", lon=39.0)], "air", "F9")
        hub.withdraw_plan("faf", "P4")
        hub.process()
        hub.file_notice("faf", [vol("f10", lon=36.0)], "air", "F10")  # after the cursor
        hub = _reopen(hub, target, clock)  # (closing stores the cursor read past)
        expected = _walked(hub.store)
        found = _rebuilt(hub)
        times = hub.rebuild_times
        assert times["from_file"] == 1.0
        assert times["position"] == position
        assert times["replayed"] == hub.store.detector_cursor() - position > 0
        assert found == expected
        # And the same as from the store, with no file.
        _index_path(hub).unlink()
        assert _rebuilt(hub) == expected
        assert hub.rebuild_times["from_file"] == 0.0
    finally:
        hub.close()


def test_detection_after_a_restart_from_the_file_is_the_same(tmp_path: Path) -> None:
    """What is detected after a restart from the file is what is detected after a rebuild
    from the store: the same conflicts, sides and details (two stores: their ids' secrets
    differ)."""
    outcomes = []
    for keep in (True, False):
        path = tmp_path / str(keep)
        path.mkdir()
        hub, clock = make_hub(path)
        _history(hub, clock)
        hub.process()
        hub.save_index()
        hub = _reopen(hub, path / "hub.db", clock)
        if not keep:
            _index_path(hub).unlink()
        hub.file_notice("faf", [vol("q", lon=39.0), vol("r", lon=40.5)], "air", "Q")
        hub.add_plan("faf", [vol("s", lon=39.45)], "S")
        report = hub.process()
        assert hub.rebuild_times["from_file"] == (1.0 if keep else 0.0)
        outcomes.append(
            sorted(
                (c.a.key, c.b.key, c.a.version, c.b.version, c.detail, c.a_masked, c.b_masked)
                for c in report.new_conflicts
            )
        )
        hub.close()
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]) >= 3


def _saved(tmp_path: Path) -> tuple[Hub, Any, Path, dict[str, Any]]:
    hub, clock = make_hub(tmp_path)
    _history(hub, clock)
    hub.process()
    assert hub.save_index()
    return hub, clock, _index_path(hub), _walked(hub.store)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("flip a number", "tag does not match"),
        ("flip the header", "not an index file"),
        ("cut short", "cut short"),
        ("cut the tag", "tag does not match"),
        ("not one", "not an index file"),
        ("another key", "tag does not match"),
    ],
)
def test_an_edited_file_is_refused_and_the_index_rebuilt_from_the_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str, why: str
) -> None:
    """A local user edits the file (a volume taken out would hide it from detection): the tag
    is the ledger key's, so the file is refused, the log says why, and the index is the
    store's."""
    hub, _clock, path, expected = _saved(tmp_path)
    size = path.stat().st_size
    if how == "flip a number":
        _flip(path, size - 5_000)
    elif how == "flip the header":
        _flip(path, 40)
    elif how == "cut short":
        os.truncate(path, size // 2)
    elif how == "cut the tag":
        os.truncate(path, size - 1)
    elif how == "not one":
        path.write_bytes(b"PK\x03\x04 a zip file, not an index")
    else:
        hub._detector._file = IndexFile(path, lambda: b"\x07" * 32)  # another ledger key
    caplog.set_level(logging.WARNING, "deconflict.detector")
    found = _rebuilt(hub)
    assert hub.rebuild_times["from_file"] == 0.0
    assert found == expected
    (line,) = _refused(caplog)
    assert why in line
    assert str(path) in line
    assert "refused" in line
    hub.close()


def test_a_file_of_another_store_ahead_of_the_store_or_far_behind_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store restored from a backup taken before the file (its cursor behind it), the
    file laid beside another store with the same ledger key, or the file further behind
    than replaying pays: each refused, the index the store's."""
    caplog.set_level(logging.WARNING, "deconflict.detector")
    hub, clock, path, _ = _saved(tmp_path)
    backup = tmp_path / "backup.db"
    hub.close()
    # A copy of the store as it is, then the hub moves on and writes its file further on.
    backup.write_bytes((tmp_path / "hub.db").read_bytes())
    hub = Hub.open(tmp_path / "hub.db", clock)
    hub.file_notice("faf", [vol("later", lon=35.0)], "air", "L1")
    hub.process()
    assert hub.save_index()
    hub.close()
    (tmp_path / "hub.db").write_bytes(backup.read_bytes())  # restored: behind the file
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp_path / 'hub.db'}{suffix}").unlink(missing_ok=True)
    hub = Hub.open(tmp_path / "hub.db", clock)
    expected = _walked(hub.store)
    assert _rebuilt(hub) == expected
    assert "the store was restored or replaced" in _refused(caplog)[-1]
    hub.close()

    # Another store, the same ledger key file: its secret differs, so the tag does.
    (tmp_path / "o").mkdir()
    fresh, _ = make_hub(tmp_path / "o")
    (tmp_path / "o" / "hub.db.index").write_bytes(path.read_bytes())
    file = hub._detector._file
    assert file is not None
    fresh._detector._file = IndexFile(tmp_path / "o" / "hub.db.index", file.key)
    fresh.file_notice("usaf", [vol("o1")], "air", "O1")
    fresh.process()
    assert "tag does not match" in _refused(caplog)[-1]
    fresh.close()

    # Too far behind: the rows after it cost more to apply than the store's rebuild.
    monkeypatch.setattr(detector, "_REPLAY_MAX", 2)
    hub = Hub.open(tmp_path / "hub.db", clock)
    hub.process()
    hub.save_index()
    for i in range(3):
        hub.file_notice("usaf", [vol(f"b{i}", lon=30.0 + i)], "air", f"B{i}")
    hub.process()
    hub = _reopen(hub, tmp_path / "hub.db", clock)
    assert _rebuilt(hub) == _walked(hub.store)
    assert "changes behind the store" in _refused(caplog)[-1]
    hub.close()


def test_the_file_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half-way (a full disk) leaves the file that was there, whole, and
    no partial file; the file is the owner's alone."""
    hub, _clock, path, _ = _saved(tmp_path)
    before = path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    hub.file_notice("faf", [vol("later", lon=35.0)], "air", "L1")
    hub.process()
    real = os.fsync

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        hub.save_index()
    monkeypatch.setattr(os, "fsync", real)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    hub.close()


def test_a_read_of_a_file_that_is_not_one_names_why(tmp_path: Path) -> None:
    path = tmp_path / "x.index"
    assert read_index(path, b"k" * 32) is None
    path.write_bytes(b"deconflict index 1\n" + (10**9).to_bytes(8, "little"))
    with pytest.raises(IndexFileRefused, match="cut short"):
        read_index(path, b"k" * 32)
    path.write_bytes(b"deconflict index 1\n" + (2).to_bytes(8, "little") + b"[]")
    with pytest.raises(IndexFileRefused, match="not an index file"):
        read_index(path, b"k" * 32)


def test_packing_volumes_as_arrays_gives_them_back_to_the_last_bit() -> None:
    """Volumes made as objects (every kind, densified outlines, integers and floats, an
    integer past 2**53), packed, taken, joined and split: each made again is equal to its
    own."""
    volumes = [
        Volume4D.build("c", Circle((2.0, 48.0), 500.0), 0, 300.5, T0, T0 + HOUR),
        Volume4D.build(
            "k", Corridor([(2.0, 48.0), (2.5, 48.2)], 250.0), 10.0, 20, T0, T0 + 2 * HOUR
        ),
        Volume4D.build(
            "p",
            Polygon([(0.0, 40.0), (6.0, 40.0), (6.0, 45.0), (0.0, 45.0), (0.0, 40.0)]),
            0,
            1000,
            T0,
            T0 + 3 * HOUR,
        ),
        Volume4D.build(
            "big", Circle((2.0, 48.0), 100.0), 0, 100, 2**53 + 1, 2**53 + 7, intake=False
        ),
    ]
    packed = pack(volumes)
    assert set(packed.made) == {3}
    assert packed.footprints.given  # the polygon's long edges were densified
    again = join([packed.take(np.array([2, 0])), packed.take(np.array([3, 1]))])
    order = [2, 0, 3, 1]
    for i, at in enumerate(order):
        made = again.volume(i)
        assert volume_to_dict(made) == volume_to_dict(volumes[at])
        assert [type(x) for x in (made.altitude.lower_m, made.window.end_s)] == [
            type(volumes[at].altitude.lower_m),
            type(volumes[at].window.end_s),
        ]
        np.testing.assert_array_equal(
            made.footprint.parts()[1], volumes[at].footprint.parts()[1], strict=True
        )
    parts = again.split(3)
    assert [len(p) for p in parts] == [3, 1]
    assert set(parts[1].made) == set()
    assert set(parts[0].made) == {2}
    for i, at in enumerate(order):
        made = parts[i // 3].volume(i % 3)
        assert volume_to_dict(made) == volume_to_dict(volumes[at])
    assert parts[0].footprints.given  # the polygon's, first
    rows = Rows.of([again.volume(i) for i in range(4)], [0] * 4)
    np.testing.assert_array_equal(
        rows.numbers, Rows.of([volumes[at] for at in order], [0] * 4).numbers
    )


def test_the_lease_holder_writes_the_file_beside_its_work_and_as_it_lets_go(
    store_target: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At a tick, once due and moved on, the holder takes its index and writes it on a thread
    of its own; as it lets the lease go, it writes it again; the process that takes the lease
    over reads it back (on both databases: a PostgreSQL hub's file is in its state folder)."""
    caplog.set_level(logging.INFO, "deconflict.hub")
    hub, clock = make_hub(tmp_path, target=store_target)
    other = Hub.open(store_target, clock)
    wall = [1_000.0]
    first = DetectorWorker(hub, wall=lambda: wall[0], index_every_s=0.0)
    second = DetectorWorker(other, wall=lambda: wall[0], index_every_s=0.0)
    try:
        for i in range(5):
            hub.file_notice("usaf", [vol(f"u{i}", lon=39.0 + i * 0.01)], "air", f"U{i}")
        hub.file_notice("faf", [vol("f", lon=39.0)], "air", "F")
        assert first.step(tick=True) is not None
        first.wait_index_written()
        path = _index_path(hub)
        assert path.exists()
        assert path.stat().st_mode & 0o777 == 0o600
        written = [m for m in _refused(caplog) if '"written"' in m]
        assert len(written) == 1
        assert '"volumes": 6' in written[0]
        hub.file_notice("faf", [vol("g", lon=39.02)], "air", "G")
        assert first.step() is not None  # not a tick: no write
        assert len([m for m in _refused(caplog) if '"written"' in m]) == 1
        first.release()  # stores its cursor, writes the file, lets go
        assert len([m for m in _refused(caplog) if '"written"' in m]) == 2
        assert second.step() is not None
        assert other.rebuild_times["from_file"] == 1.0
        assert other.rebuild_times["replayed"] == 0.0
        assert _rebuilt(other) == _walked(other.store)
        assert other.indexed == 7
    finally:
        second.release()
        other.close()
        hub.close()


def test_what_a_write_killed_half_way_left_is_deleted(tmp_path: Path) -> None:
    """A detector killed while it wrote leaves its partial file; the next write deletes it
    (its process is gone), and leaves a running process's alone."""
    hub, _clock, path, _ = _saved(tmp_path)
    dead = path.with_name(f"{path.name}.999999999.partial")
    alive = path.with_name(f"{path.name}.{os.getppid()}.partial")
    dead.write_bytes(b"x" * 1000)
    alive.write_bytes(b"y")
    assert hub.save_index()
    assert not dead.exists()
    assert alive.exists()
    hub.close()


def test_the_index_file_setting_moves_the_file_or_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere" / "detector.idx"
    elsewhere.parent.mkdir()
    monkeypatch.setenv("DECONFLICT_INDEX_FILE", str(elsewhere))
    hub, clock = make_hub(tmp_path)
    hub.file_notice("usaf", [vol("u")], "air", "U")
    hub.process()
    assert hub.save_index() is None  # no ledger key yet, to tag it with
    hub.tick()  # signs: the key made
    assert hub.save_index()
    assert elsewhere.exists()
    assert not (tmp_path / "hub.db.index").exists()
    hub = _reopen(hub, tmp_path / "hub.db", clock)
    hub.process()
    assert hub.rebuild_times["from_file"] == 1.0
    hub.close()
    monkeypatch.setenv("DECONFLICT_INDEX_FILE", "off")
    with Hub.open(tmp_path / "hub.db", clock) as hub:
        hub.process()
        assert hub.rebuild_times["from_file"] == 0.0
        assert hub.save_index() is None
