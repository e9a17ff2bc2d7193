"""Reading the public site's built files as a browser would: each page's links and its
tables' rows (with whether they start hidden), parsed rather than grepped."""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import storage
from bot.registry.importer import import_sheet
from bot.registry.scan import Hit
from bot.workflows import campaigns, plans, site
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.publish import load_people
from bot.workflows.site.pages import SiteContext, SiteFile
from tests.e2e.phones import utc_now
from tests.e2e.test_assignments import window
from tests.helpers import ENTROPY, load_sample, read_csv, spec, write_csv

Factory = async_sessionmaker[AsyncSession]


@dataclass
class Row:
    attrs: dict[str, str | None]
    cells: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs


class Page(HTMLParser):
    """One HTML page: every ``href``/``src`` (in order), every table row, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.rows: list[Row] = []
        self.text_parts: list[str] = []
        self._cell: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
        if tag == "tr":
            self.rows.append(Row(dict(attrs)))
        elif tag in ("td", "th") and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def by_path(files: Sequence[SiteFile]) -> dict[str, bytes]:
    return {f.path: f.content for f in files}


def parsed(files: Sequence[SiteFile], path: str) -> Page:
    return Page(by_path(files)[path].decode("utf-8"))


def target(page_path: str, link: str) -> str | None:
    """The site file a link of the page at ``page_path`` points to; None for a link to
    another site (refused by the caller if it matters) or to a place on the same page."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None
    if not parts.path:
        return None  # "#v2": the page itself
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(page_path), unquote(parts.path)))
    return joined


def broken_links(files: Sequence[SiteFile]) -> list[tuple[str, str]]:
    """(page, link) for every link of every HTML page that leaves the site or names a file the
    site does not have (a folder link counts as its index.html)."""
    present = set(by_path(files))
    broken = []
    for f in files:
        if not f.path.endswith(".html"):
            continue
        for link in Page(f.content.decode("utf-8")).links:
            found = target(f.path, link)
            if found is None:
                if urlsplit(link).scheme or urlsplit(link).netloc:
                    broken.append((f.path, link))
                continue
            if found.startswith("../") or (
                found not in present and posixpath.join(found, "index.html") not in present
            ):
                broken.append((f.path, link))
    return broken


# --- a bureau with something of everything the public sees -----------------------------------


@dataclass(frozen=True)
class Bureau:
    """What ``realistic`` made: the changed item and the day it changed; the campaigns."""

    item: str
    changed_on: dt.date
    public: int  # drawn, not confidential
    confidential: int  # drawn, confidential
    committed: int  # committed, not drawn yet
    end: dt.date  # the confidential campaign's last day of inspections


async def realistic(factory: Factory, tmp_path: Path) -> Bureau:
    """The sample registries; one item changed on 2026-07-01 (its ratio from 5% to 8%); the
    2026 plan with a need approved and one rejected, the 2027 plan with one pending; three
    campaigns of the example's kind: drawn, drawn confidential, committed only."""
    await load_sample(factory, utc_now)
    rows = read_csv(Path(storage.__file__).parent / "sample" / "items.csv")
    header, item = rows[0], next(r for r in rows if r[0] == "RS-JC-003")
    item[header.index("默认抽查比例")] = "8%"
    item[header.index("生效日期")] = "2026-07-01"
    sheet = write_csv(tmp_path / "items.csv", "items", [item])
    report = await import_sheet(factory, "items", sheet, actor="陈红军", clock=utc_now)
    assert report.written and not report.problems

    await plans.create_plan(factory, 2026, "陈红军", utc_now)
    await plans.create_plan(factory, 2027, "陈红军", utc_now)
    needs = {}
    for year, scope in ((2026, "全县建筑业用人单位"), (2026, "全县餐饮业"), (2027, "全县制造业")):
        needs[scope] = await plans.add_need(
            factory,
            year,
            unit="劳动保障监察大队",
            items=["RS-JC-003", "RS-JC-006"],
            scope=scope,
            ratio=Decimal("5"),
            timing="第四季度",
            supplement=False,
            actor="陈红军",
            clock=utc_now,
        )
    for scope, approve in (("全县建筑业用人单位", True), ("全县餐饮业", False)):
        await plans.decide_need(
            factory, needs[scope], approve=approve, comment=None, approver="张凯", clock=utc_now
        )

    dates = window()
    made = []
    for name, confidential, draw in (
        ("工资支付公开抽查", "false", True),
        ("工资支付保密抽查", "true", True),
        ("社会保险待摇号抽查", "false", False),
    ):
        source = spec(**dates, name=f'"{name}"', confidential=confidential)
        created = await campaigns.create_campaign(
            factory, parse_campaign(source), "陈红军", utc_now, allow_past=True
        )
        await campaigns.commit_draw(factory, created.id, "陈红军", utc_now)
        if draw:
            await campaigns.run_draw(factory, created.id, ENTROPY, None, "陈红军", utc_now)
        made.append(created.id)
    return Bureau("RS-JC-003", dt.date(2026, 7, 1), *made, dt.date.fromisoformat(dates["end"]))


async def built(factory: Factory, today: dt.date) -> list[SiteFile]:
    return await site.build(factory, SiteContext(today, "Asia/Shanghai"))


async def hits(factory: Factory, files: Sequence[SiteFile]) -> list[Hit]:
    async with factory() as session:
        people = await load_people(session)
    return site.scan(files, people)
