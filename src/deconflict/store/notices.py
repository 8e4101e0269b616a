"""The SQL store's notices: filing and updating them (each version kept in ``notice_versions``,
an update compare-and-set on the version read), and reading them back.

A notice's row is keyed by its record key (``model.ids.record_key``: ``<party>/<id>``), and so is
everything that refers to it (its versions, conflicts, notifications, change-log rows, ledger
subjects); the methods here take and give that key, and the records read back carry the party's
own id."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from deconflict.errors import NotFound
from deconflict.geo import Volume4D
from deconflict.model import Notice, NoticeState
from deconflict.model.ids import split_key
from deconflict.store import schema as t
from deconflict.store.base import Seen
from deconflict.store.codec import (
    volume_from_json,
    volume_versions_from_json,
    volume_versions_to_json,
    volumes_from_json,
    volumes_to_texts,
)
from deconflict.store.records import (
    IN_CHUNK,
    UNION_MOST,
    SqlRecords,
    after_key,
    missing_or_stale,
    rows_in,
)
from deconflict.store.rows import notice_of
from deconflict.store.transactions import insert_with_unit, transaction
from deconflict.store.tx import Tx

__all__ = ["SqlNotices"]

#: The most ranges a list merges in one statement (a compound SELECT has at most 500 terms in
#: SQLite); a list of more owners (and states) is read as one range, in filing order.
_MOST_RANGES = 400

# Statements built once (their parameters given at execution): building a statement per call
# costs more than running it on the filing path.
_INSERT_NOTICE_VERSION = sa.insert(t.notice_versions)
_INSERT_NOTICE_VOLUME = sa.insert(t.notice_volumes)
_nv = t.notice_volumes.c
# The rows of a notice's volumes that a new version ``:at`` changed or dropped: those the
# newest version held but for the ``:kept`` ones.
_CLOSE_NOTICE_VOLUMES = (
    sa.update(t.notice_volumes)
    .where(
        _nv.notice_id == sa.bindparam("key"),
        _nv.until_version.is_(None),
        _nv.since_version < sa.bindparam("at"),
        _nv.volume_id.not_in(sa.bindparam("kept", expanding=True)),
    )
    .values(until_version=sa.bindparam("at"))
)
_GET_NOTICES = sa.select(t.notices).where(t.notices.c.id.in_(sa.bindparam("ids", expanding=True)))
# A notice's row without its volumes (nor their versions): what is told of one seen in part.
_NOTICE_HEADS = sa.select(
    *(column for column in t.notices.c if column.name not in ("volumes", "volume_versions"))
).where(t.notices.c.id.in_(sa.bindparam("ids", expanding=True)))


class SqlNotices(SqlRecords):
    """Notices and their versions."""

    @transaction
    def add_notice(self, notice: Notice) -> None:
        volumes, texts = volumes_to_texts(notice.volumes)
        row = {
            "id": notice.key,
            "party_id": notice.party,
            "category": notice.category,
            "version": notice.version,
            "state": str(notice.state),
            "volumes": volumes,
            "filed_at_s": notice.filed_at_s,
            "updated_at_s": notice.updated_at_s,
            "start_s": notice.start_s,
            "end_s": notice.end_s,
            "volume_versions": volume_versions_to_json(notice.volume_versions),
        }
        doing = f"filing notice {notice.id!r}"
        with self.deferring_connection(doing) as c:
            self.defer_new_id(t.notices, notice.key, doing)
            insert_with_unit(c, t.notices, [row])
            entry = self._log(c, "notice.filed", notice.key, notice.filed_at_s, notice)
            version = self._version_row(notice, notice.filed_at_s, entry, volumes)
            insert_with_unit(c, t.notice_versions, [version])
            insert_with_unit(c, t.notice_volumes, _volume_rows(notice, texts, changed=False))

    @staticmethod
    def _notice_version(
        c: Tx, notice: Notice, at_s: float, entry: int | None, texts: tuple[str, list[str]]
    ) -> None:
        """The version's row, with the index of the ledger entry that commits to it, and the
        rows of the volumes that changed at it."""
        volumes, each = texts
        c.execute(_INSERT_NOTICE_VERSION, SqlNotices._version_row(notice, at_s, entry, volumes))
        kept = [vid for vid, at in notice.changed_since().items() if at < notice.version]
        c.execute(_CLOSE_NOTICE_VOLUMES, {"key": notice.key, "at": notice.version, "kept": kept})
        changed = _volume_rows(notice, each, changed=True)
        if changed:
            c.execute(_INSERT_NOTICE_VOLUME, changed)

    @staticmethod
    def _version_row(
        notice: Notice, at_s: float, entry: int | None, volumes: str
    ) -> dict[str, Any]:
        return {
            "notice_id": notice.key,
            "version": notice.version,
            "category": notice.category,
            "volumes": volumes,
            "at_s": at_s,
            "ledger_idx": entry,
            "volume_versions": volume_versions_to_json(notice.volume_versions),
        }

    @transaction
    def update_notice(self, notice: Notice, *, expected_version: int, verb: str) -> None:
        at_s = notice.updated_at_s if notice.updated_at_s is not None else notice.filed_at_s
        texts = volumes_to_texts(notice.volumes)
        with self.write_connection(f"updating notice {notice.id!r}") as c:
            done = c.execute(
                sa.update(t.notices)
                .where(t.notices.c.id == notice.key, t.notices.c.version == expected_version)
                .values(
                    category=notice.category,
                    version=notice.version,
                    state=str(notice.state),
                    volumes=texts[0],
                    updated_at_s=notice.updated_at_s,
                    start_s=notice.start_s,
                    end_s=notice.end_s,
                    volume_versions=volume_versions_to_json(notice.volume_versions),
                )
            )
            if done.rowcount == 0:
                missing_or_stale(c, t.notices, "notice", notice.key, expected_version)
            entry = self._log(c, f"notice.{verb}", notice.key, at_s, notice)
            if notice.version != expected_version:
                self._notice_version(c, notice, at_s, entry, texts)

    @transaction
    def get_notice(self, key: str) -> Notice:
        with self.read_connection(f"reading notice {key!r}") as c:
            row = c.execute(sa.select(t.notices).where(t.notices.c.id == key)).first()
        if row is None:
            raise NotFound(f"no notice {key!r}")
        return notice_of(row._mapping)

    @transaction
    def get_notices(self, keys: Sequence[str]) -> dict[str, Notice]:
        ids = list(dict.fromkeys(keys))
        found: dict[str, Notice] = {}
        with self.read_connection(f"reading {len(ids)} notices") as c:
            for row in rows_in(c, _GET_NOTICES, ids):
                found[row.id] = notice_of(row._mapping)
        return found

    @transaction
    def get_notice_version(self, key: str, version: int) -> Notice:
        notice = self.get_notice(key)
        if version == notice.version:
            return notice
        v = t.notice_versions.c
        with self.read_connection(f"reading notice {key!r} version {version}") as c:
            row = c.execute(
                sa.select(t.notice_versions).where(v.notice_id == key, v.version == version)
            ).first()
        if row is None:
            raise NotFound(f"no version {version} of notice {key!r}")
        return Notice(
            id=notice.id,
            party=notice.party,
            volumes=volumes_from_json(row.volumes),
            category=row.category,
            filed_at_s=notice.filed_at_s,
            version=version,
            state=notice.state,
            updated_at_s=row.at_s,
            volume_versions=volume_versions_from_json(row.volume_versions),
        )

    @transaction
    def notice_volumes_at(
        self, asked: Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], Volume4D]:
        with self.read_connection(f"reading {len(asked)} notice volumes") as c:
            found = _volumes_at(c, asked)
        return {key: volume for key, (volume, _) in found.items()}

    @transaction
    def notices_in_part(self, asked: Sequence[tuple[str, str, int]]) -> dict[str, Notice]:
        keys = sorted({key for key, _, _ in asked})
        with self.read_connection(f"reading {len(keys)} notices in part") as c:
            heads = {row.id: row for row in rows_in(c, _NOTICE_HEADS, keys)}
            found = _volumes_at(c, asked, newest=True)
        held: dict[str, dict[str, tuple[Volume4D, int]]] = {}
        for (key, volume_id, _), volume in found.items():
            held.setdefault(key, {})[volume_id] = volume
        notices = {}
        for key, row in heads.items():
            volumes = sorted(held.get(key, {}).items())  # in id order
            if volumes:
                notices[key] = Notice(
                    id=split_key(key)[1],
                    party=row.party_id,
                    volumes=tuple(volume for _, (volume, _) in volumes),
                    category=row.category,
                    filed_at_s=row.filed_at_s,
                    version=row.version,
                    state=NoticeState(row.state),
                    updated_at_s=row.updated_at_s,
                    volume_versions=tuple(since for _, (_, since) in volumes),
                )
        return notices

    @transaction
    def list_notices(
        self,
        party: str | None = None,
        states: Sequence[NoticeState] | None = None,
        *,
        active: tuple[float, float] | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
        keys: Sequence[str] | None = None,
        seen: Seen | None = None,
    ) -> list[Notice]:
        if keys is not None and len(keys) > IN_CHUNK:  # a statement binds so many values
            keys = list(dict.fromkeys(keys))  # each once, as one statement would find it
            # Merged in code-point order of the keys, as every query orders them (on
            # PostgreSQL, the keys' collation is C: migration 0021).
            found = [
                notice
                for lo in range(0, len(keys), IN_CHUNK)
                for notice in self.list_notices(
                    party,
                    states,
                    active=active,
                    after=after,
                    limit=limit,
                    keys=keys[lo : lo + IN_CHUNK],
                    seen=seen,
                )
            ]
            found.sort(key=lambda notice: (notice.filed_at_s, notice.key))
            return found if limit is None else found[:limit]
        col = t.notices.c
        query = sa.select(t.notices)
        if keys is not None:
            query = query.where(col.id.in_(list(keys)))
        if active is not None:
            query = query.where(col.start_s < active[1], col.end_s > active[0])
        if after is not None:
            query = query.where(after_key(col.filed_at_s, col.id, after))
        owners = _owners(party, seen)
        if owners == [] or (states is not None and not states):
            return []  # the owners asked for are none the viewer sees whole, or no state
        named = [] if states is None else sorted({str(s) for s in states})  # each once
        if named and active is not None:
            # Within a window, the state is asked of the rows the owner's index by end finds,
            # never made an index's key: read by (state, end), the tick's index, a list read
            # every party's notices in the state that ended after the window's start, and its
            # steps timed others' hidden notices (a seventeenth reader: security.md §3.5).
            query = query.where((col.state + "").in_(named))
            named = []
        by_state = [col.state.in_(named)] if named else []  # no window: an index's key
        if owners is None:  # the hub's own reads
            ranges = [query.where(*by_state)]
        elif named and len(owners) * len(named) <= _MOST_RANGES:
            # By state: each owner's range in each state, in filing order (migration 0031),
            # merged. Asked at once, the planner read each owner's notices in filing order (0029's
            # index) and asked each its state: a list by state cost every notice of the owners,
            # in any state (found beside a twentieth reader's probe).
            ranges = [query.where(col.party_id == o, col.state == s) for o in owners for s in named]
        elif not named and limit is not None and 1 < len(owners) <= _MOST_RANGES:
            # A page: each owner's range from the cursor, a page at most, merged. Read in
            # filing order across owners, the planners walked an index on the filing time
            # alone, every party's notices (an eighteenth reader: migration 0029).
            ranges = [query.where(col.party_id == o) for o in owners]
        else:  # one owner, no page, or past what one statement may merge
            ranges = [query.where(col.party_id.in_(owners), *by_state)]
        if len(ranges) == 1:
            statement: sa.Select[Any] = _in_filing_order(ranges[0], limit)
        else:
            parts = [sa.select(_in_filing_order(r, limit).subquery()) for r in ranges]
            merged = sa.union_all(*parts).subquery()
            statement = sa.select(merged).order_by(merged.c.filed_at_s, merged.c.id).limit(limit)
        with self.read_connection("listing notices") as c:
            rows = c.execute(statement).all()
        return [notice_of(row._mapping) for row in rows]

    @transaction
    def notices_moved_by_time(self, now_s: float) -> list[str]:
        col = t.notices.c
        filed, active = str(NoticeState.FILED), str(NoticeState.ACTIVE)
        # Two index range scans (state, start_s) and (state, end_s): what is due, not all.
        started = sa.select(col.filed_at_s, col.id).where(col.state == filed, col.start_s <= now_s)
        ended = sa.select(col.filed_at_s, col.id).where(
            col.state.in_([filed, active]), col.end_s <= now_s
        )
        with self.read_connection("finding the notices time has moved") as c:
            found = {(row.filed_at_s, row.id) for row in c.execute(started)}
            found.update((row.filed_at_s, row.id) for row in c.execute(ended))
        return [nid for _, nid in sorted(found)]


def _owners(party: str | None, seen: Seen | None) -> list[str] | None:
    """The owners whose notices a list reads (None: every party's, the hub's own reads)."""
    if seen is None:
        return None if party is None else [party]
    whole = sorted(seen.whole)
    return whole if party is None else [p for p in whole if p == party]


def _in_filing_order(query: sa.Select[Any], limit: int | None) -> sa.Select[Any]:
    col = t.notices.c
    return query.order_by(col.filed_at_s, col.id).limit(limit)


def _volume_rows(notice: Notice, texts: Sequence[str], *, changed: bool) -> list[dict[str, Any]]:
    """The ``notice_volumes`` rows of ``notice``'s volumes (only those that changed at its
    version if ``changed``), each kept as ``texts`` holds it."""
    since = notice.changed_since()
    return [
        {
            "notice_id": notice.key,
            "volume_id": v.id,
            "since_version": since[v.id],
            "until_version": None,
            "body": text,
        }
        for v, text in zip(notice.volumes, texts, strict=True)
        if not changed or since[v.id] == notice.version
    ]


def _volumes_at(
    c: Tx, asked: Sequence[tuple[str, str, int]], *, newest: bool = False
) -> dict[tuple[str, str, int], tuple[Volume4D, int]]:
    """Each volume of ``asked`` (notice key, volume id, version) that the version holds, with
    the version it changed at; with ``newest``, only those the newest version holds as they
    were then (unchanged since: a volume changed later is not decoded, and its new text,
    maybe hidden from the reader, costs nothing). One key lookup a volume asked, a volume
    asked twice too: as an
    OR of terms, SQLite skipped a row found twice, so the read told how the hidden volumes a
    party meets are grouped in the other's notices (a twentieth reader); and each reads the one
    volume asked, never the version's list, which cost what the other's hidden volumes number
    (a thirty-fifth reader)."""
    found: dict[tuple[str, str, int], tuple[Volume4D, int]] = {}
    ordered = sorted(asked)
    for lo in range(0, len(ordered), UNION_MOST):
        part = ordered[lo : lo + UNION_MOST]
        params = {}
        for i, (key, volume_id, version) in enumerate(part):
            params.update({f"k{i}": key, f"v{i}": volume_id, f"n{i}": version})
        for row in c.execute(_volume_lookups(len(part)), params):
            # Its row is read whether or not the version holds it: rejected by the statement,
            # one the owner dropped since cost steps fewer than one it kept (a notice seen in
            # part told P whether X had amended away a volume P met).
            until = row.until_version
            if until is None or (not newest and until > row.version):
                volume = volume_from_json(row.body)
                found[row.notice_id, row.volume_id, row.version] = volume, row.since_version
    return found


@functools.lru_cache(maxsize=UNION_MOST)
def _volume_lookups(count: int) -> sa.CompoundSelect[Any]:
    """``count`` lookups of a notice volume at a version, each its own SELECT of a UNION ALL,
    the ``i``-th of the volume ``:v<i>`` of notice ``:k<i>`` at version ``:n<i>``: its row of
    the greatest version it changed at up to that one, with the version that changed or dropped
    it, a key seek (the statement built once a count, its parameters given: building hundreds
    of lookups a read cost more than running them)."""
    nv = t.notice_volumes.c
    lookups = []
    for i in range(count):
        version = sa.bindparam(f"n{i}", type_=sa.Integer)
        mine = sa.and_(nv.notice_id == sa.bindparam(f"k{i}"), nv.volume_id == sa.bindparam(f"v{i}"))
        since = sa.select(sa.func.max(nv.since_version)).where(mine, nv.since_version <= version)
        lookups.append(
            sa.select(
                nv.notice_id,
                nv.volume_id,
                version.label("version"),
                nv.since_version,
                nv.until_version,
                nv.body,
            ).where(mine, nv.since_version == since.scalar_subquery())
        )
    return sa.union_all(*lookups)
