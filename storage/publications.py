"""A campaign's results publication (issue 17 §1): read and locked by bot.workflows.publish."""

from __future__ import annotations

from sqlalchemy import select
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
