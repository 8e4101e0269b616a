"""The detector's index kept in a file: a restart reads it back and applies the log after it,
and ends with the index a rebuild from the store gives (keys, sides, volumes to the last bit);
a file that does not hold for this store (edited, cut short, another store's, ahead of the
store, too far behind) is refused, said so in the log, and the index rebuilt from the store."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.calls import counted
from tests.hub.scenario import HOUR, T0, make_hub, vol
from tests.hub.test_rebuild import _history, _rebuilt, _walked

from deconflict.engine.columns import WIDTH, Rows
from deconflict.errors import StoreUnavailable
from deconflict.geo import Circle, Corridor, Polygon, Volume4D
from deconflict.geo.packed import VolumeShelf, join, pack
from deconflict.hub import (
    DetectorWorker,
    Hub,
    SimulatedClock,
    detector,
    index_file,
    rebuild,
    worker,
)
from deconflict.hub.index_file import (
    IndexFile,
    IndexFileRefused,
    IndexSnapshot,
    read_index,
    write_index,
)
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
        ("flip the header", "another version|not an index file"),
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
    assert re.search(why, line)
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
    monkeypatch.setattr(rebuild, "REPLAY_MAX", 2)
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
    store_target: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At a tick, once due and moved on, the holder takes its index and writes it on a thread
    of its own; as it lets the lease go, it writes it again if the file is further behind than
    the next start would rather apply; the process that takes the lease over reads it back and
    applies the rows after it (on both databases: a PostgreSQL hub's file is in its state
    folder)."""
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
        first.release()  # stores its cursor, lets go: the file only a row behind, not written
        assert len([m for m in _refused(caplog) if '"written"' in m]) == 1
        assert second.step() is not None
        assert other.rebuild_times["from_file"] == 1.0
        assert other.rebuild_times["replayed"] > 0.0  # G's row, applied
        assert _rebuilt(other) == _walked(other.store)
        assert other.indexed == 7
        # Further behind than INDEX_BEHIND_ROWS: written as it lets go.
        monkeypatch.setattr(worker, "INDEX_BEHIND_ROWS", 2)
        for i in range(3):
            other.file_notice("faf", [vol(f"h{i}", lon=38.0 + i)], "air", f"H{i}")
        assert second.step() is not None
        second.release()
        assert len([m for m in _refused(caplog) if '"written"' in m]) == 2
        third = Hub.open(store_target, clock)
        third.process()
        assert third.rebuild_times["from_file"] == 1.0
        assert third.rebuild_times["replayed"] == 0.0
        third.close()
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


def _forged(tmp_path: Path, change: Any) -> tuple[Hub, Path]:
    """A hub whose index file was written, with the key, from a snapshot ``change`` spoiled
    (a file of another build, or forged by whoever holds the ledger key)."""
    hub, _clock, path, _ = _saved(tmp_path)
    detector_ = hub._detector
    key = detector_._file_key()
    assert key is not None
    snapshot = read_index(path, key)
    assert snapshot is not None
    write_index(path, key, change(snapshot))
    return hub, path


def _footprints(snapshot: IndexSnapshot, **parts: Any) -> IndexSnapshot:
    volumes = snapshot.volumes
    spoiled = dataclasses.replace(
        volumes, footprints=dataclasses.replace(volumes.footprints, **parts)
    )
    return dataclasses.replace(snapshot, volumes=spoiled)


def _one_key_twice(snapshot: IndexSnapshot) -> IndexSnapshot:
    volumes = dataclasses.replace(snapshot.volumes, ids=[snapshot.volumes.ids[0]] * len(snapshot))
    return dataclasses.replace(
        snapshot, prefixes=[snapshot.prefixes[0]] * len(snapshot), volumes=volumes
    )


@pytest.mark.parametrize(
    ("name", "change", "why"),
    [
        ("offsets", lambda s: _footprints(s, offsets=s.volumes.footprints.offsets * 3), "offsets"),
        ("kinds", lambda s: _footprints(s, kinds=s.volumes.footprints.kinds + 7), "kinds"),
        ("width", lambda s: dataclasses.replace(s, numbers=s.numbers[:, :5]), "index_numbers"),
        ("short", lambda s: dataclasses.replace(s, versions=s.versions[:-1]), "versions"),
        (
            "given",
            lambda s: _footprints(s, given={0: np.array([0, 99])}),
            "given",
        ),
        ("twice", _one_key_twice, "load"),
    ],
)
def test_a_tagged_file_whose_parts_disagree_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, change: Any, why: str
) -> None:
    """Written with the key but spoiled (by another build of the writer, or by whoever holds
    the ledger key): refused, never loaded wrong, never a crash at the start."""
    caplog.set_level(logging.WARNING, "deconflict.detector")
    hub, _path = _forged(tmp_path, change)
    expected = _walked(hub.store)
    assert _rebuilt(hub) == expected
    assert hub.rebuild_times["from_file"] == 0.0
    assert why in _refused(caplog)[-1]
    hub.close()


def test_a_file_of_another_build_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, "deconflict.detector")
    monkeypatch.setitem(index_file._LAYOUT, "width", 99)
    hub, _clock, _path, expected = _saved(tmp_path)
    monkeypatch.setitem(index_file._LAYOUT, "width", WIDTH)
    assert _rebuilt(hub) == expected
    assert "another version of deconflict" in _refused(caplog)[-1]
    hub.close()


def test_garbage_of_any_shape_is_refused_never_raised(tmp_path: Path) -> None:
    """Untagged files crafted to make the reader allocate, recurse or index out of range."""
    magic = b"deconflict index 1\n"

    def header(value: Any) -> bytes:
        text = json.dumps(value).encode()
        return magic + len(text).to_bytes(8, "little") + text + b"\0" * 64

    layout = index_file._LAYOUT
    cases = [
        header({"layout": layout, "texts": 0, "unusual": 0, "arrays": [["t", "<f8", [2**40]]]}),
        header({"layout": layout, "texts": 2**62, "unusual": 0, "arrays": []}),
        header({"layout": layout, "texts": -1, "unusual": 0, "arrays": []}),
        header([1, 2]),
        header("x"),
        magic + (5).to_bytes(8, "little") + b"[" * 5,
        header({"layout": layout, "texts": 0, "unusual": 0, "arrays": [["t", "O", [1]]]}),
        magic + (2_000).to_bytes(8, "little") + b"[" * 2_000,
        magic + (2**63).to_bytes(8, "little"),
    ]
    path = tmp_path / "x.index"
    for data in cases:
        path.write_bytes(data)
        with pytest.raises(IndexFileRefused):
            read_index(path, b"k" * 32)


def test_a_replay_that_fails_leaves_no_index_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails while the rows after the file are applied: the index half brought up
    to date is dropped (the next pass rebuilds), so no conflict with what it missed is lost."""
    hub, clock = make_hub(tmp_path)
    hub.tick()
    hub.file_notice("usaf", [vol("a", lon=37.0)], "air", "N1")
    hub.process()
    assert hub.save_index()
    hub.file_notice("usaf", [vol("b", lon=39.0)], "air", "N2")  # after the file's position
    hub.process()
    hub = _reopen(hub, tmp_path / "hub.db", clock)

    def gone(*_: Any, **__: Any) -> Any:
        raise StoreUnavailable("the database went away")

    monkeypatch.setattr(hub.store, "get_notice_version", gone)
    monkeypatch.setattr(hub.store, "get_notices", gone)
    with pytest.raises(StoreUnavailable):
        hub.process()
    assert not hub._detector.built
    monkeypatch.undo()
    hub.file_notice("faf", [vol("f", lon=39.0)], "air", "F1")  # meets N2
    found = hub.process().new_conflicts
    assert [(c.a.record_key, c.b.record_key) for c in found] == [("faf/F1", "usaf/N2")]
    hub.close()


def test_numbers_come_back_as_a_rebuild_from_the_store_gives_them(tmp_path: Path) -> None:
    """A whole float filed (1000.0 m) is written 1000 in the store and read back an integer:
    the index holds the integer from the filing on, so the file does too, and a conflict's
    detail is the same text before and after a restart."""
    hub, clock = make_hub(tmp_path)
    hub.tick()
    hub.file_notice("usaf", [vol("a", lon=39.0)], "air", "N1")
    first = hub.process()
    hub.file_notice("faf", [vol("f", lon=39.0)], "air", "F1")
    before = hub.process().new_conflicts
    assert hub.save_index()
    hub = _reopen(hub, tmp_path / "hub.db", clock)
    hub.file_notice("faf", [vol("g", lon=39.0)], "air", "G1")
    after = hub.process().new_conflicts
    assert hub.rebuild_times["from_file"] == 1.0
    found = {key: json.dumps(volume) for key, (_, volume) in _rebuilt(hub).items()}
    walked = {key: json.dumps(volume) for key, (_, volume) in _walked(hub.store).items()}
    assert found == walked
    assert '"lower_m": 1000,' in found["notice:usaf/N1:a"]
    assert first.notifications is not None
    assert json.dumps(dataclasses.asdict(before[0].detail)) == json.dumps(
        dataclasses.asdict(after[0].detail)
    )
    hub.close()


def test_an_id_the_store_kept_from_before_the_id_alphabet_is_written_and_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A volume id with a lone surrogate (a store older than intake's alphabet may hold one:
    orjson will not write it) goes through the file and back; and a write that fails for any
    reason still lets the lease go."""
    hub, clock = make_hub(tmp_path)
    hub.tick()
    hub.file_notice("usaf", [vol("ab")], "air", "N1")
    hub.close()
    with sqlite3.connect(tmp_path / "hub.db") as db:
        for table in ("notices", "notice_versions"):
            db.execute(
                f'UPDATE {table} SET volumes = replace(volumes, \'"id":"ab"\', '
                '\'"id":"a\\ud800b"\')'
            )
    db.close()
    hub = Hub.open(tmp_path / "hub.db", clock)
    wall = [1_000.0]
    worker = DetectorWorker(hub, wall=lambda: wall[0])
    assert worker.step() is not None
    worker.release()  # written as it lets go
    with Hub.open(tmp_path / "hub.db", clock) as again:
        again.process()
        assert again.rebuild_times["from_file"] == 1.0
        assert sorted(again._detector.index._slots) == ["notice:usaf/N1:a\ud800b"]
    # A write that fails, not for the disk's sake: logged, and the lease let go all the same.
    monkeypatch.setattr(index_file, "write_index", _broken)
    monkeypatch.setattr(detector, "write_index", _broken)
    assert worker.step() is not None
    worker.release()
    other = Hub.open(tmp_path / "hub.db", clock)
    assert other.store.acquire_lease(wall[0] + 1, 30.0, None, 12345) is not None
    other.close()
    hub.close()


def _broken(*_: Any) -> int:
    raise TypeError("not written")


def test_a_write_that_would_fill_the_disk_is_not_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is a cache beside the database: a write that would leave less than 256 MB
    (or its own size) free is not made, and the file there is kept."""
    hub, _clock, path, _ = _saved(tmp_path)
    before = path.read_bytes()
    hub.file_notice("faf", [vol("later", lon=35.0)], "air", "L1")
    hub.process()
    real = shutil.disk_usage

    def nearly_full(folder: Any) -> Any:
        usage = real(folder)
        return usage._replace(free=200 << 20)

    monkeypatch.setattr(index_file.shutil, "disk_usage", nearly_full)
    with pytest.raises(OSError, match=r"would leave .* MB free"):
        hub.save_index()
    assert path.read_bytes() == before
    hub.close()


def test_an_index_rebuilt_from_the_store_is_written_soon_one_read_back_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash soon after a start that found no file must not cost the next start the same
    rebuild: the file is due a minute after a rebuild from the store, moved on or not; after
    a start from the file, only once moved on and the period passed."""
    monkeypatch.setattr(detector, "_COLD_WRITE_S", 0.0)
    hub, clock = make_hub(tmp_path)
    hub.tick()
    hub.file_notice("usaf", [vol("a")], "air", "N1")
    wall = [1_000.0]
    worker = DetectorWorker(hub, wall=lambda: wall[0], index_every_s=3_600.0)
    assert worker.step(tick=True) is not None  # rebuilt from the store: written at this tick
    worker.wait_index_written()
    path = _index_path(hub)
    assert path.exists()
    written = path.stat().st_mtime_ns
    assert worker.step(tick=True) is not None  # written since: not due for an hour
    worker.wait_index_written()
    assert path.stat().st_mtime_ns == written
    worker.release()
    hub = _reopen(hub, tmp_path / "hub.db", clock)
    again = DetectorWorker(hub, wall=lambda: wall[0], index_every_s=3_600.0)
    assert again.step(tick=True) is not None
    assert hub.rebuild_times["from_file"] == 1.0
    again.wait_index_written()
    path.unlink()  # so that a write would show
    hub.file_notice("usaf", [vol("b", lon=40.0)], "air", "N2")
    assert again.step(tick=True) is not None  # moved on, but not an hour since
    again.wait_index_written()
    assert not path.exists()
    again.release()
    hub.close()


def test_a_write_with_nothing_to_write_is_not_tried_at_every_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh store (nothing detected) or no ledger key yet: the write found nothing to do,
    and is not tried again before its period."""
    monkeypatch.setattr(detector, "_COLD_WRITE_S", 0.0)
    with Hub.open(tmp_path / "hub.db", SimulatedClock(T0)) as hub:
        tried = counted(hub._detector, "save", monkeypatch)
        wall = [1_000.0]
        worker = DetectorWorker(hub, wall=lambda: wall[0], index_every_s=3_600.0)
        for _ in range(4):
            assert worker.step(tick=True) is not None
            worker.wait_index_written()
        assert hub.index_save_due(3_600.0) is False
        worker.release()
    assert len(tried) <= 2  # once due after the rebuild, once as it lets go


def test_a_shelf_takes_ascending_distinct_slots_only() -> None:
    volumes = [
        Volume4D.build(f"v{i}", Circle((2.0, 48.0 + i), 500.0), 0, 300, T0, T0 + HOUR)
        for i in range(6)
    ]
    shelf = VolumeShelf([pack(volumes[:3]), pack(volumes[3:])])
    assert shelf.take(np.array([1, 4])).ids == ["v1", "v4"]
    assert shelf.take(np.array([0, 1, 2])).ids == ["v0", "v1", "v2"]
    assert len(shelf.take(np.array([], np.intp))) == 0
    for wrong in ([4, 1], [0, 0, 1]):
        with pytest.raises(ValueError, match="ascending and distinct"):
            shelf.take(np.array(wrong))
