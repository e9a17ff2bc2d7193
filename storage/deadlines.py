"""Deadlines in the database: made, closed, claimed for a reminder step, and read for a tick,
for 「待办」 and for ``suiji deadlines list``.

Owns the queries only; when a deadline is made or closed is bot/workflows/deadlines.py, which
reminder is due is handlers/reminders.py. Every read a tick makes is one query however many
deadlines are open (no query per deadline or per person).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Campaign, Deadline, DeadlineState, Person, Team

# The bureau's own clocks, not a campaign's: asked for on their own schedule, never in a digest,
# 「待办」 or the list (bot.workflows.deadlines.ask_for_calendar).
CALENDAR_YEAR = "calendar_year"


def add(session: AsyncSession, deadlines: Iterable[Deadline]) -> None:
    session.add_all(list(deadlines))


async def close(
    session: AsyncSession,
    now: dt.datetime,
    why: str,
    *,
    subject_kind: str,
    subject_ids: Sequence[int],
    kinds: Sequence[str] = (),
) -> int:
    """Close the open deadlines about these subjects (of these kinds, if given)."""
    if not subject_ids:
        return 0
    query = update(Deadline).where(
        Deadline.state == DeadlineState.OPEN,
        Deadline.subject_kind == subject_kind,
        Deadline.subject_id.in_(list(subject_ids)),
    )
    if kinds:
        query = query.where(Deadline.kind.in_(list(kinds)))
    result = await session.execute(
        query.values(state=DeadlineState.CLOSED, closed_at=now, closed_why=why[:100]),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def close_of_campaign(
    session: AsyncSession, campaign_id: int, kinds: Sequence[str], now: dt.datetime, why: str
) -> int:
    result = await session.execute(
        update(Deadline)
        .where(
            Deadline.state == DeadlineState.OPEN,
            Deadline.campaign_id == campaign_id,
            Deadline.kind.in_(list(kinds)),
        )
        .values(state=DeadlineState.CLOSED, closed_at=now, closed_why=why[:100]),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def close_passed(
    session: AsyncSession, kinds: Sequence[str], before: dt.date, now: dt.datetime, why: str
) -> int:
    """Close open deadlines of these kinds due before ``before`` (a start that has come)."""
    result = await session.execute(
        update(Deadline)
        .where(
            Deadline.state == DeadlineState.OPEN,
            Deadline.kind.in_(list(kinds)),
            Deadline.due_on < before,
        )
        .values(state=DeadlineState.CLOSED, closed_at=now, closed_why=why[:100]),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


Row = tuple[Deadline, Person, Campaign | None, Team | None]


async def open_rows(
    session: AsyncSession,
    *,
    owner_ids: Sequence[int] | None = None,
    team_ids: Sequence[int] | None = None,
    unit_id: int | None = None,
    campaign_id: int | None = None,
    due_before: dt.date | None = None,
    include_closed: bool = False,
) -> list[Row]:
    """Deadlines with their owner, campaign and team, soonest first: one query."""
    query = (
        select(Deadline, Person, Campaign, Team)
        .join(Person, Person.id == Deadline.owner_id)
        .outerjoin(Campaign, Campaign.id == Deadline.campaign_id)
        .outerjoin(Team, Team.id == Deadline.team_id)
        .order_by(Deadline.due_on, Deadline.id)
    )
    query = query.where(Deadline.kind != CALENDAR_YEAR)
    if not include_closed:
        query = query.where(Deadline.state == DeadlineState.OPEN)
    conditions: list[ColumnElement[bool]] = []
    if owner_ids is not None:
        conditions.append(Deadline.owner_id.in_(list(owner_ids)))
    if team_ids is not None:
        conditions.append(Deadline.team_id.in_(list(team_ids)))
    if unit_id is not None:
        conditions.append(Campaign.unit_id == unit_id)
    if conditions:
        query = query.where(or_(*conditions))
    if campaign_id is not None:
        query = query.where(Deadline.campaign_id == campaign_id)
    if due_before is not None:
        query = query.where(Deadline.due_on < due_before)
    rows = await session.execute(query)
    return [(d, p, c, t) for d, p, c, t in rows]


async def people(session: AsyncSession, ids: Iterable[int]) -> dict[int, Person]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(select(Person).where(Person.id.in_(wanted)))
    return {p.id: p for p in rows.scalars()}


async def leaders_by_unit(session: AsyncSession) -> dict[int, list[Person]]:
    """Every leader, by unit: one query."""
    found: dict[int, list[Person]] = {}
    rows = await session.execute(
        select(Person).where(Person.is_leader.is_(True)).order_by(Person.id)
    )
    for person in rows.scalars():
        found.setdefault(person.unit_id, []).append(person)
    return found


async def teams_led_by(session: AsyncSession, person_id: int) -> list[int]:
    rows = await session.execute(select(Team.id).where(Team.leader_id == person_id))
    return list(rows.scalars())


async def claim(
    session: AsyncSession,
    ids: Sequence[int],
    step: int,
    level: int,
    token: str,
    now: dt.datetime,
) -> None:
    """Mark ``step`` as sent for those of ``ids`` still open and not yet past it; which ones
    that was is read back with :func:`claimed` (another process may have been first)."""
    await session.execute(
        update(Deadline)
        .where(
            Deadline.id.in_(sorted(ids)),
            Deadline.state == DeadlineState.OPEN,
            or_(Deadline.last_step.is_(None), Deadline.last_step < step),
        )
        .values(last_step=step, escalation=level, claim=token, reminded_at=now),
        execution_options={"synchronize_session": False},
    )


async def claimed(session: AsyncSession, token: str) -> set[int]:
    rows = await session.execute(select(Deadline.id).where(Deadline.claim == token))
    return set(rows.scalars())


async def estimated_open(session: AsyncSession) -> list[Deadline]:
    rows = await session.execute(
        select(Deadline).where(
            Deadline.state == DeadlineState.OPEN,
            Deadline.estimated.is_(True),
            Deadline.base_on.is_not(None),
        )
    )
    return list(rows.scalars())


async def deadline(
    session: AsyncSession, deadline_id: int, *, lock: bool = False
) -> Deadline | None:
    query = select(Deadline).where(Deadline.id == deadline_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def open_of(
    session: AsyncSession, kind: str, subject_kind: str, subject_id: int, *, lock: bool = True
) -> list[Deadline]:
    """The open deadlines of this kind about one subject, locked until the transaction ends
    (unless ``lock`` is False)."""
    query = (
        select(Deadline)
        .where(
            Deadline.state == DeadlineState.OPEN,
            Deadline.kind == kind,
            Deadline.subject_kind == subject_kind,
            Deadline.subject_id == subject_id,
        )
        .order_by(Deadline.id)
    )
    if lock:
        query = query.with_for_update()
    rows = await session.execute(query.execution_options(populate_existing=True))
    return list(rows.scalars())


async def calendar_year(session: AsyncSession, year: int) -> Deadline | None:
    """The open ask for a year's calendar, if one was made."""
    found = await open_of(session, CALENDAR_YEAR, "year", year, lock=False)
    return found[0] if found else None


async def of_subjects(
    session: AsyncSession, kind: str, subject_kind: str, subject_ids: Sequence[int]
) -> list[Deadline]:
    """The deadlines of this kind about these subjects, open or closed."""
    if not subject_ids:
        return []
    rows = await session.execute(
        select(Deadline)
        .where(
            Deadline.kind == kind,
            Deadline.subject_kind == subject_kind,
            Deadline.subject_id.in_(sorted(set(subject_ids))),
        )
        .order_by(Deadline.id)
    )
    return list(rows.scalars())
