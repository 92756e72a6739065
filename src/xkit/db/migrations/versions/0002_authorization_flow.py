"""Where a connect flow reports back: the popup's opener origin or the redirect-mode URL,
and the scopes the flow asked for.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.add_column(
            sa.Column("requested_scopes", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("opener_origin", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("return_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.drop_column("return_url")
        batch_op.drop_column("opener_origin")
        batch_op.drop_column("requested_scopes")
