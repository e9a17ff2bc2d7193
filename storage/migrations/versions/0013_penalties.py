"""penalties

Penalty decisions of the general procedure (issue 17 §1): recorded from the command line or a
sheet, published after a bureau leader's approval within 7 working days (双公示).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "penalties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("violation", sa.String(length=200), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("organ", sa.String(length=200), nullable=False),
        sa.Column("organ_uscc", sa.String(length=18), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "recorded",
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
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("published_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_penalties_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_penalties_entity_id_entities")
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_penalties_finding_id_findings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_penalties")),
        sa.UniqueConstraint("number", name=op.f("uq_penalties_number")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_index(op.f("ix_penalties_entity_id"), "penalties", ["entity_id"], unique=False)
    op.create_index(op.f("ix_penalties_decided_on"), "penalties", ["decided_on"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_penalties_decided_on"), table_name="penalties")
    op.drop_index(op.f("ix_penalties_entity_id"), table_name="penalties")
    op.drop_table("penalties")
