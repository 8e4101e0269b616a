"""The PostGIS side of the engine benchmark: what a PostGIS user would build, fed the same data.

Schema: one row per volume with the footprint's outline as ``geography(Polygon, 4326)`` (geodesic
distances, no trouble at the antimeridian or the poles), the altitude band as a ``numrange`` and the
time window as a ``tstzrange``, under one multi-column GiST index on (geography, band, window).
A query is ``ST_DWithin`` on the geography plus ``&&`` on both ranges, each grown by the separation
minima, through a prepared statement; the candidates it returns are then judged on the client by
the same exact rule the engine uses (:func:`deconflict.engine.conflicts_among`, over the same
columns of numbers, gathered once before the timed queries as the engine's index holds them), so
the result sets are the same and the timing covers the whole path (SQL plus exact test).

The outline is a polygon inscribed in the true footprint (``OUTLINE_POINTS`` vertices around a
circle), so the SQL distance is grown by ``slack_m`` to keep the candidate set a superset.
Loading uses COPY (hex EWKB); the table is private to this process and dropped at the end.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
import shapely

from deconflict.engine import Entry, SeparationMinima, conflicts_among
from deconflict.engine.columns import Rows

__all__ = ["OUTLINE_POINTS", "PostgisSide", "connect", "ensure_postgis"]

#: Vertices of a circle's outline; the inscribed polygon falls short by r * (1 - cos(pi / n)).
OUTLINE_POINTS = 24
_SHORTFALL = 1.0 - math.cos(math.pi / OUTLINE_POINTS)
#: Added to the SQL distance besides the outline shortfall: sphere-vs-chord and frame errors.
_SLACK_M = 100.0
DEFAULT_DSN = os.environ.get("DECONFLICT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

_QUERY = """
SELECT id FROM {table}
 WHERE ST_DWithin(geog, %(q)s::geography, %(d)s)
   AND band && numrange(%(lo)s::numeric, %(hi)s::numeric, '[]')
   AND win && tstzrange(to_timestamp(%(t0)s), to_timestamp(%(t1)s), '[]')
   AND party <> %(party)s
"""


def connect(dsn: str = DEFAULT_DSN) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def _create_extension(conn: psycopg.Connection) -> None:
    # A concurrent CREATE EXTENSION may win the race: then it exists, which is all we need.
    with contextlib.suppress(psycopg.errors.UniqueViolation):
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def ensure_postgis(conn: psycopg.Connection, install: bool) -> str:
    """Make ``CREATE EXTENSION postgis`` work, installing the Debian package when allowed.

    Returns the PostGIS version; raises when it is not available."""
    try:
        _create_extension(conn)
    except psycopg.errors.FeatureNotSupported:  # the files of the extension are missing
        if not install:
            raise
        _apt_install("postgresql-15-postgis-3")
        _create_extension(conn)
    row = conn.execute("SELECT postgis_lib_version()").fetchone()
    return str(row[0]) if row else "?"


def _apt_install(package: str) -> None:
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        print(f"# postgis missing: running {' '.join(command)}", file=sys.stderr, flush=True)
        subprocess.run(
            command,
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
        )


def _outline_wkb(entry: Entry) -> str:
    ring = entry.volume.footprint.outline(OUTLINE_POINTS)
    return str(shapely.to_wkb(shapely.Polygon(ring), hex=True, include_srid=False))


def _copy_rows(entries: Sequence[Entry]) -> Iterator[tuple[object, ...]]:
    for i, entry in enumerate(entries):
        band, window = entry.volume.altitude, entry.volume.window
        yield (
            i,
            entry.party,
            _outline_wkb(entry),
            f"[{band.lower_m!r},{band.upper_m!r}]",
            f"[{_iso(window.start_s)},{_iso(window.end_s)}]",
        )


def _iso(seconds: float) -> str:
    return f'"{datetime.fromtimestamp(seconds, UTC).isoformat()}"'


class PostgisSide:
    """A private table of the benchmark's volumes, loaded, indexed and queried."""

    def __init__(self, conn: psycopg.Connection, entries: Sequence[Entry]) -> None:
        self.conn = conn
        self.entries = entries
        self.table = f"bench_volumes_{os.getpid()}"
        self.max_radius_m = max((e.volume.footprint.radius_m for e in entries), default=0.0)
        self.rows = Rows.of([e.volume for e in entries], [0] * len(entries))
        self.load_s = 0.0
        self.index_s = 0.0
        self.size_mb = 0.0
        self._sql = _QUERY.format(table=self.table)
        #: (seconds, candidates) of the SQL stage of each query, in order.
        self.coarse: list[tuple[float, int]] = []
        conn.execute("SET jit = off")

    def load(self) -> None:
        """Create, COPY in, index and ANALYZE the table; times load and index build."""
        conn, table = self.conn, self.table
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE UNLOGGED TABLE {table} (id integer NOT NULL, party text NOT NULL, "
            "geog geography(Polygon, 4326) NOT NULL, band numrange NOT NULL, "
            "win tstzrange NOT NULL)"
        )
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in _copy_rows(self.entries):
                copy.write_row(row)
        self.load_s = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX ON {table} USING gist (geog, band, win)")
        conn.execute(f"ANALYZE {table}")
        self.index_s = time.perf_counter() - started
        size: Any = conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
        self.size_mb = (int(size[0]) if size else 0) / 2**20

    def drop(self) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {self.table}")

    def params(self, query: Entry, minima: SeparationMinima) -> dict[str, object]:
        """The statement's parameters for a query (prepared outside the timed path)."""
        volume = query.volume
        slack = _SLACK_M + _SHORTFALL * (volume.footprint.radius_m + self.max_radius_m)
        return {
            "q": _outline_wkb(query),
            "d": minima.horizontal_m + slack,
            "lo": volume.altitude.lower_m - minima.vertical_m,
            "hi": volume.altitude.upper_m + minima.vertical_m,
            "t0": volume.window.start_s - minima.time_s,
            "t1": volume.window.end_s + minima.time_s,
            "party": query.party,
        }

    def conflicts_with(
        self, query: Entry, params: dict[str, object], minima: SeparationMinima
    ) -> list[Entry]:
        """Candidates from the GiST index, then the exact rule on the client.

        The SQL part's duration and candidate count are appended to ``coarse``."""
        started = time.perf_counter()
        rows = self.conn.execute(self._sql, params, prepare=True).fetchall()
        self.coarse.append((time.perf_counter() - started, len(rows)))
        ids = [i for (i,) in rows]
        found = [self.entries[i] for i in ids]
        columns = self.rows.take(np.array(ids, dtype=np.intp))
        verdicts = conflicts_among(query.volume, [e.volume for e in found], minima, columns)
        return [entry for entry, hit in zip(found, verdicts, strict=True) if hit]
