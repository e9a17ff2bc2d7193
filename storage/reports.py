"""Reports in the database: one per team, and what drafting one reads besides the findings.

The rules that use these rows live in bot/workflows/reports.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Certificate, Report

CONCLUSION_LIMIT = 5000  # characters of a team leader's conclusion


async def report(session: AsyncSession, report_id: int, *, lock: bool = False) -> Report | None:
    query = select(Report).where(Report.id == report_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def report_of_team(
    session: AsyncSession, team_id: int, *, lock: bool = False
) -> Report | None:
    query = select(Report).where(Report.team_id == team_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def reports_of_campaign(session: AsyncSession, campaign_id: int) -> list[Report]:
    rows = await session.execute(
        select(Report).where(Report.campaign_id == campaign_id).order_by(Report.id)
    )
    return list(rows.scalars())


async def certificates_of(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, str]:
    """Each person's enforcement certificate number (the newest, when several)."""
    rows = await session.execute(
        select(Certificate.person_id, Certificate.number)
        .where(Certificate.person_id.in_(person_ids))
        .order_by(Certificate.id)
    )
    return {person_id: number for person_id, number in rows}
