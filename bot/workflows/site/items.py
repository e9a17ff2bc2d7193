"""The public spot-check item list (随机抽查事项清单, S2): the list in force, each item's version
history, and the list as it stood on any date.

A static site cannot answer "as of" a date when asked, so: items/index.html holds every version
(those not in force today hidden) and a small script shows the ones in force on a chosen date;
without the script, items/as-of/<date>.html gives the list as of each date the list changed (the
list is the same until the next change). Which versions are in force is
``storage.campaigns.items_in_force``, the query the campaigns use; the script only mirrors it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.base.texts import table
from bot.registry.fields import labels
from bot.workflows.site.pages import SiteContext, SiteFile, page
from storage.campaigns import items_in_force
from storage.models import SpotCheckItem
from storage.registries import item_versions

# What a version says, compared with the one before it (sheet column → model attribute); who
# changed it is not shown: that is a person.
COMPARED = (
    ("name", "name"),
    ("subject", "subject"),
    ("legal_basis", "legal_basis"),
    ("content", "content"),
    ("method", "methods"),
    ("default_ratio", "default_ratio"),
    ("frequency_per_year", "frequency_per_year"),
)
_PLAIN = re.compile(r"[A-Za-z0-9._-]+")


def item_path(code: str) -> str:
    """The page of an item's versions. A code is typed by hand and may hold any character but
    a space; one that is not plain ASCII (or would be the list's own index) is spelled in hex
    after a "~" no plain code holds, so that every code has its own file whose link needs no
    escaping."""
    name = code if _PLAIN.fullmatch(code) and code != "index" else "~" + code.encode().hex()
    return f"items/{name}.html"


def as_of_path(day: dt.date) -> str:
    return f"items/as-of/{day.isoformat()}.html"


def percent(ratio: Decimal) -> str:
    return f"{ratio.normalize():f}%"


@dataclass(frozen=True)
class Version:
    """One version of an item as the pages show it."""

    code: str
    version: int
    name: str
    subject: str
    legal_basis: str
    content: str
    methods: tuple[str, ...]
    ratio: str
    frequency: int
    valid_from: dt.date
    valid_to: dt.date | None
    changed: tuple[str, ...]  # the labels of what differs from the version before
    path: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.code, self.version)


def versions_of(items: Sequence[SpotCheckItem]) -> list[Version]:
    """``items`` (by code and version) as versions, each with what changed since the last."""
    labels = table("registry/columns.toml")["items"]
    found: list[Version] = []
    previous: SpotCheckItem | None = None
    for item in items:
        before = previous if previous is not None and previous.code == item.code else None
        changed = tuple(
            labels[column]
            for column, attribute in COMPARED
            if before is not None and getattr(before, attribute) != getattr(item, attribute)
        )
        found.append(
            Version(
                code=item.code,
                version=item.version,
                name=item.name,
                subject=item.subject,
                legal_basis=item.legal_basis,
                content=item.content,
                methods=tuple(item.methods),
                ratio=percent(item.default_ratio),
                frequency=item.frequency_per_year,
                valid_from=item.valid_from,
                valid_to=item.valid_to,
                changed=changed,
                path=item_path(item.code),
            )
        )
        previous = item
    return found


def change_dates(versions: Sequence[Version]) -> list[dt.date]:
    """The days the list changed: a version took effect, or one stopped the day before."""
    days = {v.valid_from for v in versions}
    days |= {v.valid_to + dt.timedelta(days=1) for v in versions if v.valid_to is not None}
    return sorted(days)


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    versions = versions_of(await item_versions(session))
    days = change_dates(versions)

    async def in_force(day: dt.date) -> set[tuple[str, int]]:
        return {(i.code, i.version) for i in (await items_in_force(session, None, day)).values()}

    today = await in_force(context.today)
    made = [
        page(
            "items/index.html",
            "items.html.j2",
            context,
            versions=versions,
            shown=today,
            labels=labels,
            today=context.today,
            days=[(day, as_of_path(day)) for day in days],
        )
    ]
    for day in days:
        shown = await in_force(day)
        made.append(
            page(
                as_of_path(day),
                "items_as_of.html.j2",
                context,
                versions=[v for v in versions if v.key in shown],
                day=day,
                labels=labels,
            )
        )
    for code in sorted({v.code for v in versions}):
        history = [v for v in versions if v.code == code]
        made.append(page(item_path(code), "item.html.j2", context, versions=history, labels=labels))
    return made
