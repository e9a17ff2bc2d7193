"""The campaigns' implementation plans (实施方案, O2) on the public site: campaigns/index.html
(newest first) and one page per campaign.

A campaign is public once its plan is fixed by the draw's commitment (a draft may still
change). Its page gives what the plan says — items with their versions, dates, purpose,
methods, ratios and strata, the inspecting unit, teams and officers per team — and links the
draw page (the commitment before the draw, the certificate after) and the results once
published. The targets (employers by registered name and USCC, by team) appear after the
draw, and for a confidential campaign only after its inspections end
(``bot.workflows.campaigns.under_embargo``, the rule the draw's own pages follow). Drawn
officers are never listed here: they are on the draw certificate, by certificate number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.registry.fields import labels
from bot.workflows.campaigns import under_embargo
from bot.workflows.site.items import item_path
from bot.workflows.site.pages import (
    SiteContext,
    SiteFile,
    campaign_path,
    draw_path,
    page,
    results_path,
)
from storage import campaigns as db
from storage import publications
from storage.models import Campaign, CampaignState, PublicationState


@dataclass(frozen=True)
class Target:
    team: int
    name: str
    uscc: str


@dataclass(frozen=True)
class CampaignPage:
    """One campaign as its pages show it."""

    campaign: Campaign
    path: str
    commitment: dict[str, Any]  # the committed document: strata counts, entropy sources
    commitment_sha256: str
    committed_at: Any
    drawn: bool
    embargoed: bool  # drawn, but a confidential campaign's targets stay closed until its end
    targets: list[Target]
    teams: int | None  # teams formed by the draw; before it, the plan's setting
    results: str | None  # the results page, once published

    @property
    def items(self) -> list[dict[str, Any]]:
        return [{**i, "path": item_path(i["code"])} for i in self.campaign.items]


async def _page_of(session: AsyncSession, campaign: Campaign, context: SiteContext) -> CampaignPage:
    commitment = await db.commitment_of(session, campaign.id)
    assert commitment is not None  # a campaign past its draft has been committed
    drawn = campaign.state is CampaignState.DRAWN
    publication = await publications.of_campaign(session, campaign.id)
    published = publication is not None and publication.state is PublicationState.PUBLISHED
    embargoed = drawn and under_embargo(campaign.confidential, campaign.end_on, context.today)
    teams = await db.current_teams(session, campaign.id) if drawn else []
    targets = [
        Target(t["team"].number, name, uscc)
        for t in teams
        for uscc, name, _address in t["employers"]  # an address may be a person's home
    ]
    return CampaignPage(
        campaign=campaign,
        path=campaign_path(campaign.id),
        commitment=json.loads(commitment.document),
        commitment_sha256=commitment.document_sha256,
        committed_at=commitment.committed_at,
        drawn=drawn,
        embargoed=embargoed,
        targets=[] if embargoed else targets,
        teams=len(teams) if drawn else campaign.team_count,
        results=results_path(campaign.id) if published else None,
    )


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    pages = [
        await _page_of(session, campaign, context)
        for campaign in await db.announced_campaigns(session)
    ]
    values = {"labels": labels, "draw_path": draw_path}
    made = [page("campaigns/index.html", "campaigns.html.j2", context, pages=pages, **values)]
    made += [page(p.path, "campaign.html.j2", context, c=p, **values) for p in pages]
    return made
