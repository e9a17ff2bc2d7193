"""A team's inspection report as a page: ``/h5/reports/{id}``, behind the pages' login.

Its team leader, the leaders who decide it and the campaign's unit leaders read it here (chat
links to it rather than pasting it); the team leader may write the conclusion here while it
is open. Anyone else gets the pages' one 403.
"""

from __future__ import annotations

from aiohttp import web

from bot.base.texts import render, text
from bot.server.h5 import as_visitor, readable
from bot.server.h5_login import (
    SESSIONS,
    Visitor,
    absolute,
    check_csrf,
    forbidden,
    guarded,
    login_redirect,
    page,
    posted,
    row_id,
    unreadable,
)
from bot.workflows import reports
from bot.workflows.step import Forbidden, Step
from storage.models import Person

REPORT = "/h5/reports/{report_id:[1-9][0-9]{0,9}}"


def _report_id(request: web.Request) -> int:
    return row_id(request, "report_id")


async def show(request: web.Request) -> web.Response:
    visitor = request.app[SESSIONS].visitor(request)
    if visitor is None:
        return login_redirect(request, request.path)
    return await _render(request, visitor, "")


async def _render(request: web.Request, visitor: Visitor, note: str) -> web.Response:
    report_id = _report_id(request)

    async def read(step: Step, person: Person) -> reports.Page:
        return await reports.page(step, person, report_id)

    shown = await readable(request, visitor, read)
    if isinstance(shown, web.Response):
        return shown
    body = render(
        "h5/report.html.j2",
        page=shown,
        content=shown.report.content,
        note=note,
        csrf=visitor.csrf,
        action=absolute(request, f"/h5/reports/{report_id}"),
    )
    return web.Response(text=body, content_type="text/html")


async def conclude(request: web.Request) -> web.Response:
    visitor = request.app[SESSIONS].visitor(request)
    form = await posted(request)
    if form is None:
        return unreadable()
    if visitor is None or not check_csrf(visitor, form.get("csrf")):
        return page(403, text("page.expired"))
    report_id, words = _report_id(request), str(form.get("conclusion", ""))

    async def act(step: Step, person: Person) -> str:
        return await reports.conclude_on_page(step, person, report_id, words)

    try:
        note = await as_visitor(request, visitor, act, lock=True)
    except Forbidden:
        return forbidden()
    return await _render(request, visitor, note)


def install(app: web.Application) -> None:
    """The report pages (before bot.server.h5's catch-all for /h5/)."""
    app.router.add_get(REPORT, guarded(show))
    app.router.add_post(REPORT, guarded(conclude))
