"""The SQL store's plans: adding and updating them (each version kept in ``plan_versions``, an
update compare-and-set on the version read), and reading them back."""

from __future__ import annotations

import sqlalchemy as sa

from deconflict.errors import NotFound
from deconflict.model import Plan, PlanState
from deconflict.store import schema as t
from deconflict.store.codec import volumes_from_json, volumes_to_json
from deconflict.store.records import SqlRecords, after_key, missing_or_stale
from deconflict.store.rows import plan_of
from deconflict.store.transactions import transaction
from deconflict.store.tx import Tx

__all__ = ["SqlPlans"]


class SqlPlans(SqlRecords):
    """Plans and their versions."""

    @transaction
    def add_plan(self, plan: Plan) -> None:
        with self.write_connection(f"adding plan {plan.key!r}") as c:
            c.execute(
                sa.insert(t.plans).values(
                    id=plan.key,
                    party_id=plan.party,
                    version=plan.version,
                    state=str(plan.state),
                    volumes=volumes_to_json(plan.volumes),
                    created_at_s=plan.created_at_s,
                    updated_at_s=plan.updated_at_s,
                    start_s=plan.start_s,
                    end_s=plan.end_s,
                )
            )
            self._plan_version(c, plan, plan.created_at_s)
            self._log(c, "plan.added", plan.key, plan.created_at_s, plan)

    @staticmethod
    def _plan_version(c: Tx, plan: Plan, at_s: float) -> None:
        c.execute(
            sa.insert(t.plan_versions).values(
                plan_id=plan.key,
                version=plan.version,
                volumes=volumes_to_json(plan.volumes),
                at_s=at_s,
            )
        )

    @transaction
    def update_plan(self, plan: Plan, *, expected_version: int, verb: str) -> None:
        at_s = plan.updated_at_s if plan.updated_at_s is not None else plan.created_at_s
        with self.write_connection(f"updating plan {plan.key!r}") as c:
            done = c.execute(
                sa.update(t.plans)
                .where(t.plans.c.id == plan.key, t.plans.c.version == expected_version)
                .values(
                    version=plan.version,
                    state=str(plan.state),
                    volumes=volumes_to_json(plan.volumes),
                    updated_at_s=plan.updated_at_s,
                    start_s=plan.start_s,
                    end_s=plan.end_s,
                )
            )
            if done.rowcount == 0:
                missing_or_stale(c, t.plans, "plan", plan.key, expected_version)
            if plan.version != expected_version:
                self._plan_version(c, plan, at_s)
            self._log(c, f"plan.{verb}", plan.key, at_s, plan)

    @transaction
    def get_plan(self, key: str) -> Plan:
        with self.read_connection(f"reading plan {key!r}") as c:
            row = c.execute(sa.select(t.plans).where(t.plans.c.id == key)).first()
        if row is None:
            raise NotFound(f"no plan {key!r}")
        return plan_of(row._mapping)

    @transaction
    def get_plan_version(self, key: str, version: int) -> Plan:
        plan = self.get_plan(key)
        if version == plan.version:
            return plan
        v = t.plan_versions.c
        with self.read_connection(f"reading plan {key!r} version {version}") as c:
            row = c.execute(
                sa.select(t.plan_versions).where(v.plan_id == key, v.version == version)
            ).first()
        if row is None:
            raise NotFound(f"no version {version} of plan {key!r}")
        return Plan(
            id=plan.id,
            party=plan.party,
            volumes=volumes_from_json(row.volumes),
            created_at_s=plan.created_at_s,
            version=version,
            state=plan.state,
            updated_at_s=row.at_s,
        )

    @transaction
    def list_plans(
        self,
        party: str | None = None,
        current_only: bool = True,
        *,
        after: str | None = None,
        limit: int | None = None,
        active: tuple[float, float] | None = None,
    ) -> list[Plan]:
        col = t.plans.c
        query = sa.select(t.plans).order_by(col.created_at_s, col.id).limit(limit)
        if party is not None:
            query = query.where(col.party_id == party)
        if current_only:
            query = query.where(col.state == str(PlanState.CURRENT))
        if active is not None:  # from the window's start on, by the index on (party, end)
            query = query.where(col.end_s > active[0], col.start_s < active[1])
        with self.read_connection("listing plans") as c:
            if after is not None:
                created_at_s = c.execute(
                    sa.select(col.created_at_s).where(col.id == after)
                ).scalar()
                if created_at_s is None:
                    raise NotFound(f"no plan {after!r}")
                query = query.where(after_key(col.created_at_s, col.id, (created_at_s, after)))
            rows = c.execute(query).all()
        return [plan_of(row._mapping) for row in rows]
