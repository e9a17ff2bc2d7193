"""The results section of the public site (抽查结果公示, issue 17 §1–2): ``results/index.html``,
every published employer's row, searchable by name or USCC (a small script filters the table;
without it the whole table is there), and ``results/<id>.html`` per campaign, with its
approval and whether it was published on time (late ones marked late, never hidden).

Only published publications, and only their rows as approved: the rows were scanned when
prepared, and the whole site is scanned again before it is written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.workflows.publish import MEASURE
from bot.workflows.site.pages import (
    SiteContext,
    SiteFile,
    campaign_path,
    draw_path,
    page,
    results_path,
)
from storage import publications as publication_db

INDEX = "results/index.html"


@dataclass(frozen=True)
class Published:
    """One campaign's published results, as its page and the index show them."""

    id: int
    name: str
    rows: list[dict[str, Any]]
    with_measure: bool
    published_at: dt.datetime | None
    late: bool

    @property
    def path(self) -> str:
        return results_path(self.id)

    @property
    def campaign_path(self) -> str:
        return campaign_path(self.id)

    @property
    def draw_path(self) -> str:
        return draw_path(self.id)


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    published = await publication_db.published(session)
    return pages(
        [
            Published(c.id, c.name, p.rows, p.with_measure, p.published_at, p.late)
            for p, c in published
        ],
        context,
    )


def pages(entries: list[Published], context: SiteContext) -> list[SiteFile]:
    """The index and each campaign's page, the most recently published first."""
    # The index lists every row once, with its campaign's page; the measure column only when
    # some campaign publishes it (the others' cells stay empty).
    listed = [{**row, "results_path": entry.path} for entry in entries for row in entry.rows]
    index = page(
        INDEX,
        "results.html.j2",
        context,
        rows=listed,
        with_measure=any(entry.with_measure for entry in entries),
        measure=MEASURE,
        campaigns=entries,
    )
    return [
        index,
        *(
            page(entry.path, "result.html.j2", context, entry=entry, measure=MEASURE)
            for entry in entries
        ),
    ]
