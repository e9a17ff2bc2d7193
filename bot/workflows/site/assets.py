"""The site's style sheet (and any other file every page shares), copied from
``templates/public/``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.base.texts import TEMPLATES_DIR
from bot.workflows.site.pages import SiteContext, SiteFile

SHARED = ("style.css", "search.js")


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    return [SiteFile(name, (TEMPLATES_DIR / "public" / name).read_bytes()) for name in SHARED]
