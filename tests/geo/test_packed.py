"""Volumes kept as arrays are made, when asked for, the volumes reading their text gives: the
same footprints to the last bit, the same numbers of the same types; and an index holding them
so finds what one holding the objects finds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from tests.strategies import entry_sets

from benchmarks import data
from deconflict.engine import SeparationMinima, VolumeIndex, brute_conflicts_with, brute_pairs
from deconflict.engine.columns import numbers_of
from deconflict.geo import Circle, Volume4D
from deconflict.geo.packed import VolumeShelf
from deconflict.store.codec import (
    _parse_volumes,
    volume_columns_from_json_many,
    volumes_to_json,
)


def assert_same_volume(made: Volume4D, read: Volume4D) -> None:
    assert made.id == read.id
    for mine, theirs in (
        (made.altitude.lower_m, read.altitude.lower_m),
        (made.altitude.upper_m, read.altitude.upper_m),
        (made.window.start_s, read.window.start_s),
        (made.window.end_s, read.window.end_s),
    ):
        assert (type(mine), mine) == (type(theirs), theirs)
    a, b = made.footprint, read.footprint
    assert (type(a), a.radius_m, a.cap_rad) == (type(b), b.radius_m, b.cap_rad)
    np.testing.assert_array_equal(a.core, b.core, strict=True)
    np.testing.assert_array_equal(a.core_vectors, b.core_vectors, strict=True)
    np.testing.assert_array_equal(a.centre, b.centre, strict=True)
    assert a.given() == b.given()
    assert a.to_geojson() == b.to_geojson()


def texts_of(volumes: list[Volume4D], per_record: int = 2) -> list[str]:
    return [
        volumes_to_json(tuple(volumes[i : i + per_record]))
        for i in range(0, len(volumes), per_record)
    ]


def test_volumes_made_from_the_arrays_are_the_ones_their_texts_read_as() -> None:
    volumes = [entry.volume for entry in data.every_region(11, 40)]
    texts = texts_of(volumes)
    # Whole numbers and fractions: read back as the integers and floats the text holds.
    texts.append(texts[0].replace('"lower_m":', '"lower_m":12.5,"x":', 1))
    columns = volume_columns_from_json_many(texts)
    packed = columns.packed
    assert not packed.made  # every one kept as arrays
    read = [v for text in texts for v in _parse_volumes(text)]
    assert len(packed) == len(read) == sum(columns.counts)
    for i, expected in enumerate(read):
        assert_same_volume(packed.volume(i), expected)
        assert packed.footprint(i).to_geojson() == expected.footprint.to_geojson()
    assert type(packed.volume(len(read) - 2).altitude.lower_m) is float


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("upper_m", 2**53 + 1),  # the float 2**53: held exactly, it would seem
        ("lower_m", -(2**53 + 1)),
        ("upper_m", 2**60 + 1),
        ("upper_m", 10**20),  # past 64 bits: orjson would read a float, json the integer
    ],
)
def test_an_integer_a_float_does_not_hold_is_kept_as_read(part: str, value: int) -> None:
    """An integer of 2**53 or more (a record of another day's ranges) would not come back from
    a float: that page's volumes are made at once, as their text reads."""
    volume = next(data.region_entries(np.random.default_rng(2), "hub", 1, "h")).volume
    text = volumes_to_json((volume,)).replace(f'"{part}":', f'"{part}":{value},"y":', 1)
    columns = volume_columns_from_json_many([text])
    assert columns.packed.made
    made = columns.packed.volume(0)
    assert getattr(made.altitude, part) == value
    assert_same_volume(made, _parse_volumes(text)[0])


def test_a_shelf_numbers_its_pages_as_one() -> None:
    rng = np.random.default_rng(4)
    volumes = [entry.volume for entry in data.region_entries(rng, "hub", 9, "h")]
    pages = [
        volume_columns_from_json_many(texts_of(volumes[:4], 1)).packed,
        volume_columns_from_json_many([]).packed,
        volume_columns_from_json_many(texts_of(volumes[4:], 3)).packed,
    ]
    shelf = VolumeShelf(pages)
    assert len(shelf) == 9
    for i, volume in enumerate(volumes):
        assert shelf.volume(i).id == volume.id
        assert shelf.footprint(i).to_geojson() == volume.footprint.to_geojson()
    with pytest.raises(IndexError):
        shelf.volume(9)
    with pytest.raises(IndexError):
        shelf.volume(-1)


def shelved(entries: list) -> VolumeIndex:  # type: ignore[type-arg]
    columns = volume_columns_from_json_many([volumes_to_json((e.volume,)) for e in entries])
    return VolumeIndex.of(
        [e.key for e in entries],
        [e.party for e in entries],
        VolumeShelf([columns.packed]),
        numbers_of(columns.windows, columns.bands, columns.footprints),
    )


def keyed(pairs):  # type: ignore[no-untyped-def]
    return sorted(tuple(sorted((a.key, b.key))) for a, b in pairs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry_sets())
def test_an_index_of_a_shelf_finds_what_brute_force_finds(entries) -> None:  # type: ignore[no-untyped-def]
    """At the hard sites (poles, antimeridian, touching margins): all pairs and each query."""
    minima = SeparationMinima(9_260.0, 300.0, 600.0)
    index = shelved(entries)
    assert keyed(index.all_pairs(minima)) == keyed(brute_pairs(entries, minima))
    for entry in entries[:4]:
        found = index.conflicts_with(entry.volume, entry.party, minima)
        expected = brute_conflicts_with(entries, entry, minima)
        assert sorted(e.key for e in found) == sorted(e.key for e in expected)
        for one in found:  # an entry names the volume its text reads as
            (original,) = [e.volume for e in entries if e.key == one.key]
            assert_same_volume(one.volume, _parse_volumes(volumes_to_json((original,)))[0])


def test_a_shelf_slot_removed_and_taken_again_holds_the_new_volume() -> None:
    rng = np.random.default_rng(6)
    entries = list(data.region_entries(rng, "hub", 20, "p"))
    index = shelved(entries)
    gone = entries[3]
    assert index.remove(gone.key)
    assert gone.key not in index
    newcomer = Volume4D.build("new", Circle((10.0, 50.0), 100.0), 0, 100, 0, 60)
    index.insert("new", "q", newcomer)  # takes the freed slot
    entry = index.get("new")
    assert entry is not None
    assert entry.volume is newcomer
    assert index.conflicts_with(newcomer, "z") == [entry]
    assert len(index) == len(entries)


def test_a_page_whose_volumes_are_all_removed_is_let_go() -> None:
    """Notices end: the arrays a hub read at its start go with the last of their volumes."""
    rng = np.random.default_rng(9)
    entries = list(data.region_entries(rng, "hub", 30, "p"))
    pages = [
        volume_columns_from_json_many([volumes_to_json((e.volume,)) for e in entries[at : at + 10]])
        for at in (0, 10, 20)
    ]
    shelf = VolumeShelf([page.packed for page in pages])
    index = VolumeIndex.of(
        [e.key for e in entries],
        [e.party for e in entries],
        shelf,
        np.concatenate([numbers_of(p.windows, p.bands, p.footprints) for p in pages]),
    )
    for entry in entries[10:19]:
        index.remove(entry.key)
    assert shelf.pages_held == 3  # one of the middle page's volumes is still indexed
    index.remove(entries[19].key)
    assert shelf.pages_held == 2
    with pytest.raises(LookupError):
        shelf.volume(12)
    shelf.release(12)  # again: nothing
    assert shelf.pages_held == 2
    # A slot of the page let go, taken again, holds its new volume; the rest still read.
    newcomer = Volume4D.build("new", Circle((10.0, 50.0), 100.0), 0, 100, 0, 60)
    index.insert("new", "q", newcomer)
    index.remove("new")
    assert shelf.pages_held == 2
    remaining = entries[:10] + entries[20:]
    minima = SeparationMinima(9_260.0, 300.0, 600.0)
    for entry in remaining[:5] + remaining[-5:]:
        found = index.conflicts_with(entry.volume, entry.party, minima)
        expected = brute_conflicts_with(remaining, entry, minima)
        assert sorted(e.key for e in found) == sorted(e.key for e in expected)
