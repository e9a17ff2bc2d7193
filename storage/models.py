"""The typed models of the registries and the audit log.

Owns the schema (tables, constraints, their names). Holds no queries and no business rules
beyond what the database itself must enforce.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# MariaDB's default character set may be latin1; Chinese text needs utf8mb4 on every table.
# Binary collation: keys compare exactly as on SQLite and PostgreSQL (no case or width folding).
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a named CHECK constraint, storing the values."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class UnitKind(enum.Enum):
    SECTION = "section"  # 股室
    SUBUNIT = "subunit"  # 二级机构


class CertificateStatus(enum.Enum):
    VALID = "valid"  # 有效
    SUSPENDED = "suspended"  # 暂扣
    REVOKED = "revoked"  # 注销


class EntityStatus(enum.Enum):
    ACTIVE = "active"  # 存续
    SUSPENDED = "suspended"  # 停业
    DEREGISTERED = "deregistered"  # 注销
    REVOKED = "revoked"  # 吊销
    MOVED_OUT = "moved_out"  # 迁出


class CreditGrade(enum.Enum):
    A = "A"
    B = "B"
    C = "C"


class Unit(Base):
    """A 股室 or 二级机构 of the bureau: proposes spot checks and holds officers."""

    __tablename__ = "units"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[UnitKind] = mapped_column(_enum(UnitKind, "kind"))


class Person(Base):
    """Anyone who uses suiji: officers, leaders, registry admins and witnesses."""

    __tablename__ = "people"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    is_officer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_witness: Mapped[bool] = mapped_column(Boolean, default=False)
    team_leader_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    dingtalk_userid: Mapped[str | None] = mapped_column(String(64), unique=True)

    unit: Mapped[Unit] = relationship(lazy="raise")
    certificates: Mapped[list[Certificate]] = relationship(
        back_populates="person", lazy="raise", order_by="Certificate.valid_until"
    )


class Certificate(Base):
    """An enforcement certificate (执法证). Only a valid one makes its holder drawable."""

    __tablename__ = "certificates"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    authority: Mapped[str] = mapped_column(String(100))
    valid_until: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[CertificateStatus] = mapped_column(_enum(CertificateStatus, "status"))

    person: Mapped[Person] = relationship(back_populates="certificates", lazy="raise")


class Entity(Base):
    """An employer in the entity registry (监管对象名录库), keyed by its USCC."""

    __tablename__ = "entities"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    district: Mapped[str] = mapped_column(String(50), index=True)
    grid: Mapped[str] = mapped_column(String(50))
    industry: Mapped[str] = mapped_column(String(100))
    employee_count: Mapped[int] = mapped_column(Integer)
    credit_grade: Mapped[CreditGrade | None] = mapped_column(_enum(CreditGrade, "credit_grade"))
    complaints_12m: Mapped[int] = mapped_column(Integer)
    serious_violation: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[EntityStatus] = mapped_column(_enum(EntityStatus, "status"), index=True)
    last_inspected: Mapped[dt.date | None] = mapped_column(Date)


class Recusal(Base):
    """A declared conflict of interest: this officer may not inspect this employer."""

    __tablename__ = "recusals"
    __table_args__ = (UniqueConstraint("person_id", "entity_id"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    declared_on: Mapped[dt.date] = mapped_column(Date)


class SpotCheckItem(Base):
    """One version of an item of the public spot-check item list (随机抽查事项清单).

    A change to an item closes its current version and adds the next one, so the list as it
    stood on any day can be shown.
    """

    __tablename__ = "spot_check_items"
    __table_args__ = (UniqueConstraint("code", "version"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    methods: Mapped[list[str]] = mapped_column(JSON)
    default_ratio: Mapped[Decimal] = mapped_column(Numeric(6, 2))  # percent
    frequency_per_year: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One row of the append-only audit log, chained to the previous row by SHA-256."""

    __tablename__ = "audit_log"
    __table_args__ = MYSQL_TABLE_OPTIONS

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    subject_kind: Mapped[str] = mapped_column(String(50))
    subject_key: Mapped[str] = mapped_column(String(200))
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    after: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row naming the last audit entry.

    Appending locks this row first, so appends serialize across processes on every backend,
    and deleting the newest audit rows is detectable.
    """

    __tablename__ = "audit_head"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


# --- the working-day calendar -------------------------------------------------------------------


class CalendarDayKind(enum.Enum):
    HOLIDAY = "holiday"  # 放假
    WORKDAY = "workday"  # 调休上班 (a weekend day worked)


class CalendarYear(Base):
    """A year of the State Council's holiday notice as the site imported it (``suiji calendar
    import``): it overrides chinesecalendar for that year. A year may list no days at all."""

    __tablename__ = "calendar_years"
    __table_args__ = MYSQL_TABLE_OPTIONS

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    notice: Mapped[str] = mapped_column(String(200), default="")  # the notice's title, if given
    source: Mapped[str] = mapped_column(String(255))  # the file's name
    sha256: Mapped[str] = mapped_column(String(64))  # of the file's bytes
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    days: Mapped[list[CalendarDay]] = relationship(
        order_by="CalendarDay.day", cascade="all, delete-orphan"
    )


class CalendarDay(Base):
    """One holiday or 调休 working day of an imported year."""

    __tablename__ = "calendar_days"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_years.year"), index=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True)
    kind: Mapped[CalendarDayKind] = mapped_column(_enum(CalendarDayKind, "kind"))
    name: Mapped[str] = mapped_column(String(50), default="")  # the festival, as the file says


# --- plans, campaigns and draws ---------------------------------------------------------------

# MariaDB's TEXT holds 64 KiB; frozen pools and draw records can run to tens of megabytes.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class DecisionState(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AbsenceApprover(enum.Enum):
    """Who decides an officer's 「无法参加」: the team leader, the unit leader, or nobody."""

    TEAM_LEADER = "team_leader"
    UNIT_LEADER = "unit_leader"
    AUTO = "auto"


class CampaignState(enum.Enum):
    DRAFT = "draft"
    COMMITTED = "committed"  # pools frozen, entropy sources and secret commitment published
    DRAWN = "drawn"


class AnnualPlan(Base):
    """The year's spot-check plan (年度抽查计划): the needs units propose, each approved."""

    __tablename__ = "annual_plans"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    needs: Mapped[list[PlanNeed]] = relationship(
        back_populates="plan", lazy="raise", order_by="PlanNeed.id"
    )


class PlanNeed(Base):
    """A unit's proposed spot check for the year, or a supplement during it."""

    __tablename__ = "plan_needs"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("annual_plans.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    items: Mapped[list[str]] = mapped_column(JSON)  # item codes
    scope: Mapped[str] = mapped_column(String(500))
    proposed_ratio: Mapped[Decimal] = mapped_column(Numeric(6, 2))  # percent
    timing: Mapped[str] = mapped_column(String(100))
    supplement: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[DecisionState] = mapped_column(_enum(DecisionState, "state"))
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(String(500))

    plan: Mapped[AnnualPlan] = relationship(back_populates="needs", lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")


class Campaign(Base):
    """One spot check (实施方案): what, when, who may be drawn and how teams are made."""

    __tablename__ = "campaigns"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    plan_need_id: Mapped[int | None] = mapped_column(ForeignKey("plan_needs.id"))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{code, version, name}]
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(Text)
    methods: Mapped[list[str]] = mapped_column(JSON)
    officers_per_team: Mapped[int] = mapped_column(Integer)
    team_count: Mapped[int | None] = mapped_column(Integer)  # None: one team per employer
    leader_ids: Mapped[list[int]] = mapped_column(JSON)  # appointed, in team order
    confidential: Mapped[bool] = mapped_column(Boolean)
    use_of_results: Mapped[str] = mapped_column(Text)
    absence_approver: Mapped[AbsenceApprover] = mapped_column(
        _enum(AbsenceApprover, "absence_approver")
    )
    exclusion_months: Mapped[int] = mapped_column(Integer)
    yearly_cap: Mapped[int] = mapped_column(Integer)
    algorithm: Mapped[str] = mapped_column(String(30))
    strata: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{label, ratio, minimum}]
    entropy_sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    officer_exclusions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{person_id, reason}]
    state: Mapped[CampaignState] = mapped_column(_enum(CampaignState, "state"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The bureau's date the last team's report was approved: the campaign is then shown as
    # ``reported`` (a state of its own, not a value of ``state``, which stays "drawn" so that
    # SQLite need not rebuild the table its rows hang on), and the 20 working days of 一公开
    # run from it.
    reported_on: Mapped[dt.date | None] = mapped_column(Date)

    unit: Mapped[Unit] = relationship(lazy="raise")


class DrawCommitment(Base):
    """What was fixed before the draw: frozen pools, strata, sources and the secret's hash.

    ``document`` is the canonical JSON published at commit; ``secret`` stays here, unpublished,
    until the first run reveals it.
    """

    __tablename__ = "draw_commitments"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    committed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    committed_by: Mapped[str] = mapped_column(String(100))
    document: Mapped[str] = mapped_column(LongText)
    document_sha256: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str] = mapped_column(String(100))


class DrawRun(Base):
    """One run of a committed draw. A second run needs a recorded reason; all runs are kept."""

    __tablename__ = "draw_runs"
    __table_args__ = (UniqueConstraint("campaign_id", "seq"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    seq: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    run_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[str] = mapped_column(LongText)  # canonical JSON of this run


class DrawReseed(Base):
    """A fresh secret for drawing again, committed (its SHA-256 published) before the new
    entropy is known, so that nobody can search for values that give a result they want."""

    __tablename__ = "draw_reseeds"
    __table_args__ = (UniqueConstraint("campaign_id", "run_seq"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    run_seq: Mapped[int] = mapped_column(Integer)  # the run this secret is for (2, 3, …)
    secret: Mapped[str] = mapped_column(String(100))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class Team(Base):
    """An inspection team of the campaign's current draw."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("campaign_id", "number"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    draw_run_id: Mapped[int] = mapped_column(ForeignKey("draw_runs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    leader_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    short_by: Mapped[int] = mapped_column(Integer, default=0)


class TeamEmployer(Base):
    """An employer a team inspects."""

    __tablename__ = "team_employers"
    __table_args__ = (UniqueConstraint("team_id", "entity_id"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based, in draw order


class DrawnOfficer(Base):
    """An officer in the campaign's draw order: a team member, or in reserve (no team)."""

    __tablename__ = "drawn_officers"
    __table_args__ = (
        UniqueConstraint("campaign_id", "position"),
        UniqueConstraint("campaign_id", "person_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    draw_run_id: Mapped[int] = mapped_column(ForeignKey("draw_runs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based draw order = substitution order
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)


class AssignmentRole(enum.Enum):
    LEADER = "leader"  # the appointed team leader (not drawn)
    MEMBER = "member"  # a drawn officer, or a substitute


class AssignmentState(enum.Enum):
    NOTIFIED = "notified"  # sent; no answer yet
    CONFIRMED = "confirmed"  # 确认参加
    DECLINED = "declined"  # 无法参加, waiting for the approver
    REPLACED = "replaced"  # excused (absence approved, or a recusal); off the team
    CANCELLED = "cancelled"  # the draw it came from was run again


class Assignment(Base):
    """What one person was given in a campaign: a place on a team, as leader or member.

    Its id is the task number people type (「任务 12」). A member excused from the team keeps
    the row (state ``replaced``); whoever took the place has ``replaces_id`` pointing at it.
    """

    __tablename__ = "assignments"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Not unique with person_id: a draw run again cancels its assignments and makes new ones.
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    team_number: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[AssignmentRole] = mapped_column(_enum(AssignmentRole, "role"))
    state: Mapped[AssignmentState] = mapped_column(_enum(AssignmentState, "state"), index=True)
    position: Mapped[int | None] = mapped_column(Integer)  # in draw order; None for leaders
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))
    reason: Mapped[str | None] = mapped_column(String(500))  # why excused
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ApprovalState(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # what it asked about went away (a draw run again)


class Approval(Base):
    """A request someone in a role must decide: an absence, a plan need, later a report or a
    publication. The engine (bot.workflows.approvals) owns the rules; ``subject`` says what it is
    about."""

    __tablename__ = "approvals"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # absence | plan_need | …
    subject_id: Mapped[int] = mapped_column(Integer)  # the assignment, the need, …
    role: Mapped[str] = mapped_column(String(30))  # team_leader | unit_leader | leader
    approver_ids: Mapped[list[int]] = mapped_column(JSON)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[ApprovalState] = mapped_column(_enum(ApprovalState, "state"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(String(500))


class Conversation(Base):
    """What the bot is waiting for from one person (a reason, a form's next answer), so a
    conversation survives a restart. One at a time per person; it expires."""

    __tablename__ = "conversations"
    __table_args__ = MYSQL_TABLE_OPTIONS

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id"), primary_key=True, autoincrement=False
    )
    topic: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- findings --------------------------------------------------------------------------------


class FindingState(enum.Enum):
    DRAFT = "draft"  # being filled; ``holder_id`` holds it (no row yet: 未填)
    SUBMITTED = "submitted"  # frozen; reopened by a leader with a reason back to draft


class Finding(Base):
    """What a team found at one employer for one spot-check item (检查结果).

    Its id is the number people type (「结果 12」). ``form`` is the definition frozen when
    filling began (``form_sha256`` its hash), so a later edit of the form file never changes
    or breaks it; ``draft`` is the filling state (answers, where the officer is) stored as each
    answer is given, shared by the chat and the page.
    """

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("team_id", "entity_id", "item_code"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[FindingState] = mapped_column(_enum(FindingState, "state"))
    form: Mapped[dict[str, Any]] = mapped_column(JSON)
    form_sha256: Mapped[str] = mapped_column(String(64))
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    answered_by: Mapped[dict[str, Any]] = mapped_column(JSON)  # question id → person id
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    held_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    touched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answers_sha256: Mapped[str | None] = mapped_column(String(64))
    reopened: Mapped[int] = mapped_column(Integer, default=0)


class PhotoState(enum.Enum):
    PENDING = "pending"  # sent in chat; waiting to be downloaded from the platform
    STORED = "stored"  # in the file store under its SHA-256
    FAILED = "failed"  # could not be had; the officer was told


class FindingPhoto(Base):
    """An evidence photo for a finding's photo question: from chat (downloaded in the
    background from the platform's media API) or uploaded on the page."""

    __tablename__ = "finding_photos"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    platform: Mapped[str] = mapped_column(String(20))  # wecom | dingtalk | page
    source: Mapped[str] = mapped_column(String(500))  # media id or download code; "" for uploads
    state: Mapped[PhotoState] = mapped_column(_enum(PhotoState, "state"), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(50))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- the bot: inbound events and the outbox ---------------------------------------------------


class EventState(enum.Enum):
    PENDING = "pending"  # stored and acknowledged; its effects not yet written
    DONE = "done"
    FAILED = "failed"  # gave up after repeated handler errors; kept for an operator


class OutboxState(enum.Enum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender until ``claimed_until``
    SENT = "sent"
    DEAD = "dead"  # gave up; ``last_error`` says why


class InboundEvent(Base):
    """A callback from WeCom or DingTalk, stored before it is acknowledged.

    The unique (platform, dedup_key) makes a retried callback a no-op; moving from pending to
    done happens in the same transaction as the event's effects, so they happen once.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("platform", "dedup_key"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    dedup_key: Mapped[str] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[EventState] = mapped_column(_enum(EventState, "state"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A message to one person, written with the change that caused it and sent later."""

    __tablename__ = "outbox"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, "state"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id"))
    # A card: the question it asks ("approval:5"), to close every card asking it once settled.
    subject: Mapped[str | None] = mapped_column(String(40), index=True)
    # A sent card: the platform's handle to change it (WeCom response_code, DingTalk outTrackId).
    handle: Mapped[str | None] = mapped_column(String(255))
    # A card update: the card it changes (an outbox id). No foreign key: MariaDB checks one
    # within a table row by row, so emptying the outbox would trip over it; a card gone
    # missing is handled as one never delivered.
    card_id: Mapped[int | None] = mapped_column(Integer, index=True)


class RobotSign(Base):
    """A DingTalk robot-callback signature already used. The sign covers only the timestamp,
    so without this one sign would let anyone post any body for an hour."""

    __tablename__ = "robot_signs"
    __table_args__ = MYSQL_TABLE_OPTIONS

    sign: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class ReportState(enum.Enum):
    DRAFT = "draft"  # drafted from the findings; the team leader may add a conclusion
    PENDING = "pending"  # submitted: waiting for a unit leader's decision
    REJECTED = "rejected"  # sent back with a comment; redrafted and submitted again
    APPROVED = "approved"  # frozen: its content hash is in the audit log


class Report(Base):
    """A team's inspection report (执法检查报告), drafted from its submitted findings.

    ``content`` is what the report says, drafted afresh from the findings until it is approved
    and frozen then (``content_sha256``, also audited); ``approval_id`` is the engine's request
    while it waits, and the deciding one after.
    """

    __tablename__ = "reports"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), unique=True)
    state: Mapped[ReportState] = mapped_column(_enum(ReportState, "state"))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    conclusion: Mapped[str | None] = mapped_column(Text)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    drafted_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    drafted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submissions: Mapped[int] = mapped_column(Integer, default=0)


class DeadlineState(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"  # its work is done (or went away): ``closed_why`` says which


class Deadline(Base):
    """One clock of a campaign someone must beat (issue 16): a campaign's start, a team's
    findings and report, an approval waiting, a rectification, the publication.

    Created and closed by the workflow that owns its subject (bot.workflows.deadlines);
    ``last_step`` is the latest reminder step already sent (claimed in the transaction that
    queued it, so that each step goes out once however many processes tick), ``escalation``
    how far up it went. ``base_on`` and ``offset_days`` are the rule's inputs (so many working
    days after a date), kept so that an estimated day (估算, a year the calendar does not cover)
    can be counted again once the year is imported.
    """

    __tablename__ = "deadlines"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    subject_kind: Mapped[str] = mapped_column(String(30))  # campaign | team | approval | finding
    subject_id: Mapped[int] = mapped_column(Integer)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    # No foreign key: a draw run again replaces its teams; their deadlines are closed then and
    # keep the number of a team that is gone.
    team_id: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    rule: Mapped[str] = mapped_column(String(100))
    base_on: Mapped[dt.date | None] = mapped_column(Date)
    offset_days: Mapped[int | None] = mapped_column(Integer)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[DeadlineState] = mapped_column(_enum(DeadlineState, "state"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_why: Mapped[str | None] = mapped_column(String(100))
    escalation: Mapped[int] = mapped_column(Integer, default=0)
    last_step: Mapped[int | None] = mapped_column(Integer)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Which tick claimed ``last_step``: a tick reads back the rows it claimed in one query.
    claim: Mapped[str | None] = mapped_column(String(36), index=True)


class PublicationState(enum.Enum):
    PREPARED = "prepared"  # rows made from the approved reports, not yet asked for
    PENDING = "pending"  # waiting for a bureau leader's decision
    PUBLISHED = "published"  # approved: public from ``published_at``
    REJECTED = "rejected"  # sent back with a comment; prepared again after changes


class Publication(Base):
    """A campaign's results publication (抽查结果公示, issue 17 §1): one per campaign.

    ``rows`` are exactly what is made public, one per employer (name, USCC, campaign, items,
    check dates, unit, result category, and the measure only where the campaign says so),
    never free text or officers; ``content_sha256`` their canonical hash, audited on
    publication; ``late`` whether it was published after the publication deadline was due.
    """

    __tablename__ = "publications"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    state: Mapped[PublicationState] = mapped_column(_enum(PublicationState, "state"))
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    with_measure: Mapped[bool] = mapped_column(Boolean, default=False)
    content_sha256: Mapped[str] = mapped_column(String(64))
    prepared_by: Mapped[str] = mapped_column(String(100))
    prepared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


# --- penalty decisions (issue 17 §1) ----------------------------------------------------------


class PenaltyState(enum.Enum):
    RECORDED = "recorded"  # entered; its publication not yet asked for
    PENDING = "pending"  # its publication waits for a bureau leader's decision
    PUBLISHED = "published"  # approved: public from ``published_at``
    REJECTED = "rejected"  # publication sent back with a comment; asked for again after changes


class Penalty(Base):
    """A penalty decision of the general procedure (行政处罚决定书), recorded to be published
    within 7 working days of ``decided_on`` (双公示).

    ``organ`` / ``organ_uscc`` are the deciding organ as it stood on the decision (kept here,
    not read from the config at export, so a renamed bureau never rewrites old decisions);
    ``finding_id`` the spot-check finding the case came from; ``amount`` the fine in yuan.
    """

    __tablename__ = "penalties"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    violation: Mapped[str] = mapped_column(String(200))
    facts: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON)
    content: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    decided_on: Mapped[dt.date] = mapped_column(Date, index=True)
    organ: Mapped[str] = mapped_column(String(200))
    organ_uscc: Mapped[str] = mapped_column(String(18))
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"))
    state: Mapped[PenaltyState] = mapped_column(_enum(PenaltyState, "state"))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
