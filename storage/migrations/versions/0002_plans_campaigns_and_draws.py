"""plans campaigns and draws

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annual_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annual_plans")),
        sa.UniqueConstraint("year", name=op.f("uq_annual_plans_year")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "plan_needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("proposed_ratio", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("timing", sa.String(length=100), nullable=False),
        sa.Column("supplement", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                name=op.f("ck_plan_needs_state"),
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("proposed_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["annual_plans.id"], name=op.f("fk_plan_needs_plan_id_annual_plans")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_plan_needs_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_needs")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("plan_needs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_needs_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("plan_need_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("officers_per_team", sa.Integer(), nullable=False),
        sa.Column("team_count", sa.Integer(), nullable=True),
        sa.Column("leader_ids", sa.JSON(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("use_of_results", sa.Text(), nullable=False),
        sa.Column(
            "absence_approver",
            sa.Enum(
                "team_leader",
                "unit_leader",
                "auto",
                name=op.f("ck_campaigns_absence_approver"),
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("exclusion_months", sa.Integer(), nullable=False),
        sa.Column("yearly_cap", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=30), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("entropy_sources", sa.JSON(), nullable=False),
        sa.Column("officer_exclusions", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "committed",
                "drawn",
                name=op.f("ck_campaigns_state"),
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_need_id"], ["plan_needs.id"], name=op.f("fk_campaigns_plan_need_id_plan_needs")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_campaigns_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "draw_commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("committed_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("committed_by", sa.String(length=100), nullable=False),
        sa.Column(
            "document",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_draw_commitments_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draw_commitments")),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_draw_commitments_campaign_id")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "draw_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("run_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("run_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column(
            "result",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_draw_runs_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draw_runs")),
        sa.UniqueConstraint("campaign_id", "seq", name=op.f("uq_draw_runs_campaign_id_seq")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("draw_run_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("short_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_teams_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["draw_run_id"], ["draw_runs.id"], name=op.f("fk_teams_draw_run_id_draw_runs")
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["people.id"], name=op.f("fk_teams_leader_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("campaign_id", "number", name=op.f("uq_teams_campaign_id_number")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_draw_run_id"), ["draw_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_teams_leader_id"), ["leader_id"], unique=False)

    op.create_table(
        "drawn_officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("draw_run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_drawn_officers_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["draw_run_id"], ["draw_runs.id"], name=op.f("fk_drawn_officers_draw_run_id_draw_runs")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_drawn_officers_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_drawn_officers_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drawn_officers")),
        sa.UniqueConstraint(
            "campaign_id", "person_id", name=op.f("uq_drawn_officers_campaign_id_person_id")
        ),
        sa.UniqueConstraint(
            "campaign_id", "position", name=op.f("uq_drawn_officers_campaign_id_position")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("drawn_officers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_drawn_officers_draw_run_id"), ["draw_run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_drawn_officers_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_drawn_officers_team_id"), ["team_id"], unique=False)

    op.create_table(
        "team_employers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_team_employers_entity_id_entities")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_employers_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_employers")),
        sa.UniqueConstraint(
            "team_id", "entity_id", name=op.f("uq_team_employers_team_id_entity_id")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("team_employers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_team_employers_entity_id"), ["entity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("team_employers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_employers_entity_id"))

    op.drop_table("team_employers")
    with op.batch_alter_table("drawn_officers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drawn_officers_team_id"))
        batch_op.drop_index(batch_op.f("ix_drawn_officers_person_id"))
        batch_op.drop_index(batch_op.f("ix_drawn_officers_draw_run_id"))

    op.drop_table("drawn_officers")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_leader_id"))
        batch_op.drop_index(batch_op.f("ix_teams_draw_run_id"))

    op.drop_table("teams")
    op.drop_table("draw_runs")
    op.drop_table("draw_commitments")
    op.drop_table("campaigns")
    with op.batch_alter_table("plan_needs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_needs_plan_id"))

    op.drop_table("plan_needs")
    op.drop_table("annual_plans")
