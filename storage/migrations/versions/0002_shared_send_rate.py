"""shared send rate: token buckets in the database

One row per channel (or per provider with environment credentials) that every outbox
worker draws from, so M workers send at the channel's rate, not M times it
(sms_gateway/rate_limit.py). No data to move: a missing bucket starts full.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rate_buckets",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("send_rate_buckets")
