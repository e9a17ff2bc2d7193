"""publications

A campaign's results publication (issue 17 §1): the rows made public, approved by a bureau
leader, published (late or not).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "prepared",
                "pending",
                "published",
                "rejected",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("with_measure", sa.Boolean(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("prepared_by", sa.String(length=100), nullable=False),
        sa.Column("prepared_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("published_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_publications_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_publications_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_publications_campaign_id")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )


def downgrade() -> None:
    op.drop_table("publications")
