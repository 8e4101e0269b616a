"""A notice version links the ledger entry that commits to it; that entry leaves the subject index.

Every filing appended an entry to the ledger and a key to ``ix_ledger_entries_subject``, the index
that finds a subject's entries (a notice's commitment, a receipt's entry): an index insert on the
filing path that cost it about 3% of its throughput. The entry that commits to a notice version
(``notice.filed`` or ``notice.amended``) is now found from the version itself:
``notice_versions.ledger_idx`` holds its index, written in the version's row, which the filing
writes anyway. The subject index becomes partial: every entry but those two kinds.

The link is filled for the versions already recorded, from their entries (by subject, version and
commitment); a version whose entry is missing keeps a null link, as an audit would report it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The partial index's predicate, as ``deconflict.store.ledger_tables`` writes it.
INDEXED = "type NOT IN ('notice.filed', 'notice.amended')"


def upgrade() -> None:
    op.add_column("notice_versions", sa.Column("ledger_idx", sa.BigInteger()))
    op.execute(
        sa.text(
            "UPDATE notice_versions SET ledger_idx = (SELECT min(e.idx) FROM ledger_entries e "
            "WHERE e.subject = 'notice:' || notice_versions.notice_id "
            "AND e.version = notice_versions.version AND e.salt IS NOT NULL "
            "AND e.type IN ('notice.filed', 'notice.amended'))"
        )
    )
    op.drop_index("ix_ledger_entries_subject", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_entries_subject",
        "ledger_entries",
        ["subject", "idx"],
        sqlite_where=sa.text(INDEXED),
        postgresql_where=sa.text(INDEXED),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_subject", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_subject", "ledger_entries", ["subject", "idx"])
    with op.batch_alter_table("notice_versions") as batch:
        batch.drop_column("ledger_idx")
