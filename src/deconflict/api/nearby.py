"""The ``near`` filter of ``GET /v1/notices``: a page of notices with a volume within a circle.

Whether a footprint meets the circle is the exact geodesic test (``separation_m``), and for input
the hub accepts it costs up to about half a second a volume (a valid 10,000-vertex star against a
circle reaching towards it). Run inside the read on the hub thread, as it was until this version, a
page of such records held every party's reads and writes for seconds or minutes (security.md §4.2).
So the hub thread does only what is cheap: it reads a batch of the notices the caller may see, each
with only the volumes it may see, and drops those none of whose volumes' bounding caps reaches the
circle's (a dot product; a cap holds its footprint, so nothing the exact test would keep is
dropped). The exact test runs on the pool for heavy work (:mod:`deconflict.api.heavy`), in jobs of
at most :data:`JOB_POINTS` footprint points, so other parties' heavy work gets its turn between
them (the pool serves its waiters in turn); every pair is within the exact stage's budget
(``MAX_EDGE_PAIRS``: the circle's core is one point, a densified footprint's about
``MAX_DENSIFIED`` at most), so the answers are exact. The page is filled batch by batch until it is
full or the store is exhausted, so it holds what one read filtered exactly would, and a full page's
last notice is where the next page starts, as for any other page. One page measures at most
:data:`PAGE_POINTS` points past its first job, and looks at :data:`PAGE_VOLUMES` volumes at most,
a batch of about :data:`BATCH_VOLUMES` a read on the hub thread: when either is spent first, the
page ends short, and its next link starts after the last notice tested or looked at, so no
request asks more than that of the pool or of the hub thread all parties share, however many
notices it may see (a circle that reaches none read them all in one read of the hub thread).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import NamedTuple

import numpy as np

from deconflict.api.heavy import HeavyWork
from deconflict.api.problems import InvalidField
from deconflict.errors import InvalidInput
from deconflict.geo import Circle, Footprint
from deconflict.geo.separation import separation_m
from deconflict.hub import Hub
from deconflict.model import Notice
from deconflict.runtime.runner import HubRunner

__all__ = [
    "BATCH_FIRST",
    "BATCH_MOST",
    "BATCH_VOLUMES",
    "JOB_POINTS",
    "PAGE_POINTS",
    "PAGE_VOLUMES",
    "Batch",
    "Read",
    "area_of",
    "filled_page",
    "reaches",
]

#: Most footprint points one job of the exact test measures the circle against (its one vertex
#: against each of their edges): one record's worth at the default limits (security.md §4.2).
JOB_POINTS = 200_000

#: Most footprint points one page measures past its first job (then the page ends short).
PAGE_POINTS = 2 * JOB_POINTS

#: How many volumes one read on the hub thread looks at, about (the cheap test of each, and
#: reading the notices that hold them): bounded by what it finds, a circle that reaches none
#: read every notice the caller may see in one turn of the thread every party's reads take
#: (30,000: 2.3 s; a forty-first reader). A page's first read takes ``BATCH_FIRST`` notices;
#: each next one as many as held that many volumes in the reads before, at most ``BATCH_MOST``.
BATCH_VOLUMES = 2_000
BATCH_FIRST = 2
BATCH_MOST = 200

#: Most volumes one page looks at: past them, the page ends short, its next link after the last
#: notice looked at.
PAGE_VOLUMES = 5_000


class Batch(NamedTuple):
    """What one read on the hub thread found: the notices that pass the cheap tests, the last
    notice it looked at (None: none), whether the store has none after it, and how many
    notices and volumes it looked at."""

    kept: list[Notice]
    last: Notice | None
    exhausted: bool
    notices: int
    volumes: int


#: ``read(cursor, count)``: what the hub thread runs to look at the next ``count`` notices
#: after ``cursor`` (the page's start when None), in filing order.
Read = Callable[[Notice | None, int], Callable[[Hub], Batch]]


def area_of(near: str | None) -> Circle | None:
    """The circle of a ``near=lon,lat,radius_m`` query, or None without one."""
    if near is None:
        return None
    try:
        lon, lat, radius_m = (float(x) for x in near.split(","))
        return Circle((lon, lat), radius_m)
    except (ValueError, InvalidInput) as error:
        raise InvalidField("query:near", f"near must be 'lon,lat,radius_m' ({error})") from None


def reaches(footprint: Footprint, area: Circle) -> bool:
    """Whether a footprint's bounding cap reaches the circle's: the cheap test, on the hub
    thread. When it does not, the footprint does not meet the circle (it lies within its cap)."""
    angle = math.acos(float(np.clip(footprint.centre @ area.centre, -1.0, 1.0)))
    return angle <= footprint.cap_rad + area.cap_rad + 1e-9


def _meeting(job: Sequence[Notice], area: Circle) -> list[Notice]:
    """The notices of ``job`` with a volume that meets the circle (touching counts): the exact
    test, on the pool."""
    return [n for n in job if any(separation_m(v.footprint, area) <= 0.0 for v in n.volumes)]


def _points(notice: Notice) -> int:
    return sum(len(v.footprint.core_lons) for v in notice.volumes)


def _jobs(batch: Sequence[Notice]) -> Iterator[list[Notice]]:
    """``batch`` in runs of whole notices of at most :data:`JOB_POINTS` points (a larger
    notice alone), in order."""
    job: list[Notice] = []
    points = 0
    for notice in batch:
        size = _points(notice)
        if job and points + size > JOB_POINTS:
            yield job
            job, points = [], 0
        job.append(notice)
        points += size
    if job:
        yield job


async def filled_page(
    runner: HubRunner,
    heavy: HeavyWork,
    read: Read,
    area: Circle,
    limit: int,
    party: str,
) -> tuple[list[Notice], Notice | None]:
    """Up to ``limit`` notices that ``read`` finds for ``party`` (the caller: each batch after
    the detection of its own writes) and that meet ``area``, in filing order: batches of about
    ``BATCH_VOLUMES`` volumes are looked at on the hub thread and those passing the cheap
    tests tested on the pool, until the page is full or the store is exhausted. Each batch is
    a snapshot of its own: a notice filed meanwhile shows in this page or the next, as between
    pages. With the page, where the next one starts when it ended short because it spent
    :data:`PAGE_POINTS` or looked at :data:`PAGE_VOLUMES` (the last notice tested or looked
    at), else None (a full page's next starts after its last notice)."""
    page: list[Notice] = []
    cursor: Notice | None = None
    spent = looked = notices = 0
    count = BATCH_FIRST
    while True:
        if (spent > 0 and spent >= PAGE_POINTS) or looked >= PAGE_VOLUMES:
            return page, cursor  # spent on earlier batches: read none untested
        batch = await runner.read(read(cursor, count), party=party)
        looked += batch.volumes
        notices += batch.notices
        count = max(1, min(BATCH_MOST, BATCH_VOLUMES * notices // max(1, looked)))
        for job in _jobs(batch.kept):
            if spent > 0 and spent >= PAGE_POINTS:
                return page, cursor
            for notice in await heavy.run(partial(_meeting, job, area)):
                page.append(notice)
                if len(page) == limit:
                    return page, None
            spent += sum(map(_points, job))
            cursor = job[-1]
        if batch.exhausted:
            return page, None
        cursor = batch.last
