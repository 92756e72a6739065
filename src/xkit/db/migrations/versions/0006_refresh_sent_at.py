"""Authorizations remember that a refresh request went out and its answer is not stored yet.

A process killed between sending a refresh token and committing the provider's answer leaves
the grant rotated at the provider and the old refresh token in the database. The next refresh
is then refused (``invalid_grant``) by providers that rotate strictly; with this mark set, xkit
can tell that loss (``refresh_interrupted``) from a user revoking access.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xkit.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.add_column(
            sa.Column("refresh_sent_at", xkit.db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.drop_column("refresh_sent_at")
