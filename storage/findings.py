"""Findings in the database: one per (team, employer, item), and their evidence photos.

Owns the queries behind filling: a team's findings, the one a person holds, locking a finding
before its draft changes (two officers of a team, in two processes, never interleave on it).
The rules that use these rows live in bot/workflows/findings.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Finding, FindingPhoto, FindingState, PhotoState, Team


async def finding(session: AsyncSession, finding_id: int, *, lock: bool = False) -> Finding | None:
    query = select(Finding).where(Finding.id == finding_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def finding_for(
    session: AsyncSession, team_id: int, entity_id: int, item_code: str, *, lock: bool = False
) -> Finding | None:
    query = select(Finding).where(
        Finding.team_id == team_id, Finding.entity_id == entity_id, Finding.item_code == item_code
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def teams_of_campaign(session: AsyncSession, campaign_id: int) -> list[Team]:
    rows = await session.execute(
        select(Team).where(Team.campaign_id == campaign_id).order_by(Team.number)
    )
    return list(rows.scalars())


async def findings_of_team(session: AsyncSession, team_id: int) -> list[Finding]:
    rows = await session.execute(select(Finding).where(Finding.team_id == team_id))
    return list(rows.scalars())


async def findings_of_campaign(session: AsyncSession, campaign_id: int) -> list[Finding]:
    rows = await session.execute(
        select(Finding).where(Finding.campaign_id == campaign_id).order_by(Finding.id)
    )
    return list(rows.scalars())


async def held_by(session: AsyncSession, person_id: int) -> list[Finding]:
    """Drafts this person holds, newest first."""
    rows = await session.execute(
        select(Finding)
        .where(Finding.holder_id == person_id, Finding.state == FindingState.DRAFT)
        .order_by(Finding.touched_at.desc())
    )
    return list(rows.scalars())


async def photos_of(session: AsyncSession, finding_ids: Sequence[int]) -> list[FindingPhoto]:
    if not finding_ids:
        return []
    rows = await session.execute(
        select(FindingPhoto)
        .where(FindingPhoto.finding_id.in_(finding_ids))
        .order_by(FindingPhoto.id)
    )
    return list(rows.scalars())


async def pending_photos(session: AsyncSession, finding_id: int, question_id: str) -> int:
    rows = await session.execute(
        select(FindingPhoto.id).where(
            FindingPhoto.finding_id == finding_id,
            FindingPhoto.question_id == question_id,
            FindingPhoto.state == PhotoState.PENDING,
        )
    )
    return len(rows.all())
