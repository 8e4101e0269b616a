"""Footprints built many at once, from what a store kept: the start-up rebuild's path.

A footprint read back from the store was validated when it was accepted (simple, not
degenerate, within the caps of its day); what reading it back must do is derive its core's
points, their n-vectors, its centre and its bounding cap. Done one object at a time that is
some 50 µs a footprint, most of it the cost of numpy's and pyproj's calls on a handful of
numbers; done here over all of them at once (one ``Geod.inv`` for every edge, one pass of
numpy for every point), the objects are then only assembled. Each footprint is the one its
class's constructor builds from the same positions, to the last bit
(``tests/geo/test_bulk.py``): the detector must find the same conflicts after a restart.

Anything the fast path does not take as it is (a position that is not two finite numbers in
range, a ring given twice the same vertex in a row, an outline so long that its spacing
grows) is built by the constructor instead, whose error then names what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from deconflict.geo.footprint import (
    DENSIFY_M,
    GEOD,
    MAX_DENSIFIED,
    MAX_EXTENT_DEG,
    Circle,
    Corridor,
    Footprint,
    GeoLimits,
    Polygon,
    cap_pads,
    centres_and_spreads,
)
from deconflict.geo.packed import KINDS, PackedFootprints
from deconflict.geo.sphere import nvectors

__all__ = [
    "SUMMARY",
    "Shape",
    "footprint",
    "footprints",
    "footprints_packed",
    "footprints_summarised",
    "summary",
]

Array = NDArray[np.float64]
Index = NDArray[np.intp]

#: What :func:`footprints_summarised` gives of each footprint beside it, a row of numbers each:
#: its bounding cap's angular radius, its width (``radius_m``), its centre's n-vector (3) and
#: its core's first point's n-vector (3): what the engine's index keeps of a footprint.
SUMMARY = (
    "cap_rad",
    "radius_m",
    "centre_x",
    "centre_y",
    "centre_z",
    "first_x",
    "first_y",
    "first_z",
)


@dataclass(frozen=True, slots=True)
class Shape:
    """A footprint as a store keeps it: its kind, its positions as given ([lon, lat] pairs; a
    circle's one, a ring without or with its closing position) and its width (a circle's
    radius, a corridor's half-width, 0 for a polygon)."""

    kind: str
    positions: Sequence[Sequence[float]]
    width_m: float


def footprint(shape: Shape, limits: GeoLimits) -> Footprint:
    """One footprint, by its class's constructor, errors and all."""
    if shape.kind == "circle":
        (centre,) = shape.positions
        return Circle(centre, shape.width_m, limits)
    if shape.kind == "corridor":
        return Corridor(shape.positions, shape.width_m, limits)
    if shape.kind == "polygon":
        return Polygon(shape.positions, limits, known_simple=True)
    raise ValueError(f"unknown footprint kind {shape.kind!r}")


def summary(footprint: Footprint) -> list[float]:
    """The :data:`SUMMARY` of one footprint."""
    return [
        footprint.cap_rad,
        footprint.radius_m,
        *footprint.centre.tolist(),
        *footprint.core_vectors[0].tolist(),
    ]


def footprints(shapes: Sequence[Shape], limits: GeoLimits) -> list[Footprint]:
    """The footprints of ``shapes``, in order, as read back from a store under ``limits``.
    Simplicity is not checked again (``known_simple``), nor is a ring's area above nothing
    (what intake refused as degenerate): a store's record was accepted once. The fast path
    takes only limits with no cap on area (the store's: ``deconflict.store.codec``)."""
    return footprints_summarised(shapes, limits)[0]


def footprints_summarised(
    shapes: Sequence[Shape], limits: GeoLimits
) -> tuple[list[Footprint], Array]:
    """:func:`footprints`, and their :data:`SUMMARY` rows (n x 8), taken from the arrays the
    fast path built them from (the same numbers to the last bit), not read back one by one."""
    packed, rows = footprints_packed(shapes, limits)
    return [packed.footprint(i) for i in range(len(shapes))], rows


def footprints_packed(shapes: Sequence[Shape], limits: GeoLimits) -> tuple[PackedFootprints, Array]:
    """The footprints of ``shapes`` kept as the arrays they are built from
    (:class:`~deconflict.geo.packed.PackedFootprints`, each made an object when asked for),
    and their :data:`SUMMARY` rows (n x 8). A shape the fast path leaves is built by its
    constructor now, which raises for one that is wrong."""
    count = len(shapes)
    rows_of = np.empty((count, len(SUMMARY)))
    point_counts = np.zeros(count, dtype=np.intp)
    widths, caps, centres = np.zeros(count), np.zeros(count), np.zeros((count, 3))
    table: Array = np.empty((0, 5))
    given: dict[int, Index] = {}
    left = np.ones(count, dtype=np.bool_)
    if limits.max_area_m2 != math.inf:
        columns = None
    else:
        columns = _packed(shapes, limits.max_vertices) or _one_by_one(shapes, limits)
    if columns is not None and len(columns.taken):
        taken = columns.taken
        made = _build(columns)
        table = made.table
        point_counts[taken] = np.diff(made.offsets)
        widths[taken], caps[taken], centres[taken] = columns.widths, made.caps, made.centres
        rows_of[taken] = made.summaries
        left[taken[made.ok]] = False
        given = {int(taken[j]): rows for j, rows in made.given.items()}
    built: dict[int, Footprint] = {}
    for i in np.flatnonzero(left).tolist():  # the constructor's: it builds the same, or raises
        built[i] = footprint(shapes[i], limits)
        rows_of[i] = summary(built[i])
    codes = np.array([_CODES.get(shape.kind, 0) for shape in shapes], dtype=np.uint8)
    offsets = np.concatenate(([0], np.cumsum(point_counts)))
    return PackedFootprints(table, offsets, codes, widths, caps, centres, given, built), rows_of


_CODES = {cls.kind: code for code, cls in enumerate(KINDS)}


class _Columns(NamedTuple):
    """The shapes the fast path takes (``taken``: their places in the list given), as arrays:
    their kinds, every position (m x 2, a ring without its closing one), how many positions
    each has, and their widths."""

    taken: Index
    kinds: list[str]
    given: Array
    counts: Index
    widths: Array


#: The types of a number as JSON reads it (not bool, a subclass of int).
_NUMBER = (float, int)
_NUMBERS = frozenset(_NUMBER)
_PAIR = (list, tuple)
_PAIRS = frozenset(_PAIR)
#: The fewest distinct positions of each kind.
_LEAST = {"circle": 1, "corridor": 2, "polygon": 3}


def _packed(shapes: Sequence[Shape], max_vertices: int) -> _Columns | None:
    """The columns of the shapes the fast path takes, every check done over all of them at
    once (a set of the types met, then arrays), or None if one is not of the types a store's
    JSON reads as (a pair of numbers a position, a number a width): :func:`_one_by_one` sorts
    those out. A shape of the right types that the fast path does not take (an unknown kind,
    a width that is not positive, too few positions, a ring closed twice or two distinct
    positions at most among its first three) is left to the constructor."""
    positions = [shape.positions for shape in shapes]
    widths_given = [shape.width_m for shape in shapes]
    if not set(map(type, widths_given)) <= _NUMBERS or not set(map(type, positions)) <= _PAIRS:
        return None
    pairs = list(chain.from_iterable(positions))
    if not set(map(type, pairs)) <= _PAIRS or not set(map(len, pairs)) <= {2}:
        return None
    flat = list(chain.from_iterable(pairs))
    if not set(map(type, flat)) <= _NUMBERS:
        return None
    try:
        given = np.array(flat, dtype=np.float64).reshape(len(pairs), 2)
        widths = np.array(widths_given, dtype=np.float64)
    except OverflowError:  # an integer past a float's range
        return None
    kinds = [shape.kind for shape in shapes]
    counts = np.fromiter(map(len, positions), np.intp, len(shapes))
    starts = np.cumsum(counts) - counts
    least = np.array([_LEAST.get(kind, 0) for kind in kinds], dtype=np.intp)
    polygon = np.array([kind == "polygon" for kind in kinds], dtype=np.bool_)
    circle = least == 1
    # A ring given with its closing position: without it.
    ends = starts + counts - 1
    closing = polygon & (counts > 1)
    closing[closing] = (given[starts[closing]] == given[ends[closing]]).all(axis=1)
    keep = np.ones(len(given), dtype=np.bool_)
    keep[ends[closing]] = False
    counts = counts - closing
    ends = starts + counts - 1
    ok = (least > 0) & (least <= counts) & (counts <= max_vertices) & np.isfinite(widths)
    ok &= (widths > 0) | (polygon & (widths == 0))
    ok &= ~circle | (counts == 1)
    ring = polygon & ok
    # Closed twice; or its first and third the same (perhaps fewer than 3 distinct).
    ring[ring] = ~(given[starts[ring]] == given[ends[ring]]).all(axis=1) & ~(
        given[starts[ring]] == given[starts[ring] + 2]
    ).all(axis=1)
    ok &= ~polygon | ring
    keep &= np.repeat(ok, counts + closing)
    taken = np.flatnonzero(ok)
    return _Columns(
        taken,
        [kinds[i] for i in taken.tolist()],
        given[keep],
        counts[taken],
        widths[taken],
    )


def _one_by_one(shapes: Sequence[Shape], limits: GeoLimits) -> _Columns | None:
    """:func:`_packed`'s columns, each shape checked on its own (:func:`_plain`): what a page
    with a shape of other types than a store's JSON reads as takes."""
    taken: list[int] = []
    rows: list[Sequence[float]] = []
    sizes: list[int] = []
    widths: list[float] = []
    for i, shape in enumerate(shapes):
        positions = shape.positions
        if shape.kind == "polygon" and len(positions) > 1 and positions[0] == positions[-1]:
            positions = positions[:-1]
        width = _plain(shape, positions, limits)
        if width is None:
            continue
        taken.append(i)
        rows.extend(positions)
        sizes.append(len(positions))
        widths.append(width)
    try:
        given = np.array(rows, dtype=np.float64).reshape(len(rows), 2)
    except (TypeError, ValueError, OverflowError):
        return None
    return _Columns(
        np.array(taken, dtype=np.intp),
        [shapes[i].kind for i in taken],
        given,
        np.array(sizes, dtype=np.intp),
        np.array(widths, dtype=np.float64),
    )


def _plain(shape: Shape, positions: Sequence[Sequence[float]], limits: GeoLimits) -> float | None:
    """The width as a float if the fast path takes ``shape`` as it is (a known kind, a width
    that is a positive number, or 0 for a polygon; enough distinct positions, not too many,
    each a pair of numbers), else None: for a page :func:`_packed` does not take whole."""
    width, kind = shape.width_m, shape.kind
    if type(width) not in _NUMBER:
        return None
    try:
        width = float(width)
    except OverflowError:
        return None
    if not math.isfinite(width):
        return None
    if kind == "circle":  # the most common: checked without a loop
        if width <= 0 or len(positions) != 1:
            return None
        p = positions[0]
        if type(p) not in _PAIR or len(p) != 2:
            return None
        return width if type(p[0]) in _NUMBER and type(p[1]) in _NUMBER else None
    least = _LEAST.get(kind)
    if least is None or not (width > 0 or (kind == "polygon" and width == 0)):
        return None
    if not least <= len(positions) <= limits.max_vertices:
        return None
    for p in positions:
        if type(p) not in _PAIR or len(p) != 2:
            return None
        if type(p[0]) not in _NUMBER or type(p[1]) not in _NUMBER:
            return None
    if len({(p[0], p[1]) for p in positions}) < least:
        return None
    if kind == "polygon" and positions[0] == positions[-1]:  # closed twice: the constructor's
        return None
    return width


class _Built(NamedTuple):
    """What the fast path made of the shapes it took: which it built (``ok``: the others are
    the constructor's), their core points (``table``, m x 5), each one's offsets into them (and
    the end), the rows of its given positions where points were added (by its place among the
    taken), its bounding cap, centre and :data:`SUMMARY` row."""

    ok: NDArray[np.bool_]
    table: Array
    offsets: Index
    given: dict[int, Index]
    caps: Array
    centres: Array
    summaries: Array


def _build(columns: _Columns) -> _Built:
    """The fast path, over the shapes ``columns`` holds."""
    kinds, given, counts, widths = columns.kinds, columns.given, columns.counts, columns.widths
    starts = np.cumsum(counts) - counts
    ok = np.ones(len(kinds), dtype=np.bool_)
    bad = ~(np.isfinite(given).all(axis=1) & (np.abs(given[:, 0]) <= 180.0))
    bad |= ~(np.abs(given[:, 1]) <= 90.0)
    owner = np.repeat(np.arange(len(kinds)), counts)
    # A vertex repeated in a row: the constructor drops it (and a ring must keep 3 distinct).
    repeated = np.zeros(len(given), dtype=np.bool_)
    repeated[1:] = (given[1:] == given[:-1]).all(axis=1) & (owner[1:] == owner[:-1])
    ok[owner[bad | repeated]] = False
    closed = np.array([kind == "polygon" for kind in kinds])
    outlined = closed | np.array([kind == "corridor" for kind in kinds])
    points, offsets, given_rows = _densified(given, starts, counts, closed, outlined, ok)
    vectors = nvectors(points[:, 0], points[:, 1])
    point_counts = np.diff(offsets)
    centres, spreads, norms = centres_and_spreads(vectors, offsets[:-1], point_counts)
    caps = spreads + cap_pads(widths, point_counts)
    ok &= (norms >= 0.2) & np.isfinite(caps) & (np.degrees(caps) <= MAX_EXTENT_DEG)
    table = np.concatenate((points, vectors), axis=1)
    firsts = vectors[offsets[:-1]]
    single = point_counts == 1  # a point is its own centre
    summaries = np.empty((len(kinds), len(SUMMARY)))
    summaries[:, 0] = caps
    summaries[:, 1] = widths
    summaries[:, 2:5] = np.where(single[:, None], firsts, centres)
    summaries[:, 5:8] = firsts
    return _Built(ok, table, offsets, given_rows, caps, centres, summaries)


def _densified(
    given: Array,
    starts: Index,
    counts: Index,
    closed: NDArray[np.bool_],
    outlined: NDArray[np.bool_],
    ok: NDArray[np.bool_],
) -> tuple[Array, Index, dict[int, Index]]:
    """Every footprint's core points, as the constructor densifies them (one ``Geod.inv`` for
    every edge of every outline, then ``Geod.npts`` for each edge long enough to need points):
    the points, each footprint's offset into them (and the end), and for each footprint some
    point was added to, the rows of its given positions. ``ok`` is cleared for an
    outline whose spacing would grow past ``DENSIFY_M`` (left to the constructor)."""
    # The edges: each outline's consecutive positions, and a ring's last back to its first.
    edge_counts = np.where(outlined, counts - 1 + closed, 0)
    edge_owner = np.repeat(np.arange(len(counts)), edge_counts)
    edge_starts = np.cumsum(edge_counts) - edge_counts
    within = np.arange(len(edge_owner)) - np.repeat(edge_starts, edge_counts)
    heads = starts[edge_owner] + within
    tails = np.where(within + 1 == counts[edge_owner], starts[edge_owner], heads + 1)
    p, q = given[heads], given[tails]
    # From the lexicographically smaller end, as the constructor does.
    swap = (p[:, 0] > q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] > q[:, 1]))
    first = np.where(swap[:, None], q, p)
    second = np.where(swap[:, None], p, q)
    lengths = np.asarray(GEOD.inv(first[:, 0], first[:, 1], second[:, 0], second[:, 1])[2])
    lengths[~ok[edge_owner]] = 0.0  # a footprint left to the constructor: not a number, maybe
    totals = np.zeros(len(counts))
    np.add.at(totals, edge_owner, lengths)
    ok &= ~(totals / MAX_DENSIFIED > DENSIFY_M)
    added = np.ceil(lengths / DENSIFY_M).astype(np.intp) - 1
    added[~ok[edge_owner]] = 0
    if not (added > 0).any():
        offsets = np.concatenate(([0], np.cumsum(counts)))
        return given, offsets, {}
    # Rebuild the rows with the added points after the head of each long edge.
    long_edges = np.flatnonzero(added > 0)
    extra = np.zeros(len(given), dtype=np.intp)
    extra[heads[long_edges]] = added[long_edges]
    new_index = np.arange(len(given)) + np.cumsum(extra) - extra
    points = np.empty((len(given) + int(extra.sum()), 2))
    points[new_index] = given
    for edge in long_edges.tolist():
        a, b = first[edge], second[edge]
        between = GEOD.npts(float(a[0]), float(a[1]), float(b[0]), float(b[1]), int(added[edge]))
        if swap[edge]:
            between.reverse()
        at = int(new_index[heads[edge]]) + 1
        points[at : at + len(between)] = between
    more = np.bincount(edge_owner[long_edges], added[long_edges], len(counts))
    new_counts = counts + more.astype(np.intp)
    offsets = np.concatenate(([0], np.cumsum(new_counts)))
    grown = np.zeros(len(counts), dtype=np.bool_)
    grown[edge_owner[long_edges]] = True
    given_rows = {
        i: new_index[starts[i] : starts[i] + counts[i]] - offsets[i]
        for i in np.flatnonzero(grown).tolist()
    }
    return points, offsets, given_rows
