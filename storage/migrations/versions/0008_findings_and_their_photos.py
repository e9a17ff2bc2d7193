"""findings and their photos

A finding per (team, employer, item) as it is filled, with the form frozen into it; evidence
photos wait in finding_photos until the background downloader has them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=50), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "submitted",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("form_sha256", sa.String(length=64), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("answered_by", sa.JSON(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("held_since", storage.types.UTCDateTime(), nullable=True),
        sa.Column("touched_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("answers_sha256", sa.String(length=64), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_findings_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_findings_entity_id_entities")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["people.id"], name=op.f("fk_findings_holder_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["people.id"], name=op.f("fk_findings_started_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["people.id"], name=op.f("fk_findings_submitted_by_id_people")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_findings_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint(
            "team_id",
            "entity_id",
            "item_code",
            name=op.f("uq_findings_team_id_entity_id_item_code"),
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_entity_id"), ["entity_id"], unique=False)

    op.create_table(
        "finding_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "stored",
                "failed",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=50), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("stored_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_finding_photos_finding_id_findings")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_finding_photos_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_photos")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("finding_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finding_photos_finding_id"), ["finding_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_finding_photos_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("finding_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_photos_state"))
        batch_op.drop_index(batch_op.f("ix_finding_photos_finding_id"))

    op.drop_table("finding_photos")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_entity_id"))
        batch_op.drop_index(batch_op.f("ix_findings_campaign_id"))

    op.drop_table("findings")
