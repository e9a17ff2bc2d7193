"""A campaign's results publication (issue 17 §1): read and locked by bot.workflows.publish."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Campaign, Publication, PublicationState


async def of_campaign(
    session: AsyncSession, campaign_id: int, *, lock: bool = False
) -> Publication | None:
    query = select(Publication).where(Publication.campaign_id == campaign_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def published(session: AsyncSession) -> list[tuple[Publication, Campaign]]:
    """Every published results publication with its campaign, the most recently published
    first (ties by campaign, so the order is the same on every database)."""
    query = (
        select(Publication, Campaign)
        .join(Campaign, Campaign.id == Publication.campaign_id)
        .where(Publication.state == PublicationState.PUBLISHED)
        .order_by(Publication.published_at.desc(), Campaign.id.desc())
    )
    return [(p, c) for p, c in (await session.execute(query)).all()]


async def published_stamp(session: AsyncSession) -> tuple[int, dt.datetime | None]:
    """How many publications are published and the newest's time: changes when one is."""
    query = select(func.count(), func.max(Publication.published_at)).where(
        Publication.state == PublicationState.PUBLISHED
    )
    count, newest = (await session.execute(query)).one()
    return int(count), newest
