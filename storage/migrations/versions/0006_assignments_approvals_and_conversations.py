"""assignments approvals and conversations

Campaigns drawn before this revision get their assignments from the teams and the draw order,
as "notified" and already reminded: nobody is sent anything by the upgrade itself
(``suiji campaign notify ID`` sends a campaign's assignments when the bureau is ready).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("approver_ids", sa.JSON(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "cancelled",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["people.id"], name=op.f("fk_approvals_decided_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["people.id"], name=op.f("fk_approvals_requested_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_state"), ["state"], unique=False)

    op.create_table(
        "conversations",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_conversations_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_conversations")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("team_number", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "leader",
                "member",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "notified",
                "confirmed",
                "declined",
                "replaced",
                "cancelled",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("answered_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("reminded_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_assignments_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_assignments_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["assignments.id"], name=op.f("fk_assignments_replaces_id_assignments")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_assignments_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignments_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_assignments_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_state"), ["state"], unique=False)

    _assign_earlier_draws()


def _assign_earlier_draws() -> None:
    now = dt.datetime.now(dt.UTC)
    teams = sa.table(
        "teams",
        sa.column("id", sa.Integer),
        sa.column("campaign_id", sa.Integer),
        sa.column("number", sa.Integer),
        sa.column("leader_id", sa.Integer),
    )
    drawn = sa.table(
        "drawn_officers",
        sa.column("team_id", sa.Integer),
        sa.column("person_id", sa.Integer),
        sa.column("position", sa.Integer),
    )
    assignments = sa.table(
        "assignments",
        sa.column("campaign_id", sa.Integer),
        sa.column("team_id", sa.Integer),
        sa.column("team_number", sa.Integer),
        sa.column("person_id", sa.Integer),
        sa.column("role", sa.String),
        sa.column("state", sa.String),
        sa.column("position", sa.Integer),
        sa.column("created_at", storage.types.UTCDateTime()),
        sa.column("reminded_at", storage.types.UTCDateTime()),
    )
    connection = op.get_bind()
    rows = []
    for team_id, campaign_id, number, leader_id in connection.execute(
        sa.select(teams.c.id, teams.c.campaign_id, teams.c.number, teams.c.leader_id).order_by(
            teams.c.campaign_id, teams.c.number
        )
    ):
        rows.append((campaign_id, team_id, number, leader_id, "leader", None))
    for campaign_id, team_id, number, person_id, position in connection.execute(
        sa.select(
            teams.c.campaign_id, teams.c.id, teams.c.number, drawn.c.person_id, drawn.c.position
        )
        .join(drawn, drawn.c.team_id == teams.c.id)
        .order_by(teams.c.campaign_id, teams.c.number, drawn.c.position)
    ):
        rows.append((campaign_id, team_id, number, person_id, "member", position))
    if rows:
        keys = ("campaign_id", "team_id", "team_number", "person_id", "role", "position")
        op.bulk_insert(
            assignments,
            [
                {**dict(zip(keys, row, strict=True)), "state": "notified"}
                | {"created_at": now, "reminded_at": now}
                for row in rows
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_state"))
        batch_op.drop_index(batch_op.f("ix_assignments_person_id"))
        batch_op.drop_index(batch_op.f("ix_assignments_campaign_id"))

    op.drop_table("assignments")
    op.drop_table("conversations")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvals_state"))

    op.drop_table("approvals")
