"""The sandbox page: everyone's phone in one browser tab, talking to the bot through the fake
WeCom. Picking a person, reading what the bot sent, typing a reply and clicking card buttons
all go through the same encrypted callbacks a real WeCom would send. A sample campaign waits,
committed, to be drawn from the page (or with ``suiji draw run``); its teams and everyone's
state show beside the phone.

The sandbox's clock moves: the sample campaign starts a week ahead, and findings can only be
filled from its start date, so the page moves the whole app's time forward by whole days
(``MovableClock``, shared by the app, its scheduler jobs and the workflows). Only the sandbox
has one; ``suiji serve`` runs on the real time. A person's phone can also send a sample photo,
as a picture message through the fake WeCom.

The page and its API listen on loopback only (``suiji demo``); a POST must also come as JSON,
for this host and (when the browser says where from) from this page, so that another site
open in the same browser cannot press its buttons or move its clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bot.base.calendar import working_days_after
from bot.base.config import Settings
from bot.base.texts import TEMPLATES_DIR, render, text
from bot.base.times import local_time
from bot.platforms.fakes import FakeDingTalk, FakeWeCom
from bot.platforms.messages import MAX_CHOICE_OPTIONS
from bot.registry.importer import import_sample
from bot.server.app import CLOCK, FACTORY, POLICY, SENDER, create_app, remind_now, utc_now
from bot.workflows import campaigns, deadlines, findings
from bot.workflows.campaign_spec import example_campaign, parse_campaign
from bot.workflows.step import Step
from storage.chat import person_by_account
from storage.engine import unit_of_work
from storage.models import Campaign, Person, Unit

FAKE = web.AppKey("fake_wecom", FakeWeCom)
SAID = web.AppKey("said", list[dict[str, Any]])
# The newest message each person's chat has shown on the page: what is after it is unread.
READ = web.AppKey("read", dict[str, int])
CLIENT = web.AppKey("sandbox_client", aiohttp.ClientSession)
_seq = itertools.count(1_000_000)
# What the 「发送示例照片」 button sends: a small real picture shipped with the package.
SAMPLE_PHOTO = TEMPLATES_DIR / "sandbox" / "sample-photo.png"
MAX_MOVE_DAYS = 366  # the furthest one move goes: a year and a day
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class MovableClock:
    """The sandbox's time: the real time plus ``days`` whole days, moved only forward.

    ``keep``, when given (the demo's folder), holds the days moved, so that a demo started
    again goes on at the time it had reached rather than going back behind what it stored."""

    def __init__(
        self, days: int = 0, keep: Path | None = None, real: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self.days, self.keep, self.real = days, keep, real

    def __call__(self) -> dt.datetime:
        return self.real() + dt.timedelta(days=self.days)

    def forward(self, days: int) -> None:
        if days < 1:
            raise ValueError("the sandbox clock only moves forward")
        if self.keep is not None:  # kept first: a move that could not be kept is not made
            self.keep.write_text(f"{self.days + days}\n", "utf-8")
        self.days += days


MOVABLE = web.AppKey("movable_clock", MovableClock)


async def page(request: web.Request) -> web.Response:
    return web.Response(
        text=render("sandbox/index.html.j2", suggested=suggested_entropy()),
        content_type="text/html",
    )


async def people(request: web.Request) -> web.Response:
    async with request.app[FACTORY]() as session:
        rows = await session.execute(
            select(Person, Unit.name)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.wecom_userid.is_not(None))
            .order_by(Person.is_leader.desc(), Person.is_officer.desc(), Person.id)
        )
        found = [
            {
                "user": person.wecom_userid,
                "name": person.name,
                "unit": unit,
                "leader": person.is_leader,
                "officer": person.is_officer,
                "admin": person.is_admin,
                "witness": person.is_witness,
            }
            for person, unit in rows
        ]
    return web.json_response(found)


async def messages(request: web.Request) -> web.Response:
    user = request.query.get("user", "")
    fake = request.app[FAKE]
    bot = [{**m.to_json(), "from": "bot"} for m in fake.messages_for(user)]
    mine = [m for m in request.app[SAID] if m["user"] == user]
    return web.json_response(sorted(bot + mine, key=lambda m: m["at"]))


async def _payload(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="json expected") from exc
    if not isinstance(data, dict) or not isinstance(data.get("user"), str):
        raise web.HTTPBadRequest(text="user expected")
    return data


def _said(request: web.Request, user: str, kind: str, words: str) -> None:
    """What the person did, shown on their side of the chat (the bot's side is the fake's)."""
    said = {"seq": next(_seq), "user": user, "from": "me", "kind": kind, "text": words}
    request.app[SAID].append({**said, "at": time.time()})


async def say(request: web.Request) -> web.Response:
    data = await _payload(request)
    text = str(data.get("text", "")).strip()[:2000]
    if not text:
        raise web.HTTPBadRequest(text="text expected")
    _said(request, data["user"], "text", text)
    status = await request.app[FAKE].say(request.app[CLIENT], data["user"], text)
    return web.json_response({"status": status})


async def photo(request: web.Request) -> web.Response:
    """The person sends the sample photo: a picture message through the fake WeCom, which
    keeps the file as temporary media for the bot to fetch (``media/get``), as WeCom does."""
    data = await _payload(request)
    _said(request, data["user"], "image", "")
    picture = SAMPLE_PHOTO.read_bytes()
    status = await request.app[FAKE].send_image(
        request.app[CLIENT], data["user"], picture, "image/png"
    )
    return web.json_response({"status": status})


async def fill_team(request: web.Request) -> web.Response:
    """The person's team's findings not yet submitted, filled with sample answers and
    submitted as them (bot.workflows.findings.fill_with_samples), so the demo can reach the
    team's report without answering every form by hand."""
    data = await _payload(request)
    app = request.app
    async with unit_of_work(app[FACTORY]) as session:
        person = await person_by_account(session, "wecom", str(data["user"]), lock=True)
        if person is None:
            raise web.HTTPBadRequest(text="no such person")
        step = Step(session, app[POLICY], app[CLOCK](), person.name)
        count = await findings.fill_with_samples(step, person)
    _said(request, str(data["user"]), "click", text("sandbox.filled", count=count))
    app[SENDER].wake.set()
    return web.json_response({"status": 200, "filled": count})


async def sample_photo(request: web.Request) -> web.FileResponse:
    return web.FileResponse(SAMPLE_PHOTO)


async def click(request: web.Request) -> web.Response:
    data = await _payload(request)
    key, task_id = str(data.get("key", "")), str(data.get("task_id", ""))
    label = str(data.get("label", key))
    _said(request, data["user"], "click", label)
    status = await request.app[FAKE].click(request.app[CLIENT], data["user"], key, task_id)
    return web.json_response({"status": status})


async def vote(request: web.Request) -> web.Response:
    """The options ticked on a vote card (by its ``seq`` on the person's phone) submitted."""
    data = await _payload(request)
    ids = data.get("ids")
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_CHOICE_OPTIONS
        or not all(isinstance(i, str) for i in ids)
    ):
        raise web.HTTPBadRequest(text="option ids expected")
    fake, user = request.app[FAKE], data["user"]
    card = next((m for m in fake.messages_for(user) if m.seq == data.get("seq")), None)
    if card is None or card.choice is None:
        raise web.HTTPBadRequest(text="no such vote card")
    labels = {str(o.get("id")): str(o.get("text", "")) for o in card.choice["options"]}
    said = text("sandbox.ticked", options=[labels.get(i, i) for i in ids])
    _said(request, user, "click", said)
    status = await fake.vote(request.app[CLIENT], user, card, ids)
    return web.json_response({"status": status})


async def prepare(factory: Any, clock: Callable[[], dt.datetime], tz: dt.tzinfo) -> None:
    """What a new sandbox holds: the sample registries and a campaign ready to draw."""
    await import_sample(factory, clock)
    await ready_campaign(factory, clock, tz)


async def ready_campaign(factory: Any, clock: Callable[[], dt.datetime], tz: dt.tzinfo) -> int:
    """The example campaign, a week from the bureau's today (``tz``: not UTC's, which is a
    day behind from midnight to eight in China) for two weeks, committed and waiting for its
    draw: what the sandbox offers to draw first."""
    start = clock().astimezone(tz).date() + dt.timedelta(days=7)
    example = parse_campaign(example_campaign(start))
    spec = dataclasses.replace(example, end=start + dt.timedelta(days=14))
    actor = text("sandbox.actor")
    campaign_id = (await campaigns.create_campaign(factory, spec, actor, clock)).id
    await campaigns.commit_draw(factory, campaign_id, actor, clock)
    return campaign_id


async def campaign_list(request: web.Request) -> web.Response:
    """Every campaign as `campaign show` has it, with its entropy sources for the draw form and
    ``overdue_day``: the working day after the team leaders are first told of their officers'
    overdue findings (``reminders.escalate_team_leader_days`` working days past the findings'
    due day), where the page's 「调到结束后」 moves the clock to see those reminders arrive —
    the day after, because the clock keeps its time of day and a day's step goes at
    ``reminders.at``: before then on the day itself, the leaders would have nothing yet."""
    async with request.app[FACTORY]() as session:
        rows = await session.execute(select(Campaign).order_by(Campaign.id))
        found = [(c.id, c.entropy_sources, c.end_on) for c in rows.scalars()]
        known = await deadlines.load_overrides(session)
    rules = request.app[POLICY].deadlines
    shown = []
    for campaign_id, sources, end in found:
        view = await campaigns.show_campaign(request.app[FACTORY], campaign_id)
        due = working_days_after(end, rules.findings_days, known).day
        overdue_day = working_days_after(due, rules.escalate_team_leader_days + 1, known).day
        shown.append(
            {**view, "sources": [s["name"] for s in sources], "overdue_day": str(overdue_day)}
        )
    return web.json_response(shown)


async def draw(request: web.Request) -> web.Response:
    """Run a committed campaign's draw with the numbers typed on the page (a second run needs
    a reason, as on the command line); the officers' phones fill with their assignments."""
    try:
        data = await request.json()
        campaign_id = int(data["campaign"])
        raw = dict(data.get("values", {}))
        reason = str(data.get("reason", "")).strip() or None
    except (ValueError, KeyError, TypeError) as exc:
        raise web.HTTPBadRequest(text="campaign and values expected") from exc
    values: dict[str, list[int]] = {}
    for name, typed in raw.items():
        numbers = campaigns.entropy_numbers(str(typed))
        if numbers is None:
            return web.json_response({"error": text("sandbox.bad_values", name=name)}, status=400)
        values[str(name)] = numbers
    factory, clock, actor = request.app[FACTORY], request.app[CLOCK], text("sandbox.actor")
    try:
        if reason:
            await campaigns.reseed_draw(factory, campaign_id, reason, actor, clock)
        await campaigns.run_draw(
            factory, campaign_id, values, reason, actor, clock, request.app[POLICY]
        )
    except campaigns.CampaignError as refused:
        return web.json_response({"error": str(refused)}, status=400)
    request.app[SENDER].wake.set()
    return web.json_response({"ok": True})


async def read(request: web.Request) -> web.Response:
    """The page showed a person's chat up to the bot's message ``seq``: those are read."""
    data = await _payload(request)
    try:
        seq = int(data.get("seq", 0))
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text="seq expected") from exc
    seen = request.app[READ]
    seen[data["user"]] = max(seen.get(data["user"], 0), seq)
    return web.json_response({"ok": True})


async def counts(request: web.Request) -> web.Response:
    """How many of the bot's messages each person has not read yet, for the badges."""
    seen = request.app[READ]
    tally: dict[str, int] = {}
    for message in request.app[FAKE].delivered:
        if message.seq > seen.get(message.user, 0):
            tally[message.user] = tally.get(message.user, 0) + 1
    return web.json_response(tally)


def clock_view(app: web.Application) -> dict[str, Any]:
    """The sandbox's time as the page shows it, in the bureau's zone."""
    clock, tz = app[MOVABLE], app[POLICY].tz
    now = clock()
    shown = local_time(now, tz)
    return {
        "now": shown,
        "today": now.astimezone(tz).date().isoformat(),
        "days": clock.days,
        "shown": text("sandbox.clock_now", now=shown, days=clock.days),
    }


class ClockRefused(Exception):
    """A move of the sandbox's clock that is not done; the message says why, in Chinese."""


async def clock_state(request: web.Request) -> web.Response:
    return web.json_response(clock_view(request.app))


def days_to_move(data: Any, today: dt.date) -> int:
    """How many days forward the page asked for: ``{"to": "2026-12-21"}`` (that date, at the
    same time of day) or ``{"days": 3}``. ClockRefused with the reason when it cannot be."""
    if not isinstance(data, dict) or ("to" in data) == ("days" in data):
        raise ClockRefused(text("sandbox.clock_bad_request"))
    if "to" in data:
        try:
            days = (dt.date.fromisoformat(str(data["to"])) - today).days
        except ValueError as exc:
            raise ClockRefused(text("sandbox.clock_bad_date", value=str(data["to"]))) from exc
    else:
        days = data["days"]
        if not isinstance(days, int) or isinstance(days, bool):
            raise ClockRefused(text("sandbox.clock_bad_days", limit=MAX_MOVE_DAYS))
    if days < 1:
        raise ClockRefused(text("sandbox.clock_backwards", today=today.isoformat()))
    if days > MAX_MOVE_DAYS:
        raise ClockRefused(text("sandbox.clock_bad_days", limit=MAX_MOVE_DAYS))
    return days


async def move_clock(request: web.Request) -> web.Response:
    """Move the sandbox's time forward: to a date (the sample campaign's start), or by days.
    The scheduler's next ticks (reminders, photos, retries) and every answer then go by it;
    the reminder ticks run at once, so that the digests the new time makes due arrive now
    rather than up to five minutes later."""
    try:
        data = await request.json()
    except ValueError:
        data = None
    app = request.app
    today = app[MOVABLE]().astimezone(app[POLICY].tz).date()
    try:
        days = days_to_move(data, today)
    except ClockRefused as refused:
        return web.json_response({"error": str(refused)}, status=400)
    app[MOVABLE].forward(days)
    await remind_now(app)
    app[SENDER].wake.set()  # whatever waited for the time just passed goes now
    return web.json_response(clock_view(app))


def suggested_entropy() -> list[int]:
    return [secrets.randbelow(99) + 1 for _ in range(3)]


async def _client(app: web.Application) -> Any:
    app[CLIENT] = aiohttp.ClientSession()
    yield
    await app[CLIENT].close()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(handler: Handler) -> Handler:
    """A sandbox POST as only its own page sends it: JSON (a form or a plain-text request from
    another site cannot set that type without asking first, and is not answered), to a
    loopback host (not a name that a site had resolve to this machine), and from this page
    when the browser says where from."""

    async def checked(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            raise web.HTTPBadRequest(text="json expected")
        origin = request.headers.get("Origin")
        page = f"{request.scheme}://{request.host}"
        if request.url.host not in LOOPBACK or origin not in (None, page):
            return web.json_response({"error": text("sandbox.not_this_page")}, status=403)
        return await handler(request)

    return checked


def install(app: web.Application, fake: FakeWeCom, clock: MovableClock) -> None:
    """Add the sandbox page and its API under /sandbox/ to the bot's app, whose clock is
    ``clock``."""
    app[FAKE], app[SAID], app[READ], app[MOVABLE] = fake, [], {}, clock
    app.cleanup_ctx.append(_client)
    app.router.add_get("/sandbox/", page)
    app.router.add_get("/sandbox/sample-photo.png", sample_photo)
    app.router.add_get("/sandbox/api/people", people)
    app.router.add_get("/sandbox/api/messages", messages)
    app.router.add_get("/sandbox/api/campaigns", campaign_list)
    app.router.add_get("/sandbox/api/counts", counts)
    app.router.add_get("/sandbox/api/clock", clock_state)
    posts: dict[str, Handler] = {
        "say": say,
        "photo": photo,
        "fill-team": fill_team,
        "click": click,
        "vote": vote,
        "draw": draw,
        "read": read,
        "clock": move_clock,
    }
    for name, handler in posts.items():
        app.router.add_post(f"/sandbox/api/{name}", guarded(handler))


def sandbox_app(
    settings: Settings, base: str, clock: MovableClock | None = None
) -> tuple[web.Application, FakeWeCom, FakeDingTalk]:
    """The bot with both fakes mounted under /fake/ and the page under /sandbox/, in one app;
    ``base`` is where the app will listen, for the fakes' callbacks. The app, its jobs and the
    page share ``clock`` (a new one, on the real time, when none is given)."""
    w, d = settings.wecom, settings.dingtalk
    fake_wecom = FakeWeCom(w.corp_id, w.secret, w.token, w.encoding_aes_key, w.agent_id)
    fake_dingtalk = FakeDingTalk(d.app_key, d.app_secret, d.robot_code)
    fake_wecom.bot_url = f"{base}/wecom/callback"
    fake_dingtalk.bot_url = f"{base}/dingtalk/callback"
    clock = clock or MovableClock()
    app = create_app(settings, clock=clock)
    app.add_subapp("/fake/wecom/", fake_wecom.app())
    app.add_subapp("/fake/dingtalk/", fake_dingtalk.app())
    install(app, fake_wecom, clock)
    return app, fake_wecom, fake_dingtalk
