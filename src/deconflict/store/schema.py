"""The tables, as SQLAlchemy Core objects the queries are written against.

Portable on purpose (SQLite now, PostgreSQL later): plain types, JSON kept as text, times as
double-precision epoch seconds, the change log's ``seq`` an identity column. The schema itself is
created and evolved only by the Alembic migrations in ``migrations/versions``; a change here needs
a new migration there.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "agreements",
    "changes",
    "conflict_parties",
    "conflicts",
    "cursors",
    "deliveries",
    "hub_secrets",
    "metadata",
    "notice_versions",
    "notice_volumes",
    "notices",
    "notifications",
    "parties",
    "plan_versions",
    "plans",
    "versions",
]

metadata = sa.MetaData()

Id = sa.String(200)
# A key ordered in code points, as SQLite and Python order it, whatever a PostgreSQL database's
# collation (migration 0021): the lists merge the store's order with their own.
CodePointId = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")
Time: sa.Double[float] = sa.Double()

parties = sa.Table(
    "parties",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at_s", Time, nullable=False),
)

agreements = sa.Table(
    "agreements",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at_s", Time, nullable=False),
)

# How many times a set of records read whole by every read has changed (migration 0024): a
# read asks the version first and reads them again only when it moved.
versions = sa.Table(
    "versions",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", CodePointId, primary_key=True),
    # Found by party through the indexes that lead with it (migration 0027 dropped its own).
    sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # Found by state through the indexes that lead with it (migration 0028 dropped its own).
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("volumes", sa.Text, nullable=False),
    sa.Column("filed_at_s", Time, nullable=False),
    sa.Column("updated_at_s", Time),
    # The earliest volume start and the latest volume end (migration 0007), for the tick.
    sa.Column("start_s", Time),
    sa.Column("end_s", Time),
    # For each volume, the version it last changed at (migration 0017; null: all at version).
    sa.Column("volume_versions", sa.Text),
    sa.Index("ix_notices_state_start", "state", "start_s"),
    sa.Index("ix_notices_state_end", "state", "end_s"),
    # The list's pages, an owner's range at a time (migration 0029; 0010's on the filing time
    # alone let the planners walk every party's notices).
    sa.Index("ix_notices_party_filed", "party_id", "filed_at_s", "id"),
    # A list by owner and state reads only those owners' in that state, in filing order
    # (migrations 0019, 0031).
    sa.Index("ix_notices_party_state", "party_id", "state", "filed_at_s", "id"),
    # Those active in a window read from its start on, not every one ended (migration 0025).
    sa.Index("ix_notices_party_end", "party_id", "end_s"),
)

notice_versions = sa.Table(
    "notice_versions",
    metadata,
    sa.Column("notice_id", Id, sa.ForeignKey("notices.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("volumes", sa.Text, nullable=False),
    sa.Column("at_s", Time, nullable=False),
    # The ledger entry that commits to this version (migration 0009): found from here, not by
    # the ledger's subject index. Null where the ledger kept none.
    sa.Column("ledger_idx", sa.BigInteger),
    sa.Column("volume_versions", sa.Text),  # as the notices' (migration 0017)
)

# Each volume of a notice as it stood from the version it changed at (migration 0034), as
# JSON: a party's conflict with a notice it sees in part reads the one volume it names, not the
# whole version (whose size would cost every read: security.md §4.2). Written beside
# ``notice_versions``; only its ``until_version`` is ever set after.
notice_volumes = sa.Table(
    "notice_volumes",
    metadata,
    sa.Column("notice_id", Id, sa.ForeignKey("notices.id"), primary_key=True),
    sa.Column("volume_id", Id, primary_key=True),
    sa.Column("since_version", sa.Integer, primary_key=True),
    # The version that changed or dropped it; null while the newest version holds it.
    sa.Column("until_version", sa.Integer),
    sa.Column("body", sa.Text, nullable=False),
)
# The rows the newest version holds, which an amendment closes: found by the key alone, every
# row the notice ever had was stepped over, the amendment's write growing with its history.
_open_volumes = notice_volumes.c.until_version.is_(None)
sa.Index(
    "ix_notice_volumes_open",
    notice_volumes.c.notice_id,
    sqlite_where=_open_volumes,
    postgresql_where=_open_volumes,
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("volumes", sa.Text, nullable=False),
    sa.Column("created_at_s", Time, nullable=False),
    sa.Column("updated_at_s", Time),
    # When its volumes start and end (migration 0036: every plan has them; null in no row).
    sa.Column("start_s", Time),
    sa.Column("end_s", Time),
    # A party's current plans a page at a time, in creation order (migration 0035).
    sa.Index("ix_plans_party_state", "party_id", "state", "created_at_s", "id"),
    # Those active in a window (the map's) read from its start on (migration 0036).
    sa.Index("ix_plans_party_end", "party_id", "end_s"),
)


plan_versions = sa.Table(
    "plan_versions",
    metadata,
    sa.Column("plan_id", Id, sa.ForeignKey("plans.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("volumes", sa.Text, nullable=False),
    sa.Column("at_s", Time, nullable=False),
)


def _side(prefix: str) -> list[sa.Column[object]]:
    return [
        sa.Column(f"{prefix}_kind", sa.String(10), nullable=False),
        sa.Column(f"{prefix}_record_id", Id, nullable=False),
        sa.Column(f"{prefix}_version", sa.Integer, nullable=False),
        sa.Column(f"{prefix}_volume_id", Id, nullable=False),
        sa.Column(f"{prefix}_party", Id, nullable=False),
    ]


conflicts = sa.Table(
    "conflicts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    *_side("a"),
    *_side("b"),
    sa.Column("start_s", Time, nullable=False),
    sa.Column("end_s", Time, nullable=False),
    sa.Column("time_gap_s", Time, nullable=False),
    sa.Column("vertical_gap_m", sa.Double, nullable=False),
    sa.Column("horizontal_m", sa.Double, nullable=False),
    sa.Column("detected_at_s", Time, nullable=False),
    # Read with a record or a party, never alone: no index of its own (migration 0027).
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("resolved_at_s", Time),
    # Whether each side's volume discloses the other under "conflicts-only" (migration 0013).
    sa.Column("a_unlocks", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("b_unlocks", sa.Boolean, nullable=False, server_default=sa.true()),
    # What each side's party is told when it may not see the other (migration 0013): the
    # five figures of a ConflictDetail as JSON, null where recorded before.
    sa.Column("a_masked", sa.Text),
    sa.Column("b_masked", sa.Text),
    # Until when each side's party is shown the conflict open, at most (``Conflict.told_until``;
    # migration 0020).
    sa.Column("a_until_s", Time, nullable=False),
    sa.Column("b_until_s", Time, nullable=False),
    # Whether the two records met in more pairs than they list (``hub.pairs``; migration 0037).
    sa.Column("more_pairs", sa.Boolean, nullable=False, server_default=sa.false()),
)
# A record's conflicts, on either side (amend and cancel look them up; migration 0005).
sa.Index("ix_conflicts_a_record", conflicts.c.a_kind, conflicts.c.a_record_id)
sa.Index("ix_conflicts_b_record", conflicts.c.b_kind, conflicts.c.b_record_id)
# A party's conflicts with a notice, on either side (the ones it is shown), and the volumes of
# another party's notices they unlock while shown open to it (migrations 0020 and 0022, after
# 0018's by party and state, which read the conflicts a party is not shown too). Not the state:
# read by state, the steps of a read told whether a hidden notice had ended (a try at one index
# for this and the open list below, found by tests/hub/test_hostile_need_to_know.py).
for _mine, _theirs in (("a", "b"), ("b", "a")):
    sa.Index(
        f"ix_conflicts_{_mine}_shown",
        conflicts.c[f"{_theirs}_kind"],
        conflicts.c[f"{_mine}_party"],
        conflicts.c[f"{_theirs}_party"],
        conflicts.c[f"{_mine}_kind"],
        conflicts.c[f"{_mine}_unlocks"],
        conflicts.c[f"{_theirs}_until_s"],
    )
    # Its conflicts with a notice told open past a time, and those open in the store with an
    # owner it sees whole (migration 0023).
    _shown = (conflicts.c[f"{_theirs}_kind"], conflicts.c[f"{_mine}_party"])
    sa.Index(f"ix_conflicts_{_mine}_told", *_shown, conflicts.c[f"{_mine}_until_s"])
    sa.Index(
        f"ix_conflicts_{_mine}_open", *_shown, conflicts.c[f"{_theirs}_party"], conflicts.c.state
    )

# The conflicts each party is shown (a side whose other side is a notice), once a party, in
# detection order: its pages are read here, as many rows as a page holds whichever side the
# party is on (migration 0026; read by side, a page's cost told how its conflicts split).
conflict_parties = sa.Table(
    "conflict_parties",
    metadata,
    sa.Column("party", Id, primary_key=True),
    sa.Column("detected_at_s", Time, primary_key=True),
    sa.Column("conflict_id", Id, primary_key=True),
    sqlite_with_rowid=False,
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("recipient", Id, nullable=False),
    sa.Column("via", Id),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("notice_id", Id),
    sa.Column("conflict_id", Id),
    # Found by state through the index on state and deadline (migration 0028 dropped its own).
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at_s", Time, nullable=False),
    sa.Column("ack_deadline_s", Time, nullable=False),
    sa.Column("lead_time_s", Time, nullable=False),
    sa.Column("delivered_at_s", Time),
    sa.Column("acknowledged_at_s", Time),
    sa.Column("escalated_at_s", Time),
    # The ledger entry that records its delivery, one for a batch (migration 0012).
    sa.Column("delivery_ledger_idx", sa.BigInteger),
    # Whether the recipient could see the notice when told; whether it is about the
    # recipient's own plan (migration 0013).
    sa.Column("discloses_notice", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
)
# The notifications whose acknowledgement deadline passed, for the tick (migration 0007).
sa.Index("ix_notifications_state_deadline", notifications.c.state, notifications.c.ack_deadline_s)
n = notifications.c
# A party's undelivered ones, in order: only those (migrations 0008 and 0032).
_undelivered = n.delivered_at_s.is_(None)
sa.Index(
    "ix_notifications_recipient_delivered",
    n.recipient,
    n.created_at_s,
    n.id,
    sqlite_where=_undelivered,
    postgresql_where=_undelivered,
)
# A party's notifications paged by (creation time, id), to it and through it (migration 0032).
sa.Index("ix_notifications_recipient_created", n.recipient, n.created_at_s, n.id)
_relayed = n.via.is_not(None)  # a relay's read names it: the others have no entry
sa.Index(
    "ix_notifications_via_created",
    n.via,
    n.created_at_s,
    n.id,
    sqlite_where=_relayed,
    postgresql_where=_relayed,
)
# A party's latest about a conflict or a notice, for the map (migration 0030).
sa.Index(
    "ix_notifications_recipient_about",
    n.recipient,
    n.conflict_id,
    n.notice_id,
    n.created_at_s,
    n.id,
)

changes = sa.Table(
    "changes",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(),
        primary_key=True,
    ),
    sa.Column("entity", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("entity_id", Id, nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("state", sa.String(20)),
    sa.Column("at_s", Time, nullable=False),
    sa.Index("ix_changes_entity", "entity", "entity_id", "seq"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

# What the event streams sent, to be marked delivered (migration 0011): see
# ``SqlNotifications.queue_deliveries``.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("notification_id", Id, primary_key=True),
    sa.Column("at_s", Time, nullable=False),
)

# What every hub process on the database shares and no party may learn (migration 0013): see
# ``store.secrets``.
hub_secrets = sa.Table(
    "hub_secrets",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.LargeBinary(64), nullable=False),
)
