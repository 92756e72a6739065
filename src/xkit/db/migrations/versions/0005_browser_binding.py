"""Authorizations remember which browser was sent to the provider: the hash of a random value
that browser holds in a cookie (RFC 6749 §10.12). A callback arriving in any other browser
ends the attempt instead of connecting someone else's account.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.add_column(sa.Column("browser_binding_hash", sa.String(length=64),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.drop_column("browser_binding_hash")
