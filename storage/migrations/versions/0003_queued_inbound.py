"""queued inbound: accept a webhook's message now, let a worker handle it

`HEARD_INBOUND_MODE=queued` stores an inbound message unprocessed and answers the
provider at once; `heard worker` then runs the engine over stored messages in order per
sender (bot/inbox.py). Adds what such a message must carry until then (`link_id`), why
the engine gave up on one (`error`), and a partial index over the waiting rows only
(empty in inline mode). No data to move.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PENDING = sa.text("processed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("error", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "ix_inbound_pending",
            ["id"],
            unique=False,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_pending")
        batch_op.drop_column("error")
        batch_op.drop_column("link_id")
