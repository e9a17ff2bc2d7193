"""robot signs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "robot_signs",
        sa.Column("sign", sa.String(length=100), nullable=False),
        sa.Column("seen_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sign", name=op.f("pk_robot_signs")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("robot_signs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_robot_signs_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("robot_signs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_robot_signs_seen_at"))

    op.drop_table("robot_signs")
