"""On PostgreSQL, notices' keys order and compare in code-point order (``COLLATE "C"``).

A viewer's list places the notices it sees in part (read whole, shown by what it may see)
among the store's page of the notices it sees whole, ordered by filing time then key in code
points, as SQLite and Python order them; and a next page starts after the place the last one
ended, compared by the database. On a database whose collation is not C (en-US orders "a"
before "B"), two orders met at notices of one filing time, and paging skipped some (found by a
seventh reader; docs/security.md §3.5). SQLite compares bytes already: nothing changes there.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE notices ALTER COLUMN id TYPE VARCHAR(200) COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE notices ALTER COLUMN id TYPE VARCHAR(200) COLLATE "default"')
