"""The sandbox provider's fault switches: one row per sandbox account.

The sandbox (``XKIT_SANDBOX=true``, always on in ``xkit demo``) lets a developer revoke a
grant, fail the next N calls or answer slowly, to try their error handling. Its tokens stay
signed and stateless; a countdown that every replica must share, and a revocation every
replica must see, need a row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xkit.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_switches",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("revoked_before", xkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fail_remaining", sa.Integer(), nullable=False),
        sa.Column("fail_status", sa.Integer(), nullable=False),
        sa.Column("retry_after_seconds", sa.Integer(), nullable=True),
        sa.Column("delay_ms", sa.Integer(), nullable=False),
        sa.Column("updated_at", xkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_sandbox_switches")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_switches")
