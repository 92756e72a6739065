"""PostgreSQL: room on each page of ``authorizations`` for updated row versions.

Every token fetch notes a grant's use (at most every five minutes) and every refresh rewrites
its tokens. With full pages, each such update writes its new row version to another page and
so a new entry in every index of the table (five); with room on the page it is a HOT update,
which touches no index. Measured by ``bench.scale``: at 1,000,000 connections, when most fetches
note a use. Pages written before this migration keep no room until rewritten
(``VACUUM FULL authorizations`` during a quiet hour). SQLite has no such setting.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FILLFACTOR = 80


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE authorizations SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE authorizations RESET (fillfactor)")
