"""A platform's JWT issuers: the app's own login system, whose user JWTs xkit.js may sign in
with instead of a context token (checked against the issuer's JWKS, mapped to a context).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xkit.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jwt_issuers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("platform_id", sa.String(length=36), nullable=False),
        sa.Column("issuer", sa.String(length=2048), nullable=False),
        sa.Column("audience", sa.String(length=2048), nullable=False),
        sa.Column("jwks_url", sa.String(length=2048), nullable=False),
        sa.Column("user_id_claim", sa.String(length=100), nullable=False),
        sa.Column("name_claim", sa.String(length=100), nullable=True),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", xkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_jwt_issuers_platform_id_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jwt_issuers")),
        sa.UniqueConstraint("platform_id", "issuer", name=op.f("uq_jwt_issuers_platform_id")),
    )
    with op.batch_alter_table("jwt_issuers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_jwt_issuers_platform_id"), ["platform_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jwt_issuers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jwt_issuers_platform_id"))
    op.drop_table("jwt_issuers")
