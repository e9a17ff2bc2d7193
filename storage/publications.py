"""A campaign's results publication (issue 17 §1): read and locked by bot.workflows.publish."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Publication


async def of_campaign(
    session: AsyncSession, campaign_id: int, *, lock: bool = False
) -> Publication | None:
    query = select(Publication).where(Publication.campaign_id == campaign_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()
