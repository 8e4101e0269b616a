"""A notice's or plan's id is its party's own (rows keyed by ``<party>/<id>``); need-to-know.

Ids were hub-wide, so filing with an id another party held answered 409 and told a party with no
agreement that a hidden notice or plan existed. Now two parties may each have a notice ``N1``:
every row that names a notice or plan (the record itself, its versions, both sides of a
conflict, a notification's notice, its change-log rows, its ledger subjects) names it by its
record key, ``<party>/<id>`` (``model.ids.record_key``). Ledger entries are not touched: they
name the party and the id apart already, and their bytes are what the log's hashes are over.

``hub_secrets`` keeps what every hub process on the database shares and no party may know: the
key that conflict and notification ids are made with, so that an id names nothing a party could
guess (made on first use, see ``store.secrets``).

Need-to-know (``policy.need_to_know``): each side of a conflict says whether its volume discloses
the other under "conflicts-only" (``a_unlocks``, ``b_unlocks``; a conflict stored before says so
of a notice's side, not of a plan's: plans unlock nothing by default now); a notification says
whether its recipient could see the notice it names (``discloses_notice``) and whether it is
about the recipient's own plan (``private``). What concerns a party's plans is recorded in
``ledger_private``, outside the shared log, and committed to there by the party's periodic
digest entry (``store.ledger_private``).

A party id with a ``/`` cannot be keyed so: the upgrade refuses such a store, naming the party.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# (table, column, parent table): each names a notice or plan by the parent's old id.
_BY_PARENT = (
    ("notice_versions", "notice_id", "notices"),
    ("plan_versions", "plan_id", "plans"),
    ("notifications", "notice_id", "notices"),
)


def _party_of(parent: str, value: str) -> str:
    return f"(SELECT p.party_id FROM {parent} p WHERE p.id = {value})"


def _foreign_keys(bind: sa.Connection) -> list[tuple[str, Any]]:
    """The foreign keys on the version tables (PostgreSQL checks them at each statement)."""
    inspector = sa.inspect(bind)
    return [
        (table, fk)
        for table in ("notice_versions", "plan_versions")
        for fk in inspector.get_foreign_keys(table)
        if fk.get("name")
    ]


def _rekey(forward: bool) -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    fks = _foreign_keys(bind) if postgres else []
    if postgres:
        for table, fk in fks:
            op.drop_constraint(str(fk["name"]), table, type_="foreignkey")
    else:  # SQLite checks them at the commit, then
        op.execute("PRAGMA defer_foreign_keys = ON")
    if forward:
        # What names a notice or plan by its old id is rekeyed first, joined to its parent.
        old_id = "substr(ledger_entries.subject, 8)"  # after 'notice:'
        op.execute(
            f"UPDATE ledger_entries SET subject = 'notice:' || {_party_of('notices', old_id)}"
            f" || '/' || {old_id} WHERE subject LIKE 'notice:%'"
            f" AND EXISTS (SELECT 1 FROM notices p WHERE p.id = {old_id})"
        )
        for entity, parent in (("notice", "notices"), ("plan", "plans")):
            op.execute(
                f"UPDATE changes SET entity_id = {_party_of(parent, 'changes.entity_id')}"
                f" || '/' || entity_id WHERE entity = '{entity}'"
                f" AND EXISTS (SELECT 1 FROM {parent} p WHERE p.id = changes.entity_id)"
            )
        for table, column, parent in _BY_PARENT:
            op.execute(
                f"UPDATE {table} SET {column} = {_party_of(parent, f'{table}.{column}')}"
                f" || '/' || {column} WHERE {column} IS NOT NULL"
                f" AND EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {table}.{column})"
            )
        op.execute(
            "UPDATE conflicts SET a_record_id = a_party || '/' || a_record_id,"
            " b_record_id = b_party || '/' || b_record_id"
        )
        for parent in ("notices", "plans"):
            op.execute(f"UPDATE {parent} SET id = party_id || '/' || id")
    else:
        find = "strpos" if postgres else "instr"
        strip = "substr({col}, " + find + "({col}, '/') + 1)"
        for parent in ("notices", "plans"):
            op.execute(f"UPDATE {parent} SET id = {strip.format(col='id')}")
        op.execute(
            "UPDATE conflicts SET a_record_id = "
            + strip.format(col="a_record_id")
            + ", b_record_id = "
            + strip.format(col="b_record_id")
        )
        for table, column, _parent in _BY_PARENT:
            op.execute(
                f"UPDATE {table} SET {column} = {strip.format(col=column)}"
                f" WHERE {column} IS NOT NULL"
            )
        op.execute(
            f"UPDATE changes SET entity_id = {strip.format(col='entity_id')}"
            " WHERE entity IN ('notice', 'plan')"
        )
        op.execute(
            "UPDATE ledger_entries SET subject = 'notice:' || "
            + strip.format(col="substr(subject, 8)")
            + " WHERE subject LIKE 'notice:%'"
        )
    for table, fk in fks:
        op.create_foreign_key(
            str(fk["name"]),
            table,
            str(fk["referred_table"]),
            list(fk["constrained_columns"]),
            list(fk["referred_columns"]),
        )


def upgrade() -> None:
    slashed = (
        op.get_bind()
        .execute(sa.text("SELECT id FROM parties WHERE id LIKE '%/%' ORDER BY id LIMIT 1"))
        .scalar()
    )
    if slashed is not None:
        raise RuntimeError(
            f"party {slashed!r} has a '/' in its id: this version keys a party's notices and "
            "plans by '<party>/<id>'; rename the party with the version before first"
        )
    _rekey(forward=True)
    for side in ("a", "b"):  # a plan unlocked nothing under the old rules' default: now none
        op.add_column(
            "conflicts",
            sa.Column(f"{side}_unlocks", sa.Boolean(), nullable=False, server_default=sa.true()),
        )
        op.execute(f"UPDATE conflicts SET {side}_unlocks = {side}_kind = 'notice'")
        op.add_column("conflicts", sa.Column(f"{side}_masked", sa.Text()))
    op.add_column(
        "notifications",
        sa.Column("discloses_notice", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "notifications",
        sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "ledger_private",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            primary_key=True,
        ),
        sa.Column("party", sa.String(200), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at_s", sa.Double(), nullable=False),
        sa.Column("version", sa.Integer()),
        sa.Column("commitment", sa.String(64)),
        sa.Column("salt", sa.LargeBinary(32)),
        sa.Column("content", sa.Text()),
        sa.Column("leaf", sa.LargeBinary(32), nullable=False),
        sa.Column("digest_idx", sa.BigInteger()),
    )
    op.create_index(
        "ix_ledger_private_party_digest", "ledger_private", ["party", "digest_idx", "seq"]
    )
    op.create_index("ix_ledger_private_subject", "ledger_private", ["subject", "seq"])
    op.create_table(
        "hub_secrets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.LargeBinary(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hub_secrets")
    op.drop_table("ledger_private")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("private")
        batch.drop_column("discloses_notice")
    with op.batch_alter_table("conflicts") as batch:
        for column in ("b_masked", "a_masked", "b_unlocks", "a_unlocks"):
            batch.drop_column(column)
    _rekey(forward=False)
