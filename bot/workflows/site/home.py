"""The public site's home page (``index.html``): what 双随机、一公开 is, the latest drawn
campaigns and the latest published results, how anyone can check a draw, and why officers
appear by their certificate numbers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.workflows.site import pages
from bot.workflows.site.pages import SiteContext, SiteFile
from storage import campaigns as campaign_db
from storage import publications as publication_db

LATEST = 5  # how many campaigns and results the home page lists; the sections list them all


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    drawn = await campaign_db.latest_drawn(session, LATEST)
    campaigns = [
        {
            "name": c.name,
            "start_on": c.start_on,
            "end_on": c.end_on,
            "path": pages.campaign_path(c.id),
            "draw_path": pages.draw_path(c.id),
        }
        for c in drawn
    ]
    results = [
        {
            "name": campaign.name,
            "employers": len(found.rows),
            "published_at": found.published_at,
            "late": found.late,
            "path": pages.results_path(campaign.id),
        }
        for found, campaign in (await publication_db.published(session))[:LATEST]
    ]
    return [pages.page("index.html", "home.html.j2", context, campaigns=campaigns, results=results)]
