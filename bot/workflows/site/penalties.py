"""The penalty decisions section of the public site (行政处罚决定公示, issue 17 §1; DOMAIN.md
S6: general-procedure decisions published within 7 working days): ``penalties/index.html``,
every published decision, newest first, searchable by the party's name or USCC as the results
are (search.js), late ones marked late, never hidden.

A decision shows exactly the values its publication was approved with
(bot.workflows.penalties.public_row, the 行政处罚 layout's row): never a legal
representative's name nor an ID number, and the whole site is scanned before it is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.base.texts import text
from bot.registry.penalties import COLUMNS
from bot.workflows.penalties import public_row
from bot.workflows.site.pages import SiteContext, SiteFile, page
from storage import penalties as penalty_db

INDEX = "penalties/index.html"
# The layout's columns a reader needs, in its order; the rest are codes for other systems.
SHOWN = (
    "party",
    "code_uscc",
    "number",
    "violation",
    "facts",
    "legal_basis",
    "categories",
    "content",
    "fine_wan",
    "decided_on",
    "organ",
)


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    published = await penalty_db.published_penalties(session)
    decisions: list[dict[str, Any]] = []
    for penalty, employer in reversed(published):  # the newest decision first
        values = dict(zip(COLUMNS, public_row(penalty, employer), strict=True))
        decisions.append(
            {
                "values": [values[c] for c in SHOWN],
                "search": f"{employer.name} {employer.uscc}",
                "published_at": penalty.published_at,
                "late": penalty.late,
            }
        )
    headers = [text("penalty.column", name=c) for c in SHOWN]
    return [page(INDEX, "penalties.html.j2", context, headers=headers, decisions=decisions)]
