"""A notice's entry, its committed content and its stored volumes are what the reference RFC 8785
serializer writes, for any notice (or refused where it refuses)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import SITES, footprints

from deconflict.errors import InvalidInput
from deconflict.geo import Circle, Corridor, Polygon, Volume4D
from deconflict.ledger import canonical, entries
from deconflict.model import Notice, NoticeState
from deconflict.store import codec
from deconflict.store.codec import (
    canonical_volumes,
    volume_to_dict,
    volumes_from_json,
    volumes_to_json,
)
from deconflict.store.ledger_entries import notice_values

T0 = 1_447_000_000.0

# Text as ids, parties and categories may hold it: non-ASCII, escapes, lone surrogates included.
texts = st.text(max_size=10) | st.sampled_from(["N1", "é", "\U0001f600", '"\\\n\x00', "\ud800"])
ids = texts.filter(str.strip)  # what the model takes as an id
# Altitudes and times: integral doubles (written as integers), fractions, tiny ones.
metres = st.sampled_from([0.0, 1_000.0, 0.5, 1e-5, 123.456, 900_000.0]) | st.floats(
    -500.0, 30_000.0
)
seconds = st.sampled_from([0.0, T0, T0 + 0.25, 1e-7]) | st.floats(0.0, 4e9)


@st.composite
def volumes(draw: st.DrawFn) -> Volume4D:
    site = SITES[draw(st.sampled_from(sorted(SITES)))]
    footprint = draw(footprints(site) | st.just(Circle((38.0, 35.0), 3_000.0)))
    lower = draw(metres)
    upper = lower + draw(st.sampled_from([1.0, 300.0, 0.125]) | st.floats(1.0, 10_000.0))
    start = draw(seconds)
    end = start + draw(st.sampled_from([60.0, 3_600.0, 0.5]) | st.floats(1.0, 86_400.0))
    return Volume4D.build(draw(ids), footprint, lower, upper, start, end)


@st.composite
def notices(draw: st.DrawFn) -> Notice:
    return Notice(
        id=draw(ids),
        party=draw(ids),
        volumes=tuple(draw(st.lists(volumes(), min_size=1, max_size=3, unique_by=lambda v: v.id))),
        category=draw(ids),
        filed_at_s=T0,
        version=draw(st.integers(1, 2**53 - 1) | st.sampled_from([1, 2])),
        state=draw(st.sampled_from(list(NoticeState))),
    )


def notice_content(notice: Notice) -> bytes:
    return entries.notice_content(notice_values(notice))


def notice_content_object(notice: Notice) -> dict[str, Any]:
    return entries.notice_content_object(notice_values(notice))


def notice_entry_object(kind: str, notice: Notice, at: str, commitment: str) -> dict[str, Any]:
    return entries.notice_entry_object(kind, notice_values(notice), at, commitment)


def _same(written, value) -> None:
    """``written()`` gives the reference's bytes for ``value``, or both refuse it."""
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError):
        with pytest.raises(InvalidInput):
            canonical(value)
        with pytest.raises(InvalidInput):
            written()
        return
    assert canonical(value) == expected
    assert written() == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notices())
def test_a_notice_content_is_its_canonical_json(notice):
    """The committed content: category, ids and every volume as the store keeps it."""
    _same(lambda: notice_content(notice), notice_content_object(notice))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(volumes(), min_size=1, max_size=3))
def test_the_store_keeps_volumes_as_their_canonical_json_and_reads_them_back(listed):
    """The text a notice's volumes are stored as is their canonical JSON (the commitment's), or,
    with none (a lone surrogate), JSON all the same; either reads back as the same volumes."""
    kept = tuple(listed)
    text = volumes_to_json(kept)
    try:
        expected = rfc8785.dumps([volume_to_dict(v) for v in kept]).decode()
    except (rfc8785.CanonicalizationError, ValueError):
        assert canonical_volumes(kept) is None
        text.encode()  # storable: escaped
    else:
        assert text == canonical_volumes(kept) == expected
        assert volumes_to_json(list(kept)) == expected  # not kept, written again: the same
    # Parsed (not the kept tuple, which reading the text now returns): the same volumes, to
    # the derived fields the engine uses, which is what lets the filing's be kept for reading.
    back = codec._parse_volumes(text)
    assert [volume_to_dict(v) for v in back] == [volume_to_dict(v) for v in kept]
    for parsed, filed in zip(back, kept, strict=True):
        a, b = parsed.footprint, filed.footprint
        assert (a.cap_rad, a.area_m2, a.radius_m) == (b.cap_rad, b.area_m2, b.radius_m)
        assert (a.centre == b.centre).all()
        assert (a.core_vectors == b.core_vectors).all()
        assert (parsed.altitude, parsed.window) == (filed.altitude, filed.window)
    if canonical_volumes(kept) is not None:
        # What filing kept: its footprints, not built again; its numbers of the types reading
        # the text gives (a whole float written as an integer is read as one).
        read = volumes_from_json(text)
        assert all(r.footprint is k.footprint for r, k in zip(read, kept, strict=True))
        assert [_typed(v) for v in read] == [_typed(v) for v in back]


def _typed(volume: Volume4D) -> str:
    """A volume's dict as JSON text: an integer and a float of one value differ."""
    return json.dumps(volume_to_dict(volume))


def test_volumes_written_are_read_back_without_building_them_again():
    """The store's text of a tuple of volumes, read back, gives that tuple (what parsing the
    text builds, equal field by field), unless a footprint is of a kind the store does not
    build (then the text is parsed)."""
    volume = Volume4D.build("v", Circle((38.125, 35.5), 2_000.0), 1_000.0, 3_000.0, T0, T0 + 60)
    kept = (volume,)
    text = volumes_to_json(kept)
    read = volumes_from_json(text)
    assert read[0].footprint is volume.footprint  # not built again
    parsed = codec._parse_volumes(text)
    assert parsed is not kept
    assert [volume_to_dict(v) for v in parsed] == [volume_to_dict(v) for v in kept]
    # 1000.0 m is written 1000 and read an integer: what was kept says so too.
    assert [_typed(v) for v in read] == [_typed(v) for v in parsed]
    assert read[0].altitude.lower_m == 1_000
    assert type(read[0].altitude.lower_m) is int
    kept_again = (Volume4D.build("v", Circle((38.125, 35.5), 2_000.0), 1_000.5, 3_000, 1, 60),)
    assert volumes_from_json(volumes_to_json(kept_again)) is kept_again  # no whole float
    assert parsed[0].footprint.cap_rad == volume.footprint.cap_rad
    odd = _Odd((38.0, 35.0), 3_000.0)
    odd.shape = Circle((38.0, 35.25), 3_000.0).to_geojson()
    unusual = (Volume4D.build("w", odd, 0.0, 1.0, T0, T0 + 60),)
    back = volumes_from_json(volumes_to_json(unusual))
    assert back is not unusual
    assert type(back[0].footprint) is Circle


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    notices(),
    st.sampled_from(["notice.filed", "notice.amended", "notice.cancelled"]) | texts,
    st.sampled_from(["2015-11-16T20:00:00Z", "2015-11-16T20:00:00.250000Z"]) | texts,
    st.sampled_from(["ab" * 32]) | texts,
)
def test_a_notice_entry_is_its_canonical_json(notice, kind, at, commitment):
    """The public entry: type, notice, version, party, state, time and commitment."""
    _same(
        lambda: canonical(notice_entry_object(kind, notice, at, commitment)),
        notice_entry_object(kind, notice, at, commitment),
    )


@pytest.mark.parametrize(
    "footprint",
    [
        Circle((38.0, 35.0), 3_000.0),
        Circle((-179.99, -0.00001), 0.5),
        Corridor([(38.0, 35.0), (38.5, 35.25), (39.125, 35.5)], 1_500.5),
        Polygon([(38.0, 35.0), (38.5, 35.0), (38.5, 35.5), (38.0, 35.5)]),
        Polygon([(179.5, 10.0), (-179.5, 10.0), (-179.5, 10.5)]),
    ],
    ids=["circle", "small-circle", "corridor", "polygon", "antimeridian"],
)
def test_each_footprint_kind_is_written_as_its_geojson(footprint):
    """The three kinds give their GeoJSON's canonical JSON (a circle narrower than intake now
    takes among them: a store may hold one from before)."""
    volume = Volume4D.build("v", footprint, 1_000.0, 8_000.5, T0 + 0.25, T0 + 3600, intake=False)
    notice = Notice("N1", "RU", (volume,), "air-activity", T0)
    _same(lambda: notice_content(notice), notice_content_object(notice))


class _Odd(Circle):
    """A footprint kind the store does not build, with the GeoJSON it is given."""

    __slots__ = ("shape",)

    def to_geojson(self) -> dict[str, object]:
        return self.shape


def test_an_unknown_footprint_or_shape_is_written_from_its_geojson():
    """A footprint of another kind is written from its GeoJSON, whatever it holds (another
    key, one sorting before ``geometry``, not a list, a non-ASCII key)."""
    shapes = [
        Circle((38.5, 35.25), 3_000.0).to_geojson(),
        {"geometry": {"type": "Point", "coordinates": [38.0, 35.0]}, "bbox": [1, 2]},
        {"geometry": {"type": "Point", "coordinates": [38.0, 35.0], "crs": None}},
        {"geometry": {"type": "Point", "coordinates": (38.0, 35.0)}},
        {"geometry": None},
        {"geometry": {"type": "Point", "coordinates": [[1.5, [2, "x"]], {"k": 1.0}]}, "é": 1},
    ]
    for shape in shapes:
        footprint = _Odd((38.0, 35.0), 3_000.0)
        footprint.shape = shape
        volume = Volume4D.build("v", footprint, 0.0, 1.0, T0, T0 + 60)
        notice = Notice("N1", "RU", (volume,), "air-activity", T0)  # volumes are immutable: new
        _same(lambda n=notice: notice_content(n), notice_content_object(notice))
