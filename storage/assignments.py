"""Assignments, approvals and conversations in the database.

Owns the queries behind the chat workflows: a person's assignments, a team's live members, the
reserve in draw order with what substitution must know of each officer (certificate in force,
recusals, other campaigns at the same time), pending approvals, and the one conversation the
bot may be waiting on per person. The rules that use these rows live in bot/ and handlers/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import (
    Approval,
    ApprovalState,
    Assignment,
    AssignmentRole,
    AssignmentState,
    Campaign,
    Conversation,
    DrawnOfficer,
    Entity,
    Person,
    Recusal,
    Team,
    TeamEmployer,
)
from storage.officers import officers_in_force

# On the team: not (yet) excused. A pending 「无法参加」 still counts until it is approved.
ACTIVE = (AssignmentState.NOTIFIED, AssignmentState.CONFIRMED, AssignmentState.DECLINED)


async def lock_campaign(session: AsyncSession, campaign_id: int) -> Campaign | None:
    """The campaign row, locked: substitutions in one campaign happen one at a time.

    The UPDATE comes first so that SQLite takes its write lock now (it has no row locks);
    PostgreSQL and MariaDB lock the row.
    """
    await session.execute(
        update(Campaign).where(Campaign.id == campaign_id).values(state=Campaign.state)
    )
    query = select(Campaign).where(Campaign.id == campaign_id).with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def assignment(
    session: AsyncSession, assignment_id: int, *, lock: bool = False
) -> Assignment | None:
    query = select(Assignment).where(Assignment.id == assignment_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def assignments_of_person(
    session: AsyncSession, person_id: int, ended_after: dt.date
) -> list[tuple[Assignment, Campaign]]:
    """The person's assignments in campaigns ending on or after ``ended_after``, soonest first."""
    rows = await session.execute(
        select(Assignment, Campaign)
        .join(Campaign, Campaign.id == Assignment.campaign_id)
        .where(
            Assignment.person_id == person_id,
            Campaign.end_on >= ended_after,
            Assignment.state != AssignmentState.CANCELLED,
        )
        .order_by(Campaign.start_on, Assignment.id)
    )
    return [(a, c) for a, c in rows]


async def assignments_of_campaign(session: AsyncSession, campaign_id: int) -> list[Assignment]:
    rows = await session.execute(
        select(Assignment)
        .where(Assignment.campaign_id == campaign_id)
        .order_by(Assignment.team_number, Assignment.role, Assignment.position, Assignment.id)
    )
    return list(rows.scalars())


async def team(session: AsyncSession, team_id: int, *, lock: bool = False) -> Team | None:
    query = select(Team).where(Team.id == team_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def team_employers(session: AsyncSession, team_id: int) -> list[Entity]:
    rows = await session.execute(
        select(Entity)
        .join(TeamEmployer, TeamEmployer.entity_id == Entity.id)
        .where(TeamEmployer.team_id == team_id)
        .order_by(TeamEmployer.position)
    )
    return list(rows.scalars())


async def team_members(session: AsyncSession, team_id: int) -> list[tuple[Assignment, Person]]:
    """Everyone given a place on the team, leader first, then members in draw order."""
    rows = await session.execute(
        select(Assignment, Person)
        .join(Person, Person.id == Assignment.person_id)
        .where(Assignment.team_id == team_id)
        .order_by(Assignment.role, Assignment.position, Assignment.id)
    )
    return [(a, p) for a, p in rows]


async def reserve(session: AsyncSession, campaign_id: int) -> list[tuple[int, int]]:
    """(position, person id) of drawn officers never given a place in this campaign, in draw
    order: everyone after the last team member, and anyone skipped for a recusal."""
    placed = select(Assignment.person_id).where(
        Assignment.campaign_id == campaign_id, Assignment.state != AssignmentState.CANCELLED
    )
    rows = await session.execute(
        select(DrawnOfficer.position, DrawnOfficer.person_id)
        .where(DrawnOfficer.campaign_id == campaign_id, DrawnOfficer.person_id.not_in(placed))
        .order_by(DrawnOfficer.position)
    )
    return [(position, pid) for position, pid in rows]


async def drawable_ids(session: AsyncSession, through: dt.date) -> set[int]:
    """People whose certificate is in force today through ``through`` (持证上岗)."""
    return {pid for pid, _ in await officers_in_force(session, through)}


async def busy_ids(
    session: AsyncSession, start: dt.date, end: dt.date, other_than: int
) -> set[int]:
    """People on a team of another campaign whose dates overlap [start, end]."""
    rows = await session.execute(
        select(Assignment.person_id)
        .join(Campaign, Campaign.id == Assignment.campaign_id)
        .where(
            Campaign.id != other_than,
            Campaign.start_on <= end,
            Campaign.end_on >= start,
            Assignment.state.in_(ACTIVE),
        )
    )
    return set(rows.scalars())


async def recused_entities(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, set[int]]:
    """Entity ids each person has recused from."""
    found: dict[int, set[int]] = {}
    if not person_ids:
        return found
    rows = await session.execute(
        select(Recusal.person_id, Recusal.entity_id).where(Recusal.person_id.in_(person_ids))
    )
    for pid, entity_id in rows:
        found.setdefault(pid, set()).add(entity_id)
    return found


async def leaders(session: AsyncSession, unit_id: int | None = None) -> list[Person]:
    """The bureau's leaders, or one unit's."""
    query = select(Person).where(Person.is_leader.is_(True)).order_by(Person.id)
    if unit_id is not None:
        query = query.where(Person.unit_id == unit_id)
    return list((await session.execute(query)).scalars())


async def admins(session: AsyncSession) -> list[Person]:
    rows = await session.execute(
        select(Person).where(Person.is_admin.is_(True)).order_by(Person.id)
    )
    return list(rows.scalars())


async def entity_by_uscc(session: AsyncSession, uscc: str) -> Entity | None:
    return (await session.execute(select(Entity).where(Entity.uscc == uscc.upper()))).scalar()


async def entities_named(session: AsyncSession, names: Sequence[str]) -> list[Entity]:
    """Employers registered under any of these exact names (at most three: enough to tell one
    from several)."""
    rows = await session.execute(select(Entity).where(Entity.name.in_(names)).limit(3))
    return list(rows.scalars())


async def has_recusal(session: AsyncSession, person_id: int, entity_id: int) -> bool:
    query = select(Recusal.id).where(Recusal.person_id == person_id, Recusal.entity_id == entity_id)
    return (await session.execute(query)).first() is not None


def _awaiting(today: dt.date) -> tuple[ColumnElement[bool], ...]:
    """Members who have neither confirmed nor declined, in campaigns not started yet."""
    return (
        Campaign.start_on > today,
        Assignment.role == AssignmentRole.MEMBER,
        Assignment.state == AssignmentState.NOTIFIED,
    )


async def unanswered(
    session: AsyncSession, created_before: dt.datetime, today: dt.date
) -> list[int]:
    """Members notified before then who have neither confirmed nor declined, never reminded,
    in campaigns that have not started yet."""
    rows = await session.execute(
        select(Assignment.id)
        .join(Campaign, Campaign.id == Assignment.campaign_id)
        .where(
            *_awaiting(today),
            Assignment.reminded_at.is_(None),
            Assignment.created_at < created_before,
        )
        .order_by(Assignment.id)
    )
    return list(rows.scalars())


async def awaiting_answer(
    session: AsyncSession,
    today: dt.date,
    *,
    person_id: int | None = None,
    campaign_id: int | None = None,
) -> list[tuple[Assignment, Person, Campaign]]:
    """The answers still awaited (「确认参加」/「无法参加」), with who owes them and their
    campaign, soonest start first: one query. Shown beside the deadlines in 「待办」 and
    ``suiji deadlines list``."""
    query = (
        select(Assignment, Person, Campaign)
        .join(Person, Person.id == Assignment.person_id)
        .join(Campaign, Campaign.id == Assignment.campaign_id)
        .where(*_awaiting(today))
        .order_by(Campaign.start_on, Assignment.id)
    )
    if person_id is not None:
        query = query.where(Assignment.person_id == person_id)
    if campaign_id is not None:
        query = query.where(Assignment.campaign_id == campaign_id)
    return [(a, p, c) for a, p, c in await session.execute(query)]


async def claim_reminder(session: AsyncSession, assignment_id: int, now: dt.datetime) -> bool:
    """Mark one reminder as sent; False if another process did, or it was answered."""
    result = await session.execute(
        update(Assignment)
        .where(
            Assignment.id == assignment_id,
            Assignment.reminded_at.is_(None),
            Assignment.state == AssignmentState.NOTIFIED,
        )
        .values(reminded_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- approvals ---------------------------------------------------------------------------------


async def approval(
    session: AsyncSession, approval_id: int, *, lock: bool = False
) -> Approval | None:
    query = select(Approval).where(Approval.id == approval_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def pending_approvals(session: AsyncSession, kind: str | None = None) -> list[Approval]:
    query = select(Approval).where(Approval.state == ApprovalState.PENDING).order_by(Approval.id)
    if kind is not None:
        query = query.where(Approval.kind == kind)
    return list((await session.execute(query)).scalars())


async def pending_for_subject(session: AsyncSession, kind: str, subject_id: int) -> list[Approval]:
    rows = await session.execute(
        select(Approval).where(
            and_(
                Approval.kind == kind,
                Approval.subject_id == subject_id,
                Approval.state == ApprovalState.PENDING,
            )
        )
    )
    return list(rows.scalars())


# --- conversations ---------------------------------------------------------------------------


async def conversation(
    session: AsyncSession, person_id: int, now: dt.datetime
) -> Conversation | None:
    """What the bot waits for from this person, unless it has expired."""
    found = await session.get(Conversation, person_id, populate_existing=True)
    if found is None or found.expires_at <= now:
        return None
    return found


async def set_conversation(
    session: AsyncSession, person_id: int, topic: str, data: dict[str, Any], expires_at: dt.datetime
) -> None:
    await end_conversation(session, person_id)
    session.add(Conversation(person_id=person_id, topic=topic, data=data, expires_at=expires_at))
    await session.flush()


async def end_conversation(session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(Conversation).where(Conversation.person_id == person_id))
