"""New-mail events: the mailboxes followed (with their change cursors and leases) and the
messages already announced (so a cursor reset does not announce them twice).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xkit.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = xkit.db.types.UTCDateTime(timezone=True)
    op.create_table(
        "mail_follows",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("platform_id", sa.String(length=36), nullable=False),
        sa.Column("folders", sa.JSON(), nullable=False),
        sa.Column("cursors", sa.JSON(), nullable=False),
        sa.Column("next_poll_at", moment, nullable=False),
        sa.Column("idle_polls", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", moment, nullable=True),
        sa.Column("synced_at", moment, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name=op.f("fk_mail_follows_connection_id_connections")),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"], ondelete="CASCADE",
                                name=op.f("fk_mail_follows_platform_id_platforms")),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_mail_follows")),
    )
    op.create_index("ix_mail_follows_due", "mail_follows", ["next_poll_at"])
    op.create_index(op.f("ix_mail_follows_platform_id"), "mail_follows", ["platform_id"])
    op.create_table(
        "mail_announced",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("announced_at", moment, nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name=op.f("fk_mail_announced_connection_id_connections")),
        sa.PrimaryKeyConstraint("connection_id", "message_id", name=op.f("pk_mail_announced")),
    )
    op.create_index("ix_mail_announced_age", "mail_announced", ["announced_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_announced_age", table_name="mail_announced")
    op.drop_table("mail_announced")
    op.drop_index(op.f("ix_mail_follows_platform_id"), table_name="mail_follows")
    op.drop_index("ix_mail_follows_due", table_name="mail_follows")
    op.drop_table("mail_follows")
