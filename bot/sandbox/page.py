"""The sandbox page: everyone's phone in one browser tab, talking to the bot through the fake
WeCom. Picking a person, reading what the bot sent, typing a reply and clicking card buttons
all go through the same encrypted callbacks a real WeCom would send."""

from __future__ import annotations

import itertools
import time
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bot.app import FACTORY, create_app
from bot.config import Settings
from bot.sandbox.fakes import FakeDingTalk, FakeWeCom
from bot.texts import render
from storage.models import Person, Unit

FAKE = web.AppKey("fake_wecom", FakeWeCom)
SAID = web.AppKey("said", list[dict[str, Any]])
CLIENT = web.AppKey("sandbox_client", aiohttp.ClientSession)
_seq = itertools.count(1_000_000)


async def page(request: web.Request) -> web.Response:
    return web.Response(text=render("sandbox/index.html.j2"), content_type="text/html")


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


async def say(request: web.Request) -> web.Response:
    data = await _payload(request)
    text = str(data.get("text", "")).strip()[:2000]
    if not text:
        raise web.HTTPBadRequest(text="text expected")
    request.app[SAID].append(
        {
            "seq": next(_seq),
            "user": data["user"],
            "from": "me",
            "kind": "text",
            "text": text,
            "at": time.time(),
        }
    )
    status = await request.app[FAKE].say(request.app[CLIENT], data["user"], text)
    return web.json_response({"status": status})


async def click(request: web.Request) -> web.Response:
    data = await _payload(request)
    key, task_id = str(data.get("key", "")), str(data.get("task_id", ""))
    label = str(data.get("label", key))
    request.app[SAID].append(
        {
            "seq": next(_seq),
            "user": data["user"],
            "from": "me",
            "kind": "click",
            "text": label,
            "at": time.time(),
        }
    )
    status = await request.app[FAKE].click(request.app[CLIENT], data["user"], key, task_id)
    return web.json_response({"status": status})


async def _client(app: web.Application) -> Any:
    app[CLIENT] = aiohttp.ClientSession()
    yield
    await app[CLIENT].close()


def install(app: web.Application, fake: FakeWeCom) -> None:
    """Add the sandbox page and its API under /sandbox/ to the bot's app."""
    app[FAKE], app[SAID] = fake, []
    app.cleanup_ctx.append(_client)
    app.router.add_get("/sandbox/", page)
    app.router.add_get("/sandbox/api/people", people)
    app.router.add_get("/sandbox/api/messages", messages)
    app.router.add_post("/sandbox/api/say", say)
    app.router.add_post("/sandbox/api/click", click)


def sandbox_app(settings: Settings, base: str) -> tuple[web.Application, FakeWeCom, FakeDingTalk]:
    """The bot with both fakes mounted under /fake/ and the page under /sandbox/, in one app;
    ``base`` is where the app will listen, for the fakes' callbacks."""
    w, d = settings.wecom, settings.dingtalk
    fake_wecom = FakeWeCom(w.corp_id, w.secret, w.token, w.encoding_aes_key, w.agent_id)
    fake_dingtalk = FakeDingTalk(d.app_key, d.app_secret, d.robot_code)
    fake_wecom.bot_url = f"{base}/wecom/callback"
    fake_dingtalk.bot_url = f"{base}/dingtalk/callback"
    app = create_app(settings)
    app.add_subapp("/fake/wecom/", fake_wecom.app())
    app.add_subapp("/fake/dingtalk/", fake_dingtalk.app())
    install(app, fake_wecom)
    return app, fake_wecom, fake_dingtalk
