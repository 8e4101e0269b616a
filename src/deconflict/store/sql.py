"""The SQL store: SQLAlchemy Core over SQLite (the default, one file) and PostgreSQL.

The queries are portable Core statements; what differs per database is only how the engine is
made (:mod:`deconflict.store.engines`). The schema is brought to the newest Alembic revision
whenever a store is opened, and the ``cursors`` rows for the log mutex and the detector lease are
created if missing.

Every public method runs in one transaction and translates driver errors at this boundary:
an integrity violation is ``InvalidInput`` (a duplicate id, an unknown party), a serialization
failure or deadlock is retried by the store's :class:`RetryPolicy` (the whole method runs again),
anything else from the driver is ``StoreError``. Every change-log row is appended under the log
mutex (:mod:`deconflict.store.order`), so the log's order is its commit order, and a detection
may be fenced by the detector lease's token (:mod:`deconflict.store.lease`).
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import exc

from deconflict.errors import (
    AlreadyExists,
    DeconflictError,
    InvalidInput,
    NotFound,
    StoreError,
    VersionConflict,
)
from deconflict.model import (
    Agreement,
    Conflict,
    ConflictState,
    Notice,
    NoticeState,
    Notification,
    NotificationState,
    Party,
    Plan,
    PlanState,
    RecordKind,
)
from deconflict.store import lease, ledger_append, order, wakeup
from deconflict.store import schema as t
from deconflict.store.base import Change, Detection, Store
from deconflict.store.bulk import insert_many, update_many
from deconflict.store.codec import (
    agreement_from_json,
    agreement_to_json,
    volumes_from_json,
    volumes_to_json,
)
from deconflict.store.ledger_append import LogItem, record_changes, watch
from deconflict.store.ledger_sql import SqlLedger
from deconflict.store.retry import Retryable, RetryPolicy, is_retryable
from deconflict.store.rows import (
    change_of,
    conflict_of,
    conflict_values,
    notice_of,
    notification_of,
    notification_values,
    plan_of,
)

__all__ = ["SqlStore"]

_DETECTOR = "detector"
_IN_UNIT = "deconflict.in_unit"  # Connection.info key: the connection is a unit of work's
# Statements built once (their parameters given at execution): building a statement per call
# costs more than running it on the hot paths (filing, detection, delivery).
_RESOLVE_CONFLICT = sa.update(t.conflicts).where(t.conflicts.c.id == sa.bindparam("target_id"))
_STORED_CONFLICTS = sa.select(t.conflicts.c.id).where(
    t.conflicts.c.id.in_(sa.bindparam("ids", expanding=True))
)
_DETECTOR_CURSOR = sa.select(t.cursors.c.seq).where(t.cursors.c.name == _DETECTOR)
_MOVE_DETECTOR_CURSOR = (
    sa.update(t.cursors).where(t.cursors.c.name == _DETECTOR).values(seq=sa.bindparam("seq"))
)
_STORED_NOTIFICATIONS = sa.select(t.notifications.c.id).where(
    t.notifications.c.id.in_(sa.bindparam("ids", expanding=True))
)
_CHUNK = 500  # ids per IN (...) list
_INSERT_NOTICE = sa.insert(t.notices)
_INSERT_NOTICE_VERSION = sa.insert(t.notice_versions)
_GET_NOTICES = sa.select(t.notices).where(t.notices.c.id.in_(sa.bindparam("ids", expanding=True)))
_GET_PARTY = sa.select(t.parties).where(t.parties.c.id == sa.bindparam("id"))
_LIST_AGREEMENTS = sa.select(t.agreements.c.body).order_by(
    t.agreements.c.created_at_s, t.agreements.c.id
)
_MIGRATIONS = Path(__file__).parent / "migrations"


_MIGRATION_LOCK = 0x6465636F  # "deco": several workers starting at once migrate one at a time


def _migrate(engine: sa.Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        order.ensure_rows(connection, (order.LOG_MUTEX, *lease.LEASE_ROWS))


def _is_unique_violation(error: exc.IntegrityError) -> bool:
    """A duplicate key (PostgreSQL SQLSTATE 23505, SQLite's UNIQUE constraint)."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


@contextlib.contextmanager
def _translated(doing: str) -> Iterator[None]:
    try:
        yield
    except DeconflictError:
        raise
    except exc.DBAPIError as error:
        if is_retryable(error):
            raise Retryable(f"{doing}: {error.orig}") from None
        if isinstance(error, exc.IntegrityError):
            if _is_unique_violation(error):
                raise AlreadyExists(f"{doing}: one with that id already exists") from None
            raise InvalidInput(f"{doing}: conflicts with what is stored ({error.orig})") from None
        raise StoreError(f"{doing}: {error}") from None
    except (exc.SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise StoreError(f"{doing}: {error}") from None


P = ParamSpec("P")
R = TypeVar("R")


def _transaction(method: Callable[P, R]) -> Callable[P, R]:
    """Run the store method (one transaction) again when the database asks for a retry."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        store = cast(SqlStore, args[0])  # only ever decorates SqlStore methods
        if store._unit is not None:  # part of a unit of work: its owner retries the whole unit
            return method(*args, **kwargs)
        return store.retry.run(lambda: method(*args, **kwargs))

    return run


class SqlStore(SqlLedger, Store):
    """The store on any SQLAlchemy engine; see :func:`deconflict.store.open_store`."""

    def __init__(
        self, engine: sa.Engine, what: str = "store", retry: RetryPolicy | None = None
    ) -> None:
        self._engine = engine
        self._what = what
        self._unit: sa.Connection | None = None  # the open unit of work's connection
        # Reads a unit of work repeats for every write it groups (the agreements, whether a
        # party exists), kept until the unit ends, a savepoint is undone or they are written.
        self._unit_reads: dict[str, Any] = {}
        self.retry = retry if retry is not None else RetryPolicy()
        watch(engine)

        def migrate() -> None:
            with _translated(f"opening {what}"):
                _migrate(engine)

        self.retry.run(migrate)

    def change_signal(self, channel: str | None = None) -> wakeup.ChangeSignal:
        """A wake-up for changes any process commits (close it when done)."""
        with _translated(f"listening on {self._what}"):
            return wakeup.ChangeSignal(self._engine, channel or wakeup.CHANNEL)

    def announce_notifications(self, payload: str) -> None:
        wakeup.announce(self._engine, payload)

    @property
    def dialect(self) -> str:
        """The database's SQLAlchemy dialect name ("sqlite", "postgresql")."""
        return self._engine.dialect.name

    def close(self) -> None:
        with _translated(f"closing {self._what}"):
            self._engine.dispose()

    @contextlib.contextmanager
    def unit_of_work(self, doing: str = "a unit of work") -> Iterator[None]:
        """One write transaction for every call made inside (they read what it wrote so far);
        not retried here: a serialization failure surfaces as ``Retryable`` from the commit or
        from the call that met it, and the owner runs the unit (or its parts) again. Nested,
        it joins the open unit. A store is used by one thread, so the unit is per store."""
        if self._unit is not None:
            yield
            return
        with _translated(doing), self._engine.begin() as connection:
            order.queue_writer(connection)
            # Held from here to the commit, outside every savepoint (rolling one back would
            # release what was taken inside it).
            order.take_log_position(connection)
            wakeup.notify(connection)
            self._unit = connection
            self._unit_reads.clear()
            connection.info[_IN_UNIT] = True
            try:
                yield
                ledger_append.flush(connection)  # what the unit appended, before its commit
            finally:
                connection.info.pop(_IN_UNIT, None)
                self._unit = None
                self._unit_reads.clear()

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        if self._unit is None:
            yield
            return
        before = ledger_append.mark(self._unit)
        try:
            with _translated("a savepoint"), self._unit.begin_nested():
                yield
        except BaseException:
            self._unit_reads.clear()  # what they read may have been undone
            ledger_append.restore(self._unit, before)  # and what they appended
            raise

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[sa.Connection]:
        if self._unit is not None:
            with _translated(doing):
                yield self._unit
            return
        with _translated(doing), self._engine.begin() as connection:
            order.queue_writer(connection)
            yield connection

    @contextlib.contextmanager
    def _read(self, doing: str) -> Iterator[sa.Connection]:
        if self._unit is not None:  # read what the unit has written so far
            with _translated(doing):
                ledger_append.flush(self._unit)
                yield self._unit
            return
        with _translated(doing), self._engine.connect() as connection:
            yield connection

    @classmethod
    def _log(
        cls,
        connection: sa.Connection,
        kind: str,
        entity_id: str,
        at_s: float,
        record: Notice | Plan | None = None,
    ) -> None:
        cls._log_many(connection, [(kind, entity_id, at_s, record)])

    @staticmethod
    def _log_many(connection: sa.Connection, items: Sequence[LogItem]) -> None:
        """Append change-log rows (one statement) and their ledger entries (same transaction).
        A notice's or plan's row names its version and state; the other records ride along
        so the ledger need not read them back."""
        if not items:
            return
        order.take_log_position(connection)
        wakeup.notify(connection)
        rows = []
        for kind, entity_id, at_s, record in items:
            version, state = None, None
            if isinstance(record, Notice | Plan):
                version, state = record.version, str(record.state)
            rows.append(
                {
                    "entity": kind.split(".", 1)[0],
                    "kind": kind,
                    "entity_id": entity_id,
                    "at_s": at_s,
                    "version": version,
                    "state": state,
                }
            )
        insert_many(connection, t.changes, rows)
        # In a unit of work the ledger's rows are written once, before its commit.
        record_changes(connection, items, defer=connection.info.get(_IN_UNIT, False))

    # parties and agreements -------------------------------------------------------------------

    @_transaction
    def add_party(self, party: Party, at_s: float) -> None:
        self._unit_reads.clear()
        with self._write(f"adding party {party.id!r}") as c:
            c.execute(sa.insert(t.parties).values(id=party.id, name=party.name, created_at_s=at_s))
            self._log(c, "party.added", party.id, at_s)

    @_transaction
    def get_party(self, party_id: str) -> Party:
        key = f"party:{party_id}"
        known: Party | None = self._unit_reads.get(key)
        if known is not None:
            return known
        with self._read(f"reading party {party_id!r}") as c:
            row = c.execute(_GET_PARTY, {"id": party_id}).first()
        if row is None:
            raise NotFound(f"no party {party_id!r}")
        party = Party(row.id, row.name)
        if self._unit is not None:
            self._unit_reads[key] = party
        return party

    @_transaction
    def list_parties(self) -> list[Party]:
        with self._read("listing parties") as c:
            rows = c.execute(sa.select(t.parties).order_by(t.parties.c.id)).all()
        return [Party(row.id, row.name) for row in rows]

    @_transaction
    def add_agreement(self, agreement: Agreement, at_s: float) -> None:
        self._unit_reads.clear()
        with self._write(f"adding agreement {agreement.id!r}") as c:
            c.execute(
                sa.insert(t.agreements).values(
                    id=agreement.id, body=agreement_to_json(agreement), created_at_s=at_s
                )
            )
            self._log(c, "agreement.added", agreement.id, at_s)

    @_transaction
    def list_agreements(self) -> list[Agreement]:
        known: list[Agreement] | None = self._unit_reads.get("agreements")
        if known is not None:
            return list(known)
        with self._read("listing agreements") as c:
            rows = c.execute(_LIST_AGREEMENTS).all()
        found = [agreement_from_json(row.body) for row in rows]
        if self._unit is not None:
            self._unit_reads["agreements"] = found
        return list(found)

    # notices ----------------------------------------------------------------------------------

    @_transaction
    def add_notice(self, notice: Notice) -> None:
        volumes = volumes_to_json(notice.volumes)
        with self._write(f"filing notice {notice.id!r}") as c:
            c.execute(
                _INSERT_NOTICE,
                {
                    "id": notice.id,
                    "party_id": notice.party,
                    "category": notice.category,
                    "version": notice.version,
                    "state": str(notice.state),
                    "volumes": volumes,
                    "filed_at_s": notice.filed_at_s,
                    "updated_at_s": notice.updated_at_s,
                },
            )
            self._notice_version(c, notice, notice.filed_at_s, volumes)
            self._log(c, "notice.filed", notice.id, notice.filed_at_s, notice)

    @staticmethod
    def _notice_version(
        c: sa.Connection, notice: Notice, at_s: float, volumes: str | None = None
    ) -> None:
        c.execute(
            _INSERT_NOTICE_VERSION,
            {
                "notice_id": notice.id,
                "version": notice.version,
                "category": notice.category,
                "volumes": volumes if volumes is not None else volumes_to_json(notice.volumes),
                "at_s": at_s,
            },
        )

    @_transaction
    def update_notice(self, notice: Notice, *, expected_version: int, verb: str) -> None:
        at_s = notice.updated_at_s if notice.updated_at_s is not None else notice.filed_at_s
        with self._write(f"updating notice {notice.id!r}") as c:
            done = c.execute(
                sa.update(t.notices)
                .where(t.notices.c.id == notice.id, t.notices.c.version == expected_version)
                .values(
                    category=notice.category,
                    version=notice.version,
                    state=str(notice.state),
                    volumes=volumes_to_json(notice.volumes),
                    updated_at_s=notice.updated_at_s,
                )
            )
            if done.rowcount == 0:
                self._missing_or_stale(c, t.notices, "notice", notice.id, expected_version)
            if notice.version != expected_version:
                self._notice_version(c, notice, at_s)
            self._log(c, f"notice.{verb}", notice.id, at_s, notice)

    @staticmethod
    def _missing_or_stale(
        c: sa.Connection, table: sa.Table, what: str, record_id: str, expected: int
    ) -> None:
        current = c.execute(sa.select(table.c.version).where(table.c.id == record_id)).scalar()
        if current is None:
            raise NotFound(f"no {what} {record_id!r}")
        raise VersionConflict(
            f"{what} {record_id!r} is at version {current}, not {expected}: read it again"
        )

    @_transaction
    def get_notice(self, notice_id: str) -> Notice:
        with self._read(f"reading notice {notice_id!r}") as c:
            row = c.execute(sa.select(t.notices).where(t.notices.c.id == notice_id)).first()
        if row is None:
            raise NotFound(f"no notice {notice_id!r}")
        return notice_of(row._mapping)

    @_transaction
    def get_notices(self, notice_ids: Sequence[str]) -> dict[str, Notice]:
        ids = list(dict.fromkeys(notice_ids))
        found: dict[str, Notice] = {}
        with self._read(f"reading {len(ids)} notices") as c:
            for lo in range(0, len(ids), _CHUNK):
                for row in c.execute(_GET_NOTICES, {"ids": ids[lo : lo + _CHUNK]}):
                    found[row.id] = notice_of(row._mapping)
        return found

    @_transaction
    def get_notice_version(self, notice_id: str, version: int) -> Notice:
        notice = self.get_notice(notice_id)
        if version == notice.version:
            return notice
        v = t.notice_versions.c
        with self._read(f"reading notice {notice_id!r} version {version}") as c:
            row = c.execute(
                sa.select(t.notice_versions).where(v.notice_id == notice_id, v.version == version)
            ).first()
        if row is None:
            raise NotFound(f"no version {version} of notice {notice_id!r}")
        return Notice(
            id=notice.id,
            party=notice.party,
            volumes=volumes_from_json(row.volumes),
            category=row.category,
            filed_at_s=notice.filed_at_s,
            version=version,
            state=notice.state,
            updated_at_s=row.at_s,
        )

    @_transaction
    def list_notices(
        self, party: str | None = None, states: Sequence[NoticeState] | None = None
    ) -> list[Notice]:
        query = sa.select(t.notices).order_by(t.notices.c.filed_at_s, t.notices.c.id)
        if party is not None:
            query = query.where(t.notices.c.party_id == party)
        if states is not None:
            query = query.where(t.notices.c.state.in_([str(s) for s in states]))
        with self._read("listing notices") as c:
            rows = c.execute(query).all()
        return [notice_of(row._mapping) for row in rows]

    @_transaction
    def notice_versions(self, states: Sequence[NoticeState]) -> list[tuple[str, int, NoticeState]]:
        col = t.notices.c
        query = (
            sa.select(col.id, col.version, col.state)
            .where(col.state.in_([str(s) for s in states]))
            .order_by(col.filed_at_s, col.id)
        )
        with self._read("listing notice versions") as c:
            return [(row.id, row.version, NoticeState(row.state)) for row in c.execute(query)]

    # plans ------------------------------------------------------------------------------------

    @_transaction
    def add_plan(self, plan: Plan) -> None:
        with self._write(f"adding plan {plan.id!r}") as c:
            c.execute(
                sa.insert(t.plans).values(
                    id=plan.id,
                    party_id=plan.party,
                    version=plan.version,
                    state=str(plan.state),
                    volumes=volumes_to_json(plan.volumes),
                    created_at_s=plan.created_at_s,
                    updated_at_s=plan.updated_at_s,
                )
            )
            self._plan_version(c, plan, plan.created_at_s)
            self._log(c, "plan.added", plan.id, plan.created_at_s, plan)

    @staticmethod
    def _plan_version(c: sa.Connection, plan: Plan, at_s: float) -> None:
        c.execute(
            sa.insert(t.plan_versions).values(
                plan_id=plan.id,
                version=plan.version,
                volumes=volumes_to_json(plan.volumes),
                at_s=at_s,
            )
        )

    @_transaction
    def update_plan(self, plan: Plan, *, expected_version: int, verb: str) -> None:
        at_s = plan.updated_at_s if plan.updated_at_s is not None else plan.created_at_s
        with self._write(f"updating plan {plan.id!r}") as c:
            done = c.execute(
                sa.update(t.plans)
                .where(t.plans.c.id == plan.id, t.plans.c.version == expected_version)
                .values(
                    version=plan.version,
                    state=str(plan.state),
                    volumes=volumes_to_json(plan.volumes),
                    updated_at_s=plan.updated_at_s,
                )
            )
            if done.rowcount == 0:
                self._missing_or_stale(c, t.plans, "plan", plan.id, expected_version)
            if plan.version != expected_version:
                self._plan_version(c, plan, at_s)
            self._log(c, f"plan.{verb}", plan.id, at_s, plan)

    @_transaction
    def get_plan(self, plan_id: str) -> Plan:
        with self._read(f"reading plan {plan_id!r}") as c:
            row = c.execute(sa.select(t.plans).where(t.plans.c.id == plan_id)).first()
        if row is None:
            raise NotFound(f"no plan {plan_id!r}")
        return plan_of(row._mapping)

    @_transaction
    def get_plan_version(self, plan_id: str, version: int) -> Plan:
        plan = self.get_plan(plan_id)
        if version == plan.version:
            return plan
        v = t.plan_versions.c
        with self._read(f"reading plan {plan_id!r} version {version}") as c:
            row = c.execute(
                sa.select(t.plan_versions).where(v.plan_id == plan_id, v.version == version)
            ).first()
        if row is None:
            raise NotFound(f"no version {version} of plan {plan_id!r}")
        return Plan(
            id=plan.id,
            party=plan.party,
            volumes=volumes_from_json(row.volumes),
            created_at_s=plan.created_at_s,
            version=version,
            state=plan.state,
            updated_at_s=row.at_s,
        )

    @_transaction
    def list_plans(self, party: str | None = None, current_only: bool = True) -> list[Plan]:
        query = sa.select(t.plans).order_by(t.plans.c.created_at_s, t.plans.c.id)
        if party is not None:
            query = query.where(t.plans.c.party_id == party)
        if current_only:
            query = query.where(t.plans.c.state == str(PlanState.CURRENT))
        with self._read("listing plans") as c:
            rows = c.execute(query).all()
        return [plan_of(row._mapping) for row in rows]

    # change log and detector ------------------------------------------------------------------

    @_transaction
    def changes_after(self, seq: int, limit: int | None = None) -> list[Change]:
        query = sa.select(t.changes).where(t.changes.c.seq > seq).order_by(t.changes.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._read("reading the change log") as c:
            rows = c.execute(query).all()
        return [change_of(row) for row in rows]

    @_transaction
    def latest_changes(self, upto_seq: int, entities: Sequence[str]) -> list[Change]:
        col = t.changes.c
        last = (
            sa.select(sa.func.max(col.seq))
            .where(col.seq <= upto_seq, col.entity.in_(list(entities)))
            .group_by(col.entity, col.entity_id)
        )
        query = sa.select(t.changes).where(col.seq.in_(last)).order_by(col.seq)
        with self._read("reading the change log") as c:
            rows = c.execute(query).all()
        return [change_of(row) for row in rows]

    @_transaction
    def detector_cursor(self) -> int:
        with self._read("reading the detector cursor") as c:
            seq = c.execute(
                sa.select(t.cursors.c.seq).where(t.cursors.c.name == _DETECTOR)
            ).scalar()
        return 0 if seq is None else int(seq)

    def commit_detection(self, detection: Detection, fence: int | None = None) -> None:
        self.commit_detections([detection], fence)

    @_transaction
    def commit_detections(self, detections: Sequence[Detection], fence: int | None = None) -> None:
        if not detections:
            return
        first = min(d.seq for d in detections)
        last = max(d.seq for d in detections)
        with self._write(f"recording detections at changes {first} to {last}") as c:
            if fence is not None:
                lease.fence(c, fence)
            current = c.execute(_DETECTOR_CURSOR).scalar()
            if current is not None and current >= first:
                raise StoreError(f"change {first} was already processed (cursor at {current})")
            found = [conflict for d in detections for conflict in d.new_conflicts]
            stored = self._stored_conflicts(c, [conflict.id for conflict in found])
            log: list[LogItem] = []
            new: list[Conflict] = []
            resolved: list[Conflict] = []
            notifications: list[Notification] = []
            for d in detections:  # the log in the detector's order: each row's outputs together
                at_s = d.at_s
                for conflict in d.new_conflicts:
                    if conflict.id not in stored:
                        stored.add(conflict.id)
                        new.append(conflict)
                        log.append(("conflict.detected", conflict.id, at_s, conflict))
                for conflict in d.resolved_conflicts:
                    resolved.append(conflict)
                    log.append(("conflict.resolved", conflict.id, at_s, conflict))
                for n in d.notifications:
                    notifications.append(n)
                    log.append(("notification.created", n.id, at_s, n))
            if new:
                insert_many(c, t.conflicts, [conflict_values(conflict) for conflict in new])
            if resolved:
                c.execute(
                    _RESOLVE_CONFLICT,
                    [
                        {
                            "target_id": conflict.id,
                            "state": str(conflict.state),
                            "resolved_at_s": conflict.resolved_at_s,
                        }
                        for conflict in resolved
                    ],
                )
            if notifications:
                insert_many(c, t.notifications, [notification_values(n) for n in notifications])
            self._log_many(c, log)
            if current is None:
                c.execute(sa.insert(t.cursors).values(name=_DETECTOR, seq=last))
            else:
                c.execute(_MOVE_DETECTOR_CURSOR, {"seq": last})

    @staticmethod
    def _stored_conflicts(c: sa.Connection, ids: Sequence[str]) -> set[str]:
        stored: set[str] = set()
        for lo in range(0, len(ids), _CHUNK):
            chunk = list(ids[lo : lo + _CHUNK])
            stored.update(c.execute(_STORED_CONFLICTS, {"ids": chunk}).scalars())
        return stored

    @_transaction
    def acquire_lease(self, now_s: float, ttl_s: float, held: int | None = None) -> int | None:
        if held is None and self._unit is None:
            # On standby: a plain read first, so a process that does not hold the lease does
            # not queue behind every writer (the write turn) each time it checks.
            with self._read("reading the detector lease") as c:
                if lease.held_by_another(c, round(now_s * 1000)):
                    return None
        with self._write("taking the detector lease") as c:
            return lease.acquire(c, round(now_s * 1000), round(ttl_s * 1000), held)

    @_transaction
    def release_lease(self, held: int) -> None:
        with self._write("releasing the detector lease") as c:
            lease.release(c, held)

    # conflicts and notifications --------------------------------------------------------------

    @_transaction
    def get_conflict(self, conflict_id: str) -> Conflict:
        with self._read(f"reading conflict {conflict_id!r}") as c:
            row = c.execute(sa.select(t.conflicts).where(t.conflicts.c.id == conflict_id)).first()
        if row is None:
            raise NotFound(f"no conflict {conflict_id!r}")
        return conflict_of(row._mapping)

    @_transaction
    def list_conflicts(
        self,
        party: str | None = None,
        state: ConflictState | None = None,
        record: tuple[RecordKind, str] | None = None,
    ) -> list[Conflict]:
        col = t.conflicts.c
        query = sa.select(t.conflicts).order_by(col.detected_at_s, col.id)
        if party is not None:
            query = query.where(sa.or_(col.a_party == party, col.b_party == party))
        if state is not None:
            query = query.where(col.state == str(state))
        if record is not None:
            kind, record_id = str(record[0]), record[1]
            query = query.where(
                sa.or_(
                    sa.and_(col.a_kind == kind, col.a_record_id == record_id),
                    sa.and_(col.b_kind == kind, col.b_record_id == record_id),
                )
            )
        with self._read("listing conflicts") as c:
            rows = c.execute(query).all()
        return [conflict_of(row._mapping) for row in rows]

    @_transaction
    def get_notification(self, notification_id: str) -> Notification:
        col = t.notifications.c
        with self._read(f"reading notification {notification_id!r}") as c:
            row = c.execute(sa.select(t.notifications).where(col.id == notification_id)).first()
        if row is None:
            raise NotFound(f"no notification {notification_id!r}")
        return notification_of(row._mapping)

    @_transaction
    def list_notifications(
        self,
        party: str | None = None,
        *,
        include_relayed: bool = True,
        since_s: float | None = None,
        undelivered: bool = False,
        ack_due_by_s: float | None = None,
    ) -> list[Notification]:
        col = t.notifications.c
        query = sa.select(t.notifications).order_by(col.created_at_s, col.id)
        if party is not None:
            if include_relayed:
                query = query.where(sa.or_(col.recipient == party, col.via == party))
            else:
                query = query.where(col.recipient == party)
        if since_s is not None:
            query = query.where(col.created_at_s >= since_s)
        if undelivered:
            query = query.where(col.delivered_at_s.is_(None))
        if ack_due_by_s is not None:
            waiting = [str(NotificationState.PENDING), str(NotificationState.DELIVERED)]
            query = query.where(col.ack_deadline_s <= ack_due_by_s, col.state.in_(waiting))
        with self._read("listing notifications") as c:
            rows = c.execute(query).all()
        return [notification_of(row._mapping) for row in rows]

    def update_notification(self, notification: Notification, verb: str) -> None:
        self.update_notifications([notification], verb)

    @_transaction
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
        with self._write(doing) as c:
            if update_many(c, t.notifications, "id", rows) != len(rows):  # or not told: look
                self._all_notifications_exist(c, [n.id for n in notifications])
            self._log_many(c, log)

    @staticmethod
    def _all_notifications_exist(c: sa.Connection, ids: Sequence[str]) -> None:
        have: set[str] = set()
        for lo in range(0, len(ids), _CHUNK):
            chunk = list(ids[lo : lo + _CHUNK])
            have.update(c.execute(_STORED_NOTIFICATIONS, {"ids": chunk}).scalars())
        for notification_id in ids:
            if notification_id not in have:
                raise NotFound(f"no notification {notification_id!r}")
