"""A page of notices is read owner by owner in filing order, never through an index on filing
time alone.

0010's index on (filing time, id) served the list's pages. With statistics (PostgreSQL gathers
them itself; an operator's ``ANALYZE`` on SQLite), the planners read a party's page through it:
every party's notices filed within the page's span were walked and dropped, and the page's cost
counted the notices others filed then, hidden ones too (an eighteenth reader, docs/security.md
§3.5). It is replaced by one on (party, filing time, id): the store reads each owner's range
from the page's cursor, as many as a page holds, and merges them.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_notices_filed", table_name="notices")
    op.create_index("ix_notices_party_filed", "notices", ["party_id", "filed_at_s", "id"])


def downgrade() -> None:
    op.drop_index("ix_notices_party_filed", table_name="notices")
    op.create_index("ix_notices_filed", "notices", ["filed_at_s", "id"])
