"""Deadlines in the database: made, closed, claimed for a reminder step, and read for a tick,
for 「待办」 and for ``suiji deadlines list``.

Owns the queries only; when a deadline is made or closed is bot/workflows/deadlines.py, which
reminder is due is handlers/reminders.py. Every read a tick makes is one query however many
deadlines are open (no query per deadline or per person).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from sqlalchemy import and_, case, false, or_, select, update
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


async def open_of_team(session: AsyncSession, team_id: int, kind: str) -> list[Deadline]:
    """A team's open deadlines of one kind, whoever owns them, locked for the change."""
    query = select(Deadline).where(
        Deadline.state == DeadlineState.OPEN, Deadline.team_id == team_id, Deadline.kind == kind
    )
    rows = await session.execute(query.order_by(Deadline.id).with_for_update())
    return list(rows.scalars())


async def open_of_campaign(
    session: AsyncSession, campaign_id: int
) -> list[tuple[str, int | None, dt.date, bool]]:
    """The campaign's open deadlines as (kind, team number or None, due day, estimated),
    soonest first: what 「进度」 shows."""
    rows = await session.execute(
        select(Deadline.kind, Team.number, Deadline.due_on, Deadline.estimated)
        .outerjoin(Team, Team.id == Deadline.team_id)
        .where(Deadline.campaign_id == campaign_id, Deadline.state == DeadlineState.OPEN)
        .order_by(Deadline.due_on, Deadline.kind, Team.number)
    )
    return [(kind, number, due_on, estimated) for kind, number, due_on, estimated in rows]


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


class Brief(NamedTuple):
    """An open deadline as a tick reads it: only the columns a reminder needs, with its
    campaign's and team's, read as plain rows (10,000 ORM objects a tick cost more than the
    rest of the tick)."""

    id: int
    kind: str
    due_on: dt.date
    last_step: int | None
    estimated: bool
    subject_id: int
    owner_id: int
    campaign: str  # its name, "" when it has none
    unit_id: int | None  # the campaign's unit
    team: int | None  # the team's number, None when it has none (or it is gone)
    team_leader_id: int | None


# Brief's columns, in its order.
BRIEF = (
    Deadline.id, Deadline.kind, Deadline.due_on, Deadline.last_step, Deadline.estimated,
    Deadline.subject_id, Deadline.owner_id, Campaign.name, Campaign.unit_id, Team.number,
    Team.leader_id,
)  # fmt: skip


def brief(row: Row) -> Brief:
    d, _, c, t = row
    return Brief(
        d.id, d.kind, d.due_on, d.last_step, d.estimated, d.subject_id, d.owner_id,
        c.name if c is not None else "", c.unit_id if c is not None else None,
        t.number if t is not None else None, t.leader_id if t is not None else None,
    )  # fmt: skip


async def open_days(session: AsyncSession) -> list[dt.date]:
    """The days open deadlines are due on (a few dozen however many deadlines): one query."""
    rows = await session.execute(
        select(Deadline.due_on)
        .where(Deadline.state == DeadlineState.OPEN, Deadline.kind != CALENDAR_YEAR)
        .distinct()
    )
    return list(rows.scalars())


def _behind(steps: Mapping[dt.date, int], kinds: ColumnElement[bool]) -> ColumnElement[bool]:
    """Deadlines of ``kinds`` due on a day of ``steps`` whose last step sent is before it."""
    if not steps:
        return false()
    step = case(dict(steps), value=Deadline.due_on)
    return and_(
        kinds,
        Deadline.due_on.in_(sorted(steps)),
        or_(Deadline.last_step.is_(None), Deadline.last_step < step),
    )


async def open_behind(
    session: AsyncSession,
    steps: Mapping[dt.date, int],
    start_steps: Mapping[dt.date, int],
    start_kinds: Iterable[str],
) -> list[Brief]:
    """The open deadlines whose latest step due (by due day: ``steps``, and ``start_steps`` for
    ``start_kinds``) is later than the last one sent, soonest first: one query. What else is
    open has nothing due, and is not read."""
    starts = sorted(start_kinds)
    query = (
        select(*BRIEF)
        .outerjoin(Campaign, Campaign.id == Deadline.campaign_id)
        .outerjoin(Team, Team.id == Deadline.team_id)
        .where(
            Deadline.state == DeadlineState.OPEN,
            Deadline.kind != CALENDAR_YEAR,
            or_(
                _behind(steps, Deadline.kind.not_in(starts)),
                _behind(start_steps, Deadline.kind.in_(starts)),
            ),
        )
        .order_by(Deadline.due_on, Deadline.id)
    )
    return [
        Brief(i, k, due, last, bool(est), subject, owner, name or "", unit, number, leader)
        for i, k, due, last, est, subject, owner, name, unit, number, leader in (
            await session.execute(query)
        )
    ]


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
