"""What every section of the public site shares: a file, the context a build reads, and
``page``, which renders a template of ``templates/public/`` with relative links."""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.base.texts import render


@dataclass(frozen=True)
class SiteFile:
    """One file of the site: its path inside the site (``/``-separated, no leading ``/``) and
    its bytes."""

    path: str
    content: bytes


@dataclass(frozen=True)
class SiteContext:
    """What a build depends on besides the database: the bureau's local date (what is public
    yet: a confidential campaign's targets only after its checks) and its time zone (the times
    pages show). Nothing else — in particular not the build's own time — so that the same data
    gives the same bytes."""

    today: dt.date
    zone: str


# A section: the files of one part of the site, read in the build's transaction.
Section = Callable[[AsyncSession, SiteContext], Awaitable[list[SiteFile]]]


def root_of(path: str) -> str:
    """The relative way from the page at ``path`` back to the site's root: ``""`` for
    ``index.html``, ``"../"`` for ``results/index.html``."""
    depth = posixpath.normpath(path).count("/")
    return "../" * depth


def page(path: str, template: str, context: SiteContext, **values: Any) -> SiteFile:
    """The page at ``path`` rendered from ``templates/public/<template>``; the template gets
    ``root`` (prefix every site link with it), ``here`` (the page's own path, for the navigation
    to mark) and ``tz``."""
    html = render(f"public/{template}", root=root_of(path), here=path, tz=context.zone, **values)
    return SiteFile(path, html.encode("utf-8"))


# Where each campaign's pages live, so that sections link to each other (prefix with ``root``).
def campaign_path(campaign_id: int) -> str:
    return f"campaigns/{campaign_id}.html"


def results_path(campaign_id: int) -> str:
    return f"results/{campaign_id}.html"


def draw_path(campaign_id: int) -> str:
    return f"draws/{campaign_id}/index.html"
