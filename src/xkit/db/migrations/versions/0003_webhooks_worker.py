"""Webhooks and the worker: a subscription's description, one delivery row per event and
subscription, the retry counter that drives backoff, and the indexes the worker scans by.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch_op:
        batch_op.add_column(
            sa.Column("description", sa.String(length=200), nullable=False, server_default="")
        )
    with op.batch_alter_table("webhook_deliveries") as batch_op:
        batch_op.add_column(
            sa.Column("failures_in_a_row", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_index("ix_webhook_deliveries_event_id")
        batch_op.drop_index("ix_webhook_deliveries_subscription_id")
        batch_op.create_unique_constraint(
            "uq_webhook_deliveries_event_id", ["event_id", "subscription_id"]
        )
        batch_op.create_index(
            "ix_webhook_deliveries_log", ["subscription_id", "created_at"], unique=False
        )
    with op.batch_alter_table("webhook_events") as batch_op:
        batch_op.create_index("ix_webhook_events_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.create_index(
            "ix_authorizations_status_refreshed", ["status", "last_refreshed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("authorizations") as batch_op:
        batch_op.drop_index("ix_authorizations_status_refreshed")
    with op.batch_alter_table("webhook_events") as batch_op:
        batch_op.drop_index("ix_webhook_events_created_at")
    with op.batch_alter_table("webhook_deliveries") as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_log")
        batch_op.drop_constraint("uq_webhook_deliveries_event_id", type_="unique")
        batch_op.create_index(
            "ix_webhook_deliveries_subscription_id", ["subscription_id"], unique=False
        )
        batch_op.create_index("ix_webhook_deliveries_event_id", ["event_id"], unique=False)
        batch_op.drop_column("failures_in_a_row")
    with op.batch_alter_table("webhook_subscriptions") as batch_op:
        batch_op.drop_column("description")
