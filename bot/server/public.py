"""Read-only public pages of drawn campaigns, under /draw/: each one's certificate and public
record, and the standalone verifier, so that a witness can open them from the link in their
「帮助」 and anyone can check a draw on any computer. Public means no one's name: the certificate
names people by certificate number, the record is bot.draw.record.public_record (none for an
old v2 record, whose page says why).

Nothing here writes. A page exists only once a campaign has been drawn, and a confidential
campaign's stays closed until its inspections end; both the record's integrity checks (against
the audit log) and those rules are the workflow's (bot.workflows.campaigns.published_record).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import TEMPLATES_DIR, render, text
from bot.draw.record import canonical, public_record
from bot.workflows import campaigns

VERIFIER = TEMPLATES_DIR / "draw" / "verify.py"
# Links inside a certificate served at /draw/ID/: relative, so they hold behind any proxy path.
LINKS = {"record": "record.json", "verifier": "../verify.py"}
NO_PUBLIC = "campaign.no_public_record"


@dataclass(frozen=True)
class Sources:
    """What the pages read: the database (opened with the app, so asked for when needed) and
    the bureau's today (confidentiality ends on a local date)."""

    factory: Callable[[], async_sessionmaker[AsyncSession]]
    today: Callable[[], dt.date]
    zone: Callable[[], str]  # the bureau's time zone, for the times a page shows


SOURCES = web.AppKey("public_sources", Sources)


async def _record(request: web.Request) -> dict[str, object] | web.Response:
    """The requested campaign's published record, or the page that says why there is none."""
    sources = request.app[SOURCES]
    try:
        return await campaigns.published_record(
            sources.factory(), int(request.match_info["campaign_id"]), sources.today()
        )
    except campaigns.CampaignError as refused:
        status = 403 if isinstance(refused, campaigns.Embargoed) else 404
        return web.Response(
            status=status,
            text=render("draw/unavailable.html.j2", message=str(refused)),
            content_type="text/html",
        )


async def certificate(request: web.Request) -> web.Response:
    record = await _record(request)
    if isinstance(record, web.Response):
        return record
    page = campaigns.certificate_html(record, request.app[SOURCES].zone(), LINKS, public=True)
    return web.Response(text=page, content_type="text/html")


async def record_file(request: web.Request) -> web.Response:
    record = await _record(request)
    if isinstance(record, web.Response):
        return record
    campaign_id = request.match_info["campaign_id"]
    public = public_record(record)
    if public is None:
        return web.Response(
            status=404,
            text=render("draw/unavailable.html.j2", message=text(NO_PUBLIC, id=campaign_id)),
            content_type="text/html",
        )
    name = f"suiji-draw-{campaign_id}.json"
    # The exported bytes exactly: their SHA-256 is the one the certificate prints.
    return web.Response(
        body=canonical(public).encode("utf-8"),
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def verifier(request: web.Request) -> web.Response:
    return web.Response(
        body=VERIFIER.read_bytes(),
        content_type="text/x-python",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="verify.py"'},
    )


async def nothing_here(request: web.Request) -> web.Response:
    return web.Response(
        status=404,
        text=render("draw/unavailable.html.j2", message=None),
        content_type="text/html",
    )


def install(app: web.Application, sources: Sources) -> None:
    """Add the read-only /draw/ pages to the bot's app."""
    app[SOURCES] = sources
    campaign = "/draw/{campaign_id:[1-9][0-9]{0,8}}/"
    app.router.add_get("/draw/verify.py", verifier)
    app.router.add_get(campaign, certificate)
    app.router.add_get(campaign + "record.json", record_file)
    app.router.add_get("/draw/{rest:.*}", nothing_here)
