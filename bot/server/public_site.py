"""The public site (issue 17 §2) served read-only under ``/public/``: the same files
``suiji publish site`` writes, held in memory as last built.

Freshness: the site is built when the app starts, and rebuilt on the scheduler's tick (every
``REFRESH_SECONDS``) when its stamp changed: at once for a new day (a confidential campaign
opens when its checks end) or new results (a publication approved in chat is public within one
tick, without the approval code knowing about the site); for anything else the audit log shows
(a draw, a plan, the item list) at most once every ``SETTLE_SECONDS``. A tick whose stamp did
not change costs two small queries. A build whose scan finds personal data is not served: the
previous site stays, and the refusal is logged with each place (the data itself masked). Where
``[public] site_dir`` is set, each new build is also written there whole (atomically) for the
county portal to sync.

Only GET and HEAD; a folder answers its index.html; paths are looked up among the built files,
never on disk, so no path reaches outside the site.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import posixpath
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import render, text
from bot.workflows import site
from bot.workflows.site.pages import SiteContext, root_of

log = logging.getLogger("suiji.site")

REFRESH_SECONDS = 30.0
# A change that need not be public at once (a draw, a plan, the item list) waits this long
# after the last build: while officers work, the audit log moves on every tick, and a build
# (rendering every page, on the event loop) each time would crowd out answering the platforms.
SETTLE_SECONDS = 300.0
PREFIX = "/public"

# By suffix; the manifest (no suffix) and the verifier are text anyone may read in the browser.
TYPES = {
    ".html": ("text/html", "utf-8"),
    ".css": ("text/css", "utf-8"),
    ".js": ("text/javascript", "utf-8"),
    ".json": ("application/json", "utf-8"),
    ".py": ("text/plain", "utf-8"),
    ".txt": ("text/plain", "utf-8"),
    ".csv": ("text/csv", "utf-8"),
    ".png": ("image/png", None),
    "": ("text/plain", "utf-8"),
}
OTHER = ("application/octet-stream", None)


@dataclass(frozen=True)
class Sources:
    """What the site is built from, asked for when needed (the database opens with the app)."""

    factory: Callable[[], async_sessionmaker[AsyncSession]]
    context: Callable[[], SiteContext]  # the bureau's today and time zone, now
    scheduler: Callable[[], AsyncIOScheduler]
    stopping: Callable[[], bool]
    directory: Path | None = None  # [public] site_dir: also written there on each build


class Site:
    """The site as last built and proven clean: path → (bytes, ETag)."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.files: dict[str, tuple[bytes, str]] = {}
        self.stamp: site.Stamp | None = None
        self.lock = asyncio.Lock()
        self.first = asyncio.Event()  # set once the first build was tried
        self.built_at = -SETTLE_SECONDS  # time.monotonic() of the last build tried

    async def refresh(self) -> bool:
        """Rebuild when the stamp changed; True when a new site is served."""
        try:
            async with self.lock:
                return await self._refresh()
        finally:
            self.first.set()

    async def _refresh(self) -> bool:
        factory, context = self.sources.factory(), self.sources.context()
        stamp = await site.stamp(factory, context)
        if stamp == self.stamp:
            return False
        waited = time.monotonic() - self.built_at
        if not stamp.urgent_since(self.stamp) and waited < SETTLE_SECONDS:
            return False  # a later tick builds it, once, whatever else changed meanwhile
        self.built_at = time.monotonic()
        try:
            files = await site.checked(factory, context)
        except site.SiteError as refused:
            # Not retried until the data changes: the same data would be refused the same way.
            self.stamp = stamp
            log.error(
                "the public site was not rebuilt, the previous one is still served: %s", refused
            )
            return False
        self.files = {
            f.path: (f.content, hashlib.sha256(f.content).hexdigest()[:32]) for f in files
        }
        self.stamp = stamp
        if self.sources.directory is not None:
            try:
                await asyncio.to_thread(site.write, files, self.sources.directory)
            except (OSError, site.SiteError):
                log.exception("the public site could not be written to %s", self.sources.directory)
        return True

    async def tick(self) -> None:
        if self.sources.stopping():
            return
        try:
            await self.refresh()
        except Exception:
            log.exception("rebuilding the public site failed; the previous one is still served")


SITE = web.AppKey("public_site", Site)


def _content_type(path: str) -> tuple[str, str | None]:
    return TYPES.get(posixpath.splitext(path)[1], OTHER)


def _not_found(path: str, zone: str) -> web.Response:
    page = render("public/not_found.html.j2", root=root_of(path), here="", tz=zone)
    return web.Response(status=404, text=page, content_type="text/html", charset="utf-8")


async def serve(request: web.Request) -> web.StreamResponse:
    held = request.app[SITE]
    await held.first.wait()
    path = request.match_info["path"]
    if path == "" or path.endswith("/"):
        path += "index.html"
    parts = path.split("/")
    zone = held.sources.context().zone
    if any(part in ("", ".", "..") for part in parts) or "\\" in path:
        return _not_found(path, zone)
    found = held.files.get(path)
    if found is None:
        if f"{path}/index.html" in held.files:  # a folder asked without its slash
            raise web.HTTPFound(f"{parts[-1]}/")
        return _not_found(path, zone)
    content, etag = found
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("If-None-Match") == f'"{etag}"':
        return web.Response(status=304, headers=headers)
    kind, charset = _content_type(path)
    return web.Response(body=content, content_type=kind, charset=charset, headers=headers)


async def read_only(request: web.Request) -> web.StreamResponse:
    """Any other method: 405 as aiohttp would answer, in words a visitor reads."""
    return web.Response(
        status=405,
        text=text("site.read_only"),
        content_type="text/plain",
        charset="utf-8",
        headers={"Allow": "GET,HEAD"},
    )


async def to_folder(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("public/")


def install(app: web.Application, sources: Sources) -> None:
    """Add /public/ to the bot's app; ``built`` (a cleanup context, after the database and the
    scheduler) builds the site and keeps it fresh."""
    app[SITE] = Site(sources)
    app.router.add_get(PREFIX, to_folder)
    app.router.add_route("*", PREFIX, read_only)
    app.router.add_get(PREFIX + "/{path:.*}", serve)
    app.router.add_route("*", PREFIX + "/{path:.*}", read_only)


async def built(app: web.Application) -> AsyncIterator[None]:
    held = app[SITE]
    # The first build in the background: the app answers callbacks at once; /public/ waits
    # for it.
    first = asyncio.create_task(held.tick())
    held.sources.scheduler().add_job(
        held.tick,
        "interval",
        seconds=REFRESH_SECONDS,
        max_instances=1,
        coalesce=True,
        id="refresh-site",
    )
    yield
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
