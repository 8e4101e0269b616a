"""Plans are recorded in the ledger: each plan version already stored gets its owner's entry.

From this revision on, a plan's every change is its owner's private entry (``plan.added``,
``plan.amended``, ``plan.withdrawn``), committing to the version's volumes, so that ``ledger
verify`` finds a plan deleted or edited (docs/ledger.md). Plans stored before have no entry; this
revision writes one for each of their versions (``plan.recorded``, at the version's time, the
newest with the plan's state), as the store writes a private entry: a fresh salted commitment, its
salt and content kept beside it, its leaf hash, no digest yet (the party's next digest commits to
them, as to any private entry). Plans whose entries are there already are left alone.

Downgrading leaves the entries: older hubs do not read private plan entries, and a digest may
already commit to them.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from deconflict.geo.units import rfc3339_micro
from deconflict.ledger import canonical, leaf_hash
from deconflict.ledger.commit import commit_canonical
from deconflict.model.ids import split_key

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_INSERT = sa.text(
    "INSERT INTO ledger_private (party, type, subject, body, at_s, version, commitment, salt, "
    "content, leaf) VALUES (:party, 'plan.recorded', :subject, :body, :at_s, :version, "
    ":commitment, :salt, :content, :leaf)"
)


def upgrade() -> None:
    c = op.get_bind()
    recorded = {
        row[0]
        for row in c.execute(
            sa.text("SELECT DISTINCT subject FROM ledger_private WHERE type LIKE 'plan.%'")
        )
    }
    plans = c.execute(sa.text("SELECT id, party_id, version, state FROM plans ORDER BY id"))
    for plan in plans.all():
        subject = f"plan:{plan.id}"
        if subject in recorded:
            continue
        versions = c.execute(
            sa.text(
                "SELECT version, volumes, at_s FROM plan_versions WHERE plan_id = :id "
                "ORDER BY version"
            ),
            {"id": plan.id},
        ).all()
        for v in versions:
            plan_id = split_key(plan.id)[1]
            content = {
                "plan": plan_id,
                "party": plan.party_id,
                "version": v.version,
                "volumes": json.loads(v.volumes),
            }
            raw = canonical(content)
            salt, commitment = commit_canonical(raw)
            body = canonical(
                {
                    "type": "plan.recorded",
                    "plan": plan_id,
                    "party": plan.party_id,
                    "version": v.version,
                    "state": plan.state if v.version == plan.version else "current",
                    "at": rfc3339_micro(v.at_s),
                    "commitment": commitment,
                }
            )
            c.execute(
                _INSERT,
                {
                    "party": plan.party_id,
                    "subject": subject,
                    "body": body.decode(),
                    "at_s": v.at_s,
                    "version": v.version,
                    "commitment": commitment,
                    "salt": salt,
                    "content": raw.decode(),
                    "leaf": leaf_hash(body),
                },
            )


def downgrade() -> None:
    pass  # the entries stay: see above
