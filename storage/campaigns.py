"""Plans, campaigns and draws in the database.

Owns the queries that freeze a campaign's pools (active employers with their risk data, officers
with a certificate in force, recusals, recent draws for the exclusion window) and the writes of
commitments, runs and the current teams. The rules that use these rows live in bot/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import (
    AnnualPlan,
    Campaign,
    CampaignState,
    Certificate,
    DecisionState,
    DrawCommitment,
    DrawnOfficer,
    DrawReseed,
    DrawRun,
    Entity,
    EntityStatus,
    Person,
    PlanNeed,
    Recusal,
    SpotCheckItem,
    Team,
    TeamEmployer,
    Unit,
)
from storage.officers import newest_certificate

_STREAM_PAGE = 10_000


async def find_person(session: AsyncSession, ref: str) -> Person | None:
    """A person by certificate number, WeCom account, DingTalk account, or unique name."""
    by_certificate = select(Person).join(Certificate).where(Certificate.number == ref)
    for query in (
        by_certificate,
        select(Person).where(Person.wecom_userid == ref),
        select(Person).where(Person.dingtalk_userid == ref),
    ):
        person = (await session.execute(query.limit(1))).scalars().first()
        if person is not None:
            return person
    named = (await session.execute(select(Person).where(Person.name == ref).limit(2))).scalars()
    matches = list(named)
    return matches[0] if len(matches) == 1 else None


async def person_keys(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, str]:
    """How draw records name people: the newest certificate number, else a platform account."""
    people = (
        await session.execute(
            select(Person)
            .where(Person.id.in_(person_ids))
            .options(selectinload(Person.certificates))
        )
    ).scalars()
    keys = {}
    for person in people:
        newest = newest_certificate(person.certificates)
        if newest is not None:
            keys[person.id] = newest.number
        elif person.wecom_userid:
            keys[person.id] = f"wecom:{person.wecom_userid}"
        else:
            keys[person.id] = f"dingtalk:{person.dingtalk_userid}"
    return keys


async def unit_by_name(session: AsyncSession, name: str) -> Unit | None:
    return (await session.execute(select(Unit).where(Unit.name == name))).scalars().first()


# --- plans ----------------------------------------------------------------------------------


async def plan_for_year(session: AsyncSession, year: int) -> AnnualPlan | None:
    query = (
        select(AnnualPlan)
        .where(AnnualPlan.year == year)
        .options(selectinload(AnnualPlan.needs).selectinload(PlanNeed.unit))
    )
    return (await session.execute(query)).scalars().first()


async def approved_plans(session: AsyncSession) -> list[AnnualPlan]:
    """The plans with at least one approved need, the latest year first, their needs (all
    states: the caller keeps the approved ones) and units loaded."""
    approved = select(PlanNeed.plan_id).where(PlanNeed.state == DecisionState.APPROVED)
    query = (
        select(AnnualPlan)
        .where(AnnualPlan.id.in_(approved))
        .options(selectinload(AnnualPlan.needs).selectinload(PlanNeed.unit))
        .order_by(AnnualPlan.year.desc())
    )
    return list((await session.execute(query)).scalars())


async def need_by_id(session: AsyncSession, need_id: int) -> PlanNeed | None:
    query = (
        select(PlanNeed)
        .where(PlanNeed.id == need_id)
        .options(selectinload(PlanNeed.plan), selectinload(PlanNeed.unit))
        .with_for_update()
    )
    return (await session.execute(query)).scalars().first()


# --- campaigns and pools ----------------------------------------------------------------------


async def campaign_by_id(
    session: AsyncSession, campaign_id: int, *, lock: bool = False
) -> Campaign | None:
    query = select(Campaign).where(Campaign.id == campaign_id).options(selectinload(Campaign.unit))
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


@dataclass(frozen=True)
class EmployerRow:
    uscc: str
    complaints_12m: int
    serious_violation: bool
    credit_grade: str | None
    last_inspected: dt.date | None


async def campaigns_named(
    session: AsyncSession, name: str, start: dt.date, end: dt.date
) -> list[Campaign]:
    """Campaigns with this name and these dates, oldest first."""
    query = (
        select(Campaign)
        .where(Campaign.name == name, Campaign.start_on == start, Campaign.end_on == end)
        .order_by(Campaign.id)
    )
    return list((await session.execute(query)).scalars())


async def active_employers(session: AsyncSession) -> AsyncIterator[EmployerRow]:
    """Active employers with what the strata and the exclusion window need, by USCC."""
    query = (
        select(
            Entity.uscc,
            Entity.complaints_12m,
            Entity.serious_violation,
            Entity.credit_grade,
            Entity.last_inspected,
        )
        .where(Entity.status == EntityStatus.ACTIVE)
        .order_by(Entity.uscc)
        .execution_options(yield_per=_STREAM_PAGE)
    )
    result = await session.stream(query)
    async for partition in result.partitions():
        for uscc, complaints, serious, grade, last in partition:
            yield EmployerRow(uscc, complaints, serious, grade.value if grade else None, last)


async def drawn_between(
    session: AsyncSession, since: dt.date, until: dt.date, other_than: int
) -> list[tuple[str, dt.date, frozenset[str]]]:
    """(USCC, campaign start, item codes) of employers in the current teams of other campaigns
    starting within [since, until]."""
    rows = await session.execute(
        select(Entity.uscc, Campaign.id, Campaign.start_on, Campaign.items)
        .join(TeamEmployer, TeamEmployer.entity_id == Entity.id)
        .join(Team, Team.id == TeamEmployer.team_id)
        .join(Campaign, Campaign.id == Team.campaign_id)
        .where(Campaign.id != other_than, Campaign.start_on.between(since, until))
    )
    return [
        (uscc, start, frozenset(item["code"] for item in items)) for uscc, _, start, items in rows
    ]


async def recusal_pairs(
    session: AsyncSession, person_ids: Sequence[int], usccs: set[str] | None
) -> list[tuple[int, str]]:
    """(person id, USCC) of these people's recusals (only against ``usccs`` if given)."""
    if not person_ids:
        return []
    rows = await session.execute(
        select(Recusal.person_id, Entity.uscc)
        .join(Entity, Entity.id == Recusal.entity_id)
        .where(Recusal.person_id.in_(person_ids))
    )
    return [(pid, uscc) for pid, uscc in rows if usccs is None or uscc in usccs]


async def commitment_of(session: AsyncSession, campaign_id: int) -> DrawCommitment | None:
    query = select(DrawCommitment).where(DrawCommitment.campaign_id == campaign_id)
    return (await session.execute(query)).scalars().first()


async def committed_campaign_ids(session: AsyncSession) -> list[int]:
    """Every campaign whose draw has been committed, by id."""
    query = select(DrawCommitment.campaign_id).order_by(DrawCommitment.campaign_id)
    return list((await session.execute(query)).scalars())


async def runs_of(session: AsyncSession, campaign_id: int) -> list[DrawRun]:
    query = select(DrawRun).where(DrawRun.campaign_id == campaign_id).order_by(DrawRun.seq)
    return list((await session.execute(query)).scalars())


async def ids_by_uscc(session: AsyncSession, usccs: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(select(Entity.uscc, Entity.id).where(Entity.uscc.in_(usccs)))
    return {uscc: entity_id for uscc, entity_id in rows}


async def replace_current_teams(
    session: AsyncSession,
    campaign_id: int,
    run: DrawRun,
    teams: Sequence[dict[str, Any]],
    officer_order: Sequence[int],
) -> None:
    """Make ``run``'s teams and draw order the campaign's current ones.

    ``teams``: [{number, leader_id, entity_ids, member_ids, short_by}]; ``officer_order``: person
    ids in draw order, members and reserve alike.
    """
    old_teams = select(Team.id).where(Team.campaign_id == campaign_id).scalar_subquery()
    await session.execute(delete(DrawnOfficer).where(DrawnOfficer.campaign_id == campaign_id))
    await session.execute(delete(TeamEmployer).where(TeamEmployer.team_id.in_(old_teams)))
    await session.execute(delete(Team).where(Team.campaign_id == campaign_id))
    team_of: dict[int, int] = {}
    for spec in teams:
        team = Team(
            campaign_id=campaign_id,
            draw_run_id=run.id,
            number=spec["number"],
            leader_id=spec["leader_id"],
            short_by=spec["short_by"],
        )
        session.add(team)
        await session.flush()
        for position, entity_id in enumerate(spec["entity_ids"], start=1):
            session.add(TeamEmployer(team_id=team.id, entity_id=entity_id, position=position))
        for person_id in spec["member_ids"]:
            team_of[person_id] = team.id
    for position, person_id in enumerate(officer_order, start=1):
        session.add(
            DrawnOfficer(
                campaign_id=campaign_id,
                draw_run_id=run.id,
                position=position,
                person_id=person_id,
                team_id=team_of.get(person_id),
            )
        )
    await session.flush()


async def current_teams(session: AsyncSession, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's teams with their employers, in order (members: storage.assignments)."""
    teams = (
        (
            await session.execute(
                select(Team).where(Team.campaign_id == campaign_id).order_by(Team.number)
            )
        )
        .scalars()
        .all()
    )
    out = []
    for team in teams:
        employers = await session.execute(
            select(Entity.uscc, Entity.name, Entity.address)
            .join(TeamEmployer, TeamEmployer.entity_id == Entity.id)
            .where(TeamEmployer.team_id == team.id)
            .order_by(TeamEmployer.position)
        )
        out.append({"team": team, "employers": [tuple(row) for row in employers]})
    return out


async def people_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Person]:
    rows = await session.execute(select(Person).where(Person.id.in_(ids)))
    return {p.id: p for p in rows.scalars()}


async def items_in_force(
    session: AsyncSession, codes: Sequence[str] | None, on: dt.date
) -> dict[str, SpotCheckItem]:
    """For each code (every code when ``codes`` is None), the newest version of the item in
    force on ``on``: the item list as it stood that day, in code order."""
    query = select(SpotCheckItem).where(
        SpotCheckItem.valid_from <= on,
        or_(SpotCheckItem.valid_to.is_(None), SpotCheckItem.valid_to >= on),
    )
    if codes is not None:
        query = query.where(SpotCheckItem.code.in_(codes))
    rows = await session.execute(query.order_by(SpotCheckItem.code, SpotCheckItem.version))
    return {item.code: item for item in rows.scalars()}  # later versions overwrite earlier


async def person_ids_by_certificate(
    session: AsyncSession, numbers: Sequence[str]
) -> dict[str, int]:
    rows = await session.execute(
        select(Certificate.number, Certificate.person_id).where(Certificate.number.in_(numbers))
    )
    return {number: person_id for number, person_id in rows}


async def names_for(
    session: AsyncSession, usccs: Sequence[str], certificate_numbers: Sequence[str]
) -> dict[str, str]:
    """Display names keyed by USCC (employer names) and certificate number (people's names)."""
    employers = await session.execute(
        select(Entity.uscc, Entity.name).where(Entity.uscc.in_(usccs))
    )
    people = await session.execute(
        select(Certificate.number, Person.name)
        .join(Person, Person.id == Certificate.person_id)
        .where(Certificate.number.in_(certificate_numbers))
    )
    return {key: name for key, name in [*employers, *people]}


async def reseed_for(session: AsyncSession, campaign_id: int, run_seq: int) -> DrawReseed | None:
    query = select(DrawReseed).where(
        DrawReseed.campaign_id == campaign_id, DrawReseed.run_seq == run_seq
    )
    return (await session.execute(query)).scalars().first()


async def announced_campaigns(session: AsyncSession) -> list[Campaign]:
    """Campaigns whose implementation plan is fixed (committed or drawn; a draft may still
    change), the latest start first, with their units."""
    query = (
        select(Campaign)
        .where(Campaign.state != CampaignState.DRAFT)
        .options(selectinload(Campaign.unit))
        .order_by(Campaign.start_on.desc(), Campaign.id.desc())
    )
    return list((await session.execute(query)).scalars())


async def latest_drawn(session: AsyncSession, limit: int) -> list[Campaign]:
    """Campaigns that have been drawn, the most recently run first."""
    last = (
        select(DrawRun.campaign_id, func.max(DrawRun.run_at).label("at"))
        .group_by(DrawRun.campaign_id)
        .subquery()
    )
    query = (
        select(Campaign)
        .join(last, last.c.campaign_id == Campaign.id)
        .order_by(last.c.at.desc(), Campaign.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def drawn_not_over(session: AsyncSession, today: dt.date) -> list[Campaign]:
    """Drawn campaigns whose inspections have not ended before ``today``, soonest first."""
    query = (
        select(Campaign)
        .where(Campaign.state == CampaignState.DRAWN, Campaign.end_on >= today)
        .order_by(Campaign.start_on, Campaign.id)
    )
    return list((await session.execute(query)).scalars())
