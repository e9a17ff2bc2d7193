"""cards: what a card asks, its handle, and the card an update changes

Cards sent before this revision have no subject: they stay as they are, as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("handle", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("card_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_card_id"), ["card_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_card_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_subject"))
        batch_op.drop_column("card_id")
        batch_op.drop_column("handle")
        batch_op.drop_column("subject")
