"""The SQL store's notifications: the queries delivery runs (undelivered, acknowledgement due)
and their updates as they are delivered, acknowledged or escalated, many in one statement
(notifications are created by a detection: :mod:`deconflict.store.detections`).

Delivery is recorded in two steps. The process whose stream sent a notification inserts (id,
when) into ``deliveries`` (:meth:`SqlNotifications.queue_deliveries`), a statement that rides in
the commit of that process's filings; the detector lease holder later marks the queued ones
delivered (state, time, and one ledger entry for those to each recipient and relay, which each
links) and deletes them, in one transaction (:meth:`SqlNotifications.mark_queued_deliveries`).
So the marking, which reads the notifications and writes their entries, runs in the process that
detects, not in the HTTP workers, whose interpreter the requests keep busy. A queued
notification counts as delivered to :meth:`SqlNotifications.undelivered_after`, so a stream does
not send it again meanwhile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from deconflict.errors import NotFound
from deconflict.model import Notification, NotificationState
from deconflict.store import ledger_append
from deconflict.store import schema as t
from deconflict.store.bulk import driver_rows, update_many
from deconflict.store.ledger_append import LogItem, Prebuilt
from deconflict.store.ledger_entries import DELIVERED, Delivered
from deconflict.store.records import IN_CHUNK, SqlRecords, after_key, rows_in, union_rows
from deconflict.store.rows import notification_of, notification_values
from deconflict.store.transactions import transaction
from deconflict.store.tx import Tx

__all__ = ["SqlNotifications"]

_n = t.notifications.c
# An event stream's page at every wake-up (run on the driver: see bulk.driver_rows): the next
# ``limit`` after a position in (created, id) order. Each index range (to the party, through it)
# read on its own, a page of each, not one query on either column, which PostgreSQL planned as a
# scan of every party's notifications for a relay (an eighteenth reader). No row is in both (a
# relay is never a notification's recipient): UNION ALL.
_AFTER_UNION = sa.union_all(
    *(
        sa.select(t.notifications)
        .where(
            column == sa.bindparam("party"),
            after_key(_n.created_at_s, _n.id, (sa.bindparam("t"), sa.bindparam("id"))),
        )
        .order_by(_n.created_at_s, _n.id)
        .limit(sa.bindparam("limit"))
        .subquery()
        .select()
        for column in (_n.recipient, _n.via)
    )
).subquery()
_AFTER = (
    sa.select(_AFTER_UNION)
    .order_by(_AFTER_UNION.c.created_at_s, _AFTER_UNION.c.id)
    .limit(sa.bindparam("limit"))
)
_d = t.deliveries.c
# Neither marked delivered nor sent and waiting to be marked (see queue_deliveries), after a
# position, in order: a seek in the index that holds only the undelivered (migration 0032).
_UNDELIVERED = (
    sa.select(t.notifications)
    .where(
        _n.recipient == sa.bindparam("party"),
        _n.delivered_at_s.is_(None),
        after_key(_n.created_at_s, _n.id, (sa.bindparam("t"), sa.bindparam("id"))),
        ~sa.exists().where(_d.notification_id == _n.id),
    )
    .order_by(_n.created_at_s, _n.id)
    .limit(sa.bindparam("limit"))
)
_QUEUE = sa.text(
    "INSERT INTO deliveries (notification_id, at_s) VALUES (:id, :at_s)"
    " ON CONFLICT (notification_id) DO NOTHING"
)
_QUEUED = sa.select(_d.notification_id, _d.at_s).order_by(_d.at_s, _d.notification_id)
_UNQUEUE = t.deliveries.delete().where(_d.notification_id.in_(sa.bindparam("ids", expanding=True)))
_NOTIFICATIONS_BY_ID = sa.select(t.notifications).where(
    t.notifications.c.id.in_(sa.bindparam("ids", expanding=True))
)
_STORED_NOTIFICATIONS = sa.select(t.notifications.c.id).where(
    t.notifications.c.id.in_(sa.bindparam("ids", expanding=True))
)


class SqlNotifications(SqlRecords):
    """Reading and updating notifications."""

    @transaction
    def get_notification(self, notification_id: str) -> Notification:
        col = t.notifications.c
        with self.read_connection(f"reading notification {notification_id!r}") as c:
            row = c.execute(sa.select(t.notifications).where(col.id == notification_id)).first()
        if row is None:
            raise NotFound(f"no notification {notification_id!r}")
        return notification_of(row._mapping)

    @transaction
    def list_notifications(
        self,
        party: str | None = None,
        *,
        include_relayed: bool = True,
        since_s: float | None = None,
        undelivered: bool = False,
        ack_due_by_s: float | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
    ) -> list[Notification]:
        col = t.notifications.c
        query = sa.select(t.notifications).order_by(col.created_at_s, col.id)
        if since_s is not None:
            query = query.where(col.created_at_s >= since_s)
        if undelivered:
            query = query.where(col.delivered_at_s.is_(None))
        if ack_due_by_s is not None:
            waiting = [str(NotificationState.PENDING), str(NotificationState.DELIVERED)]
            query = query.where(col.ack_deadline_s <= ack_due_by_s, col.state.in_(waiting))
        if after is not None:
            query = query.where(after_key(col.created_at_s, col.id, after))
        if limit is not None:
            query = query.limit(limit)
        if party is None:
            queries = [query]
        elif include_relayed:
            # Each index range (to the party, through it), a page of each, merged: a page costs
            # what it holds, not the party's whole history; and one query on either column
            # was planned by PostgreSQL as a scan of every party's notifications once the
            # party's share was large, a relay's (an eighteenth reader).
            queries = [query.where(col.recipient == party), query.where(col.via == party)]
        else:
            queries = [query.where(col.recipient == party)]
        with self.read_connection("listing notifications") as c:
            rows = [row for q in queries for row in c.execute(q)]
        found = [notification_of(row._mapping) for row in rows]
        if len(queries) > 1:
            found = sorted({n.id: n for n in found}.values(), key=lambda n: (n.created_at_s, n.id))
        return found if limit is None else found[:limit]

    @transaction
    def get_notifications(self, ids: Sequence[str]) -> list[Notification]:
        with self.read_connection(f"reading {len(ids)} notifications") as c:
            found = self._notifications_by_id(c, ids)
        return sorted(found, key=lambda n: (n.created_at_s, n.id))

    @staticmethod
    def _notifications_by_id(c: Tx, ids: Sequence[str]) -> list[Notification]:
        return [notification_of(row._mapping) for row in rows_in(c, _NOTIFICATIONS_BY_ID, ids)]

    @transaction
    def latest_notifications(
        self, party: str, conflicts: Sequence[str], notices: Sequence[str]
    ) -> list[Notification]:
        # About a conflict: the few notifications to the party that name it (its detection,
        # its clearing), all read, the latest kept here (ordered in SQL, the planner walked
        # the party's notifications by creation time instead). About a notice and no
        # conflict: the last of the index's range, a seek (its changes may be many).
        conflict_ids, keys = list(dict.fromkeys(conflicts)), list(dict.fromkeys(notices))
        found: dict[tuple[str | None, str | None], Notification] = {}
        with self.read_connection(
            f"reading the latest of {len(conflict_ids) + len(keys)} alerts"
        ) as c:
            about = sa.select(t.notifications).where(
                _n.recipient == party, _n.conflict_id.in_(sa.bindparam("ids", expanding=True))
            )
            for row in rows_in(c, about, conflict_ids):
                n = notification_of(row._mapping)
                kept = found.get((n.conflict_id, None))
                if kept is None or (kept.created_at_s, kept.id) < (n.created_at_s, n.id):
                    found[n.conflict_id, None] = n
            latest = [
                sa.select(
                    sa.select(t.notifications)
                    .where(_n.recipient == party, _n.conflict_id.is_(None), _n.notice_id == key)
                    .order_by(_n.created_at_s.desc(), _n.id.desc())
                    .limit(1)
                    .subquery()
                )
                for key in keys
            ]
            for row in union_rows(c, latest):
                n = notification_of(row._mapping)
                found[None, n.notice_key] = n
        return list(found.values())

    @transaction
    def notifications_after(
        self, party: str, after: tuple[float, str] | None, limit: int
    ) -> list[Notification]:
        return self._page("reading a page of notifications", _AFTER, party, after, limit)

    @transaction
    def undelivered_after(
        self, party: str, after: tuple[float, str] | None, limit: int
    ) -> list[Notification]:
        doing = "reading a page of undelivered notifications"
        return self._page(doing, _UNDELIVERED, party, after, limit)

    def _page(
        self,
        doing: str,
        query: sa.Select[Any],
        party: str,
        after: tuple[float, str] | None,
        limit: int,
    ) -> list[Notification]:
        """The ``limit`` rows of ``query`` (a party's page, paged by (created time, id)) after
        ``after`` (None: from the first), read on the driver (``bulk.driver_rows``)."""
        start = after if after is not None else (-math.inf, "")
        values = {"party": party, "t": start[0], "id": start[1], "limit": limit}
        with self.read_connection(doing) as c:
            return [notification_of(row) for row in driver_rows(c, query, values)]

    @transaction
    def queue_deliveries(self, sent: Sequence[tuple[str, float]]) -> None:
        if not sent:
            return
        rows = [{"id": notification_id, "at_s": at_s} for notification_id, at_s in sent]
        with self.write_connection(f"recording {len(rows)} notifications sent") as c:
            c.execute(_QUEUE, rows)

    @transaction
    def mark_queued_deliveries(self, limit: int) -> list[Notification]:
        # Read first, outside the write lock: most passes find none and write nothing. Rows
        # queued meanwhile wait for the next call; marking is idempotent (see _mark). What the
        # marking writes is built on that read too, and used if the turn finds the same rows.
        with self.read_connection("reading the notifications sent") as c:
            queued = [(row[0], row[1]) for row in c.execute(_QUEUED.limit(limit))]
            if not queued:
                return []
            planned = _Marks.of(c, queued, _Marks.rows(c, queued), prebuild=True)
        with self.write_connection(f"marking {len(queued)} notifications delivered") as c:
            marked = self._mark(c, queued, planned)
            ids = [notification_id for notification_id, _ in queued]
            for i in range(0, len(ids), IN_CHUNK):
                c.execute(_UNQUEUE, {"ids": ids[i : i + IN_CHUNK]})
        return marked

    @transaction
    def mark_delivered(self, sent: Sequence[tuple[str, float]]) -> list[Notification]:
        if not sent:
            return []
        with self.write_connection(f"marking {len(sent)} notifications delivered") as c:
            return self._mark(c, sent)

    def _mark(
        self, c: Tx, sent: Sequence[tuple[str, float]], planned: _Marks | None = None
    ) -> list[Notification]:
        """In ``c``'s write transaction: mark those of ``sent`` still undelivered (read here,
        so an acknowledgement or an earlier mark stands), with one ledger entry for those to
        each recipient (and relay), which each of them links. ``planned``: the same built on
        an earlier read, used when this read finds the rows unchanged."""
        read = _Marks.rows(c, sent)
        marks = (
            planned if planned is not None and planned.read == read else _Marks.of(c, sent, read)
        )
        if not marks.marked:
            return []
        indexes = self._log_many(c, marks.items, prebuilt=marks.prebuilt)
        rows = [
            {
                "id": n.id,
                "state": str(n.state),
                "delivered_at_s": n.delivered_at_s,
                "delivery_ledger_idx": index,
            }
            for batch, index in zip(marks.batches, indexes, strict=True)
            for n in batch
        ]
        update_many(c, t.notifications, "id", rows)
        return marks.marked

    def update_notification(self, notification: Notification, verb: str) -> None:
        self.update_notifications([notification], verb)

    @transaction
    def update_notifications(self, notifications: Sequence[Notification], verb: str) -> None:
        if not notifications:
            return
        rows, log = [], []
        for n in notifications:
            at_s = max(
                s
                for s in (n.created_at_s, n.delivered_at_s, n.acknowledged_at_s, n.escalated_at_s)
                if s is not None
            )
            rows.append(notification_values(n))
            log.append((f"notification.{verb}", n.id, at_s, n))
        doing = (
            f"updating notification {notifications[0].id!r}"
            if len(notifications) == 1
            else f"updating {len(notifications)} notifications"
        )
        with self.write_connection(doing) as c:
            if update_many(c, t.notifications, "id", rows) != len(rows):  # or not told: look
                self._all_notifications_exist(c, [n.id for n in notifications])
            self._log_many(c, log)

    @staticmethod
    def _all_notifications_exist(c: Tx, ids: Sequence[str]) -> None:
        have = {row[0] for row in rows_in(c, _STORED_NOTIFICATIONS, ids)}
        for notification_id in ids:
            if notification_id not in have:
                raise NotFound(f"no notification {notification_id!r}")


@dataclass(frozen=True, slots=True)
class _Marks:
    """What marking notifications delivered writes, from the rows ``read``: those still
    undelivered, ``marked``; one ledger entry (``items``) for the ``batches`` to each recipient
    and relay (what concerns a recipient's own plans apart: its entry is the recipient's private
    one, ``store.ledger_private``); and those entries built (``prebuilt``) when asked."""

    read: list[tuple[Any, ...]]
    marked: list[Notification]
    batches: list[list[Notification]]
    items: list[LogItem]
    prebuilt: Prebuilt | None = None

    @staticmethod
    def rows(c: Tx, sent: Sequence[tuple[str, float]]) -> list[tuple[Any, ...]]:
        """The rows of the notifications of ``sent`` (id, when), as ``c`` reads them."""
        return [tuple(row) for row in rows_in(c, _NOTIFICATIONS_BY_ID, [i for i, _ in sent])]

    @classmethod
    def of(
        cls,
        c: Tx,
        sent: Sequence[tuple[str, float]],
        rows: list[tuple[Any, ...]],
        prebuild: bool = False,
    ) -> _Marks:
        at = dict(sent)
        names = list(t.notifications.c.keys())
        found = [notification_of(dict(zip(names, row, strict=True))) for row in rows]
        marked = [n.deliver(at[n.id]) for n in found if n.undelivered]
        batches: dict[tuple[str, str | None, bool], list[Notification]] = {}
        for n in marked:
            batches.setdefault((n.recipient, n.via, n.private), []).append(n)
        items: list[LogItem] = [
            (
                DELIVERED,
                recipient,
                max(n.delivered_at_s or 0.0 for n in batch),
                Delivered(recipient, via, tuple(batch)),
            )
            for (recipient, via, _), batch in batches.items()
        ]
        # Prebuilt entries are known by (kind, subject): two batches to one recipient (one of
        # them relayed or private) are built under the turn.
        unique = len({(kind, subject) for kind, subject, *_ in items}) == len(items)
        built = ledger_append.prebuild(c, items) if prebuild and items and unique else None
        return cls(rows, marked, list(batches.values()), items, built)
