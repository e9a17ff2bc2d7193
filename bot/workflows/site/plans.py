"""The approved annual plans (年度抽查计划, O1) on the public site: plans/index.html and
plans/<year>.html.

Only what a leader approved is public: a plan shows its approved needs (supplements marked),
and a year none of whose needs is approved yet has no page. What a need says — the unit, items,
scope, ratio, timing — is shown; who proposed or approved it is not (people), only that the
bureau's leadership approved it and when.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.workflows.site.items import item_path, percent
from bot.workflows.site.pages import SiteContext, SiteFile, page
from storage.campaigns import approved_plans
from storage.models import DecisionState
from storage.registries import current_items


def plan_path(year: int) -> str:
    return f"plans/{year}.html"


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    plans = [
        (plan.year, [n for n in plan.needs if n.state is DecisionState.APPROVED])
        for plan in await approved_plans(session)
    ]
    codes = sorted({code for _, needs in plans for n in needs for code in n.items})
    names = {item.code: item.name for item in await current_items(session, codes)}
    made = [
        page(
            "plans/index.html",
            "plans.html.j2",
            context,
            plans=[(year, plan_path(year), len(needs)) for year, needs in plans],
        )
    ]
    for year, needs in plans:
        rows = [
            {
                "unit": n.unit.name,
                "items": [(code, names.get(code, ""), item_path(code)) for code in n.items],
                "scope": n.scope,
                "ratio": percent(n.proposed_ratio),
                "timing": n.timing,
                "supplement": n.supplement,
                "approved_at": n.decided_at,
            }
            for n in needs
        ]
        made.append(page(plan_path(year), "plan.html.j2", context, year=year, needs=rows))
    return made
