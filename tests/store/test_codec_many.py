"""Many stored volume texts read at once are the volumes each text reads back as alone."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import data
from deconflict.engine.columns import Rows, numbers_of
from deconflict.errors import CorruptRecord, InvalidInput
from deconflict.store.codec import (
    _parse_volumes,
    volume_columns_from_json_many,
    volumes_from_json_many,
    volumes_to_json,
)


def test_many_texts_read_back_as_each_alone() -> None:
    volumes = [entry.volume for entry in data.every_region(3, 60)]
    # One volume a record, and records of several volumes.
    texts = [volumes_to_json((v,)) for v in volumes[:90]]
    texts += [volumes_to_json(tuple(volumes[i : i + 3])) for i in range(90, len(volumes), 3)]
    many = volumes_from_json_many(texts)
    assert len(many) == len(texts)
    for read, text in zip(many, texts, strict=True):
        alone = _parse_volumes(text)
        assert [v.id for v in read] == [v.id for v in alone]
        for one, other in zip(read, alone, strict=True):
            assert (one.altitude, one.window) == (other.altitude, other.window)
            assert one.footprint.to_geojson() == other.footprint.to_geojson()
            assert one.footprint.cap_rad == other.footprint.cap_rad
            assert np.array_equal(one.footprint.core_vectors, other.footprint.core_vectors)
            assert np.array_equal(one.footprint.centre, other.footprint.centre)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '[{"id": "v", "footprint": {"geometry": {"type": "Blob"}}}]',
        '[{"id": "v", "footprint": {"geometry": {"type": "Point", "coordinates": [1, 99]},'
        ' "radius_m": 5}, "lower_m": 0, "upper_m": 10, "start_s": 0, "end_s": 10}]',
        '[{"id": "v", "footprint": {"geometry": {"type": "Point", "coordinates": [1, 2]},'
        ' "radius_m": 5}, "lower_m": 10, "upper_m": 0, "start_s": 0, "end_s": 10}]',
    ],
)
def test_a_text_that_does_not_read_is_the_stores_fault(text: str) -> None:
    good = volumes_to_json(
        (next(data.region_entries(np.random.default_rng(1), "hub", 1, "g")).volume,)
    )
    with pytest.raises(CorruptRecord) as caught:
        volumes_from_json_many([good, text])
    assert not isinstance(caught.value, InvalidInput)


def test_the_numbers_in_arrays_are_the_volumes_own() -> None:
    """The columns the bulk reader gives beside the volumes (for the engine's index) are what
    the index reads of each volume alone: the same rows, to the last bit, in the same order;
    also for a volume whose altitude the JSON gives as an integer."""
    rng = np.random.default_rng(5)
    volumes = [entry.volume for entry in data.region_entries(rng, "corridor", 40, "c")]
    texts = [volumes_to_json(tuple(volumes[i : i + 2])) for i in range(0, len(volumes), 2)]
    texts.append(texts[0].replace('"lower_m":', '"lower_m": 0, "x":', 1))
    columns = volume_columns_from_json_many(texts)
    read = [v for record in columns.volumes for v in record]
    expected = Rows.of(read, [0] * len(read)).numbers
    rows = numbers_of(columns.windows, columns.bands, columns.footprints)
    np.testing.assert_array_equal(rows, expected, strict=True)
