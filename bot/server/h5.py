"""A finding as a mobile page: ``/h5/findings/{id}`` (issue 14 §4).

Plain HTML and CSS that work in WeCom's and DingTalk's in-app browsers, with one line of
script (a choice other questions depend on saves the page, so the questions it opens appear;
without script, 「保存」 does the same). The page and chat share one draft
(bot.workflows.finding_page). Every request needs the session of bot.server.h5_login (a page
opened without one goes through the platform's login first); every POST needs its CSRF token;
a finding of another team, or one that does not exist, gets the same 403 with no detail.
Photos are uploaded as multipart, each checked as chat's are (at most
``findings.photo_max_mib``, a picture by its own bytes) and kept in the same store.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web
from sqlalchemy import select

from bot.base.texts import render, text
from bot.forms.definition import MAX_PHOTOS, Form, Question
from bot.forms.session import Draft, answered
from bot.server.h5_login import (
    SESSIONS,
    SOURCES,
    UNREADABLE,
    Handler,
    Visitor,
    absolute,
    check_csrf,
    forbidden,
    guarded,
    login_redirect,
    no_pages,
    page,
    posted,
    row_id,
    unreadable,
)
from bot.workflows import finding_page
from bot.workflows.finding_page import Outcome
from bot.workflows.step import Forbidden, Step
from handlers.findings import shown_answer
from storage.engine import unit_of_work
from storage.files import image_type
from storage.models import Person

T = TypeVar("T")
FINDING = "/h5/findings/{finding_id:[1-9][0-9]{0,9}}"
FIELD_BYTES = 8 * 1024  # a plain field of the photo form (the token, the question id)
# The photo form's parts: its two fields and a file each (an empty file input sends one
# empty part); a body of endless small parts is refused rather than read to its end.
MAX_PARTS = MAX_PHOTOS + 8
# What a page says after a move that worked (named in the address it is sent on to).
DONE = {
    "saved": "page.done_saved",
    "submitted": "page.done_submitted",
    "photos": "page.done_photos",
    "removed": "page.done_removed",
}


def _path(finding_id: int, rest: str = "") -> str:
    return f"/h5/findings/{finding_id}{rest}"


def _finding_id(request: web.Request) -> int:
    return row_id(request, "finding_id")


async def as_visitor(
    request: web.Request,
    visitor: Visitor,
    action: Callable[[Step, Person], Awaitable[T]],
    *,
    lock: bool,
) -> T:
    """Run ``action`` in one transaction as the visitor (row-locked when it changes things,
    as chat locks the person for each message, so the page and chat take turns)."""
    sources = request.app[SOURCES]
    async with unit_of_work(sources.factory()) as session:
        query = select(Person).where(Person.id == visitor.person_id)
        person = (await session.execute(query.with_for_update() if lock else query)).scalar()
        if person is None:
            raise Forbidden(visitor.person_id)
        step = Step(session, sources.policy, sources.clock(), person.name)
        return await action(step, person)


async def readable(
    request: web.Request, visitor: Visitor, read: Callable[[Step, Person], Awaitable[T]]
) -> T | web.Response:
    """What ``read`` gives the visitor, or the pages' one 403 when it is not theirs."""
    try:
        return await as_visitor(request, visitor, read, lock=False)
    except Forbidden:
        return forbidden()


def _visitor(request: web.Request) -> Visitor | None:
    return request.app[SESSIONS].visitor(request)


async def show(request: web.Request) -> web.Response:
    visitor = _visitor(request)
    if visitor is None:
        return login_redirect(request, request.path)
    done = request.query.get("done", "")
    note = text(DONE[done]) if done in DONE else ""
    return await _render(request, visitor, note=note)


async def _render(
    request: web.Request, visitor: Visitor, *, note: str = "", outcome: Outcome | None = None
) -> web.Response:
    finding_id = _finding_id(request)

    async def read(step: Step, person: Person) -> finding_page.Page:
        return await finding_page.page(step, person, finding_id)

    shown = await readable(request, visitor, read)
    if isinstance(shown, web.Response):
        return shown
    body = render(
        "h5/finding.html.j2",
        page=shown,
        questions=_questions(request, shown, outcome or Outcome()),
        note=note or (outcome.note if outcome else ""),
        csrf=visitor.csrf,
        action=absolute(request, _path(finding_id)),
        photos_action=absolute(request, _path(finding_id, "/photos")),
        remove_action=absolute(request, _path(finding_id, "/photos/remove")),
        max_mib=request.app[SOURCES].settings.findings.photo_max_mib,
    )
    return web.Response(text=body, content_type="text/html")


def _questions(request: web.Request, shown: finding_page.Page, outcome: Outcome) -> list[Any]:
    """Each question as the page template needs it: the answer (or what was typed, when it
    was refused), the options with what is chosen, the photos with their addresses."""
    form, answers = shown.form, shown.draft.answers
    depended = _depended_on(form)
    rows = []
    for number, q, required in finding_page.questions(form, answers):
        value = answers.get(q.id)
        typed = outcome.typed.get(q.id)
        rows.append(
            {
                "number": number,
                "q": q,
                "required": required,
                "value": _shown_value(value) if typed is None else _typed(typed),
                "options": _options(q, value if typed is None else typed),
                "error": outcome.errors.get(q.id, ""),
                "autosave": q.id in depended,
                "photos": [
                    absolute(request, _path(shown.finding.id, f"/photos/{sha}"))
                    for sha in (value if q.kind == "photos" and isinstance(value, list) else [])
                ],
                "shas": value if q.kind == "photos" and isinstance(value, list) else [],
                "display": _display(q, shown.draft, value),
            }
        )
    return rows


def _display(q: Question, draft: Draft, value: Any) -> str:
    """An answer as the read-only page (and chat's review) words it."""
    if answered(q, draft.answers):
        return shown_answer(q, value)
    return text("filling.skipped" if q.id in draft.skipped else "filling.not_answered")


def _depended_on(form: Form) -> set[str]:
    return {
        target
        for q in form.questions
        for condition in (q.when, q.required_when)
        if condition is not None
        for target in condition.questions()
    }


def _shown_value(value: Any) -> str:
    if value is None or isinstance(value, list | bool):
        return ""
    return str(value)


def _typed(typed: str | list[str]) -> str:
    return typed if isinstance(typed, str) else ""


def _options(q: Question, value: Any) -> list[dict[str, Any]]:
    """Each choice with whether it is chosen. ``value`` is the stored answer (True/False for
    yes/no, an option or a list of them), or what was sent when the answer was refused (the
    labels themselves)."""
    if q.kind == "yesno":
        labels = [text("filling.label_yes"), text("filling.label_no")]
        if isinstance(value, bool):
            value = labels[0] if value else labels[1]
    elif q.kind in ("single", "multiple"):
        labels = list(q.options)
    else:
        return []
    picked = set(value) if isinstance(value, list) else {value}
    return [{"label": label, "checked": label in picked} for label in labels]


async def _move(
    request: web.Request,
    visitor: Visitor,
    act: Callable[[Step, Person], Awaitable[Outcome]],
    anchor: str,
) -> web.Response:
    """A change made as the visitor: the page again with what went wrong, or, when it all
    went through, on to the page (a reload then sends nothing twice)."""
    try:
        outcome = await as_visitor(request, visitor, act, lock=True)
    except Forbidden:
        return forbidden()
    if outcome.refused or outcome.errors:
        return await _render(request, visitor, outcome=outcome)
    fragment = f"#q-{urllib.parse.quote(anchor)}" if anchor else ""
    where = f"{_path(_finding_id(request))}?done={outcome.done}{fragment}"
    raise web.HTTPSeeOther(absolute(request, where))


async def save(request: web.Request) -> web.Response:
    visitor = _visitor(request)
    form = await posted(request)
    if form is None:
        return unreadable()
    if visitor is None or not check_csrf(visitor, form.get("csrf")):
        return page(403, text("page.expired"))
    finding_id = _finding_id(request)
    fields: dict[str, str | list[str]] = {}
    for key in {k for k in form if k.startswith("q.")}:
        given = [str(v) for v in form.getall(key)]
        fields[key[2:]] = given if len(given) > 1 else given[0]
    on_page = [str(v) for v in form.getall("shown", [])]
    submit = "submit" in form.getall("action", [])

    async def act(step: Step, person: Person) -> Outcome:
        return await finding_page.save(step, person, finding_id, on_page, fields, submit)

    return await _move(request, visitor, act, str(form.get("anchor", "")))


async def upload(request: web.Request) -> web.Response:
    """Photos chosen on the page: each read up to the cap, checked, stored, then added."""
    visitor = _visitor(request)
    if visitor is None or not request.content_type.startswith("multipart/"):
        return page(403, text("page.expired"))
    sources = request.app[SOURCES]
    try:
        fields, files, problem = await _read_upload(
            await request.multipart(), sources.settings.findings.photo_max_bytes
        )
    except UNREADABLE:
        return unreadable()
    if not check_csrf(visitor, fields.get("csrf")):
        return page(403, text("page.expired"))
    if problem is None and not files:
        problem = text("page.no_file")
    stored: list[tuple[str, int, str]] = []
    for data in files if problem is None else []:
        kind = image_type(data)
        if kind is None:
            problem = text("filling.photo_not_image")
            break
        stored.append((sources.store.put(data), len(data), kind))
    if problem is not None:
        return await _render(request, visitor, note=problem)
    finding_id, question = _finding_id(request), fields.get("question", "")

    async def act(step: Step, person: Person) -> Outcome:
        return await finding_page.add_photos(step, person, finding_id, question, stored)

    return await _move(request, visitor, act, question)


async def _read_upload(
    reader: Any, max_bytes: int
) -> tuple[dict[str, str], list[bytes], str | None]:
    """The form's plain fields and its files, reading no file past the cap (nor more files
    than a question may hold): the fields, the files, and what was wrong, if anything."""
    fields: dict[str, str] = {}
    files: list[bytes] = []
    parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_PARTS:
            return fields, [], text("page.bad_form")
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart: no browser sends one
        if part.filename is None:
            raw = await _read_capped(part, FIELD_BYTES)
            if raw is None:
                return fields, [], text("page.expired")
            fields[part.name or ""] = raw.decode("utf-8", "replace")
            continue
        data = await _read_capped(part, max_bytes)
        if data is None:
            return fields, [], text("filling.photo_too_big")
        if data:  # an empty file input sends an empty part
            files.append(data)
        if len(files) > MAX_PHOTOS:
            return fields, [], text("page.too_many_files", limit=MAX_PHOTOS)
    return fields, files, None


async def _read_capped(part: BodyPartReader, limit: int) -> bytes | None:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def remove(request: web.Request) -> web.Response:
    visitor = _visitor(request)
    form = await posted(request)
    if form is None:
        return unreadable()
    if visitor is None or not check_csrf(visitor, form.get("csrf")):
        return page(403, text("page.expired"))
    finding_id = _finding_id(request)
    question, sha256 = str(form.get("question", "")), str(form.get("sha256", ""))

    async def act(step: Step, person: Person) -> Outcome:
        return await finding_page.remove_photo(step, person, finding_id, question, sha256)

    return await _move(request, visitor, act, question)


async def photo(request: web.Request) -> web.Response:
    visitor = _visitor(request)
    if visitor is None:
        return forbidden()
    finding_id, sha256 = _finding_id(request), request.match_info["sha256"]

    async def check(step: Step, person: Person) -> bool:
        return await finding_page.photo_of(step, person, finding_id, sha256)

    try:
        if not await as_visitor(request, visitor, check, lock=False):
            return forbidden()
    except Forbidden:
        return forbidden()
    data = request.app[SOURCES].store.get(sha256)
    kind = image_type(data) if data is not None else None
    if data is None or kind is None:
        return page(404, text("page.photo_missing"))
    return web.Response(
        body=data, content_type=kind, headers={"Cache-Control": "private, max-age=86400"}
    )


def install(app: web.Application) -> None:
    """The finding pages (after bot.server.h5_login.install, whose routes go first)."""
    routes: list[tuple[str, str, Handler]] = [
        ("GET", FINDING, show),
        ("POST", FINDING, save),
        ("POST", FINDING + "/photos", upload),
        ("POST", FINDING + "/photos/remove", remove),
        ("GET", FINDING + "/photos/{sha256:[0-9a-f]{64}}", photo),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, guarded(handler))
    app.router.add_route("*", "/h5/{rest:.*}", no_pages)
