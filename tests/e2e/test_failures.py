"""When things go wrong, and what a person sees at the edges: /healthz with the database out of
reach, a handler that keeps failing (one apology, then given up on), and WeCom's enter_agent.

Each test here guards a behaviour that nothing else failed without (audit of issue 4)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.config import load_settings
from bot.base.texts import text
from bot.platforms.fakes import FakeWeCom
from bot.server import dispatch
from bot.server.app import create_app
from storage.models import EventState, InboundEvent, OutboxMessage, OutboxState
from tests.e2e.phones import Phones, phones, utc_now
from tests.helpers import free_port, load_sample

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
ZHANG_KAI = "zhangkai"  # a leader in the sample, on WeCom
MIAO_JUAN = "miaojuan"  # another


@pytest.fixture
async def wecom(factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    async with phones("wecom", database_url) as built:
        yield built


async def _events(p: Phones) -> list[InboundEvent]:
    async with p.factory() as session:
        query = select(InboundEvent).order_by(InboundEvent.id)
        return list((await session.execute(query)).scalars())


async def _outbox(p: Phones) -> list[OutboxMessage]:
    async with p.factory() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.execute(query)).scalars())


async def _until(check: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


# --- /healthz ---------------------------------------------------------------------------------


def _unreachable(database_url: str, directory: Path) -> str:
    """The database under test made unreachable: a SQLite file in a folder that does not exist,
    or the same server URL on a port nothing listens on."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{directory / 'no-such-folder' / 'bot.db'}"
    return url.set(host="127.0.0.1", port=free_port()).render_as_string(hide_password=False)


async def _health(settings_url: str) -> list[tuple[int, str]]:
    """Two answers of /healthz from a bot on this database (the second: it still serves)."""
    server = TestServer(create_app(load_settings(environ={"SUIJI_DATABASE__URL": settings_url})))
    await server.start_server()
    answers = []
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                async with http.get(str(server.make_url("/healthz"))) as response:
                    answers.append((response.status, await response.text()))
    finally:
        await server.close()
    return answers


async def test_healthz_answers_503_while_the_database_is_unreachable(
    factory: Factory, database_url: str, tmp_path: Path
) -> None:
    assert await _health(database_url) == [(200, "ok")] * 2
    down = await _health(_unreachable(database_url, tmp_path))
    assert down == [(503, "database cannot be written")] * 2


# --- WeCom enter_agent ------------------------------------------------------------------------


def enter_agent_xml(user: str, created: int) -> str:
    """The event WeCom sends when a person opens the app (it carries no MsgId)."""
    return (
        f"<xml><ToUserName><![CDATA[corp]]></ToUserName><FromUserName><![CDATA[{user}]]>"
        f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]>"
        f"</MsgType><Event><![CDATA[enter_agent]]></Event><EventKey><![CDATA[]]></EventKey>"
        f"<AgentID>1000002</AgentID></xml>"
    )


async def test_opening_the_wecom_app_is_answered_with_the_help_text(wecom: Phones) -> None:
    fake = wecom.fake
    assert isinstance(fake, FakeWeCom)
    assert await fake.post(wecom.http, enter_agent_xml(ZHANG_KAI, int(time.time()))) == 200

    async def shown_once() -> bool:
        return len(wecom.inbox(ZHANG_KAI)) == 1

    await _until(shown_once, "opening the app was not answered")
    [shown] = wecom.inbox(ZHANG_KAI)
    # The same message the help command gets (WeCom's duplicate check keeps the phone from
    # showing it twice, so the two are compared in the outbox).
    assert await wecom.say(ZHANG_KAI, "help") == 200

    async def two() -> bool:
        rows = await _outbox(wecom)
        return len(rows) == 2 and all(r.state is OutboxState.SENT for r in rows)

    await _until(two, "the help command was not answered")
    entered, helped = await _outbox(wecom)
    assert entered.body == helped.body
    assert entered.body["kind"] == shown.kind == "markdown"
    assert entered.body["title"] == text("chat.help_title")
    assert shown.text == helped.body["text"]  # what the phone shows is all of it
    events = await _events(wecom)
    assert [e.payload["kind"] for e in events] == ["enter", "text"]
    assert all(e.state is EventState.DONE for e in events)


# --- a handler that keeps failing -------------------------------------------------------------


async def test_a_failing_handler_apologises_once_and_is_given_up_on_after_its_attempts(
    wecom: Phones, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def broken(*args: Any) -> list[Any]:
        calls.append("decide")
        raise RuntimeError("handler bug")

    monkeypatch.setattr(dispatch, "decide", broken)
    assert await wecom.say(ZHANG_KAI, "help") == 200
    await wecom.wait_for(ZHANG_KAI, text("chat.apology"))
    [event] = await _events(wecom)
    assert (event.state, event.attempts) == (EventState.PENDING, 1)  # kept for a retry

    # The retry pass (the scheduler's, here without its 60 s grace) takes it again and again.
    passes = 0
    while await dispatch.process_pending(
        wecom.factory, utc_now, older_than=dt.timedelta(0), policy=wecom.policy
    ):
        passes += 1
        assert passes < dispatch.MAX_HANDLER_ATTEMPTS + 3, "never given up on"
    assert passes == dispatch.MAX_HANDLER_ATTEMPTS - 1
    assert len(calls) == dispatch.MAX_HANDLER_ATTEMPTS
    [event] = await _events(wecom)
    assert event.state is EventState.FAILED
    assert event.attempts == dispatch.MAX_HANDLER_ATTEMPTS
    assert event.last_error == "RuntimeError: handler bug"
    # Given up on: neither another pass nor a worker handling it again touches it.
    assert await dispatch.process(wecom.factory, event.id, utc_now, wecom.policy)
    assert len(calls) == dispatch.MAX_HANDLER_ATTEMPTS

    await wecom.settled()
    # One apology in all, and once given up on, one word that the retries are over: counted
    # in the outbox, where WeCom's duplicate check cannot hide a second one.
    assert [(r.event_id, r.body["text"], r.state) for r in await _outbox(wecom)] == [
        (event.id, text("chat.apology"), OutboxState.SENT),
        (event.id, text("chat.given_up"), OutboxState.SENT),
    ]
    assert [m.text for m in wecom.inbox(ZHANG_KAI)] == [
        text("chat.apology"),
        text("chat.given_up"),
    ]

    # The server lives on: once the handler works again, others are answered.
    monkeypatch.undo()
    assert await wecom.say(MIAO_JUAN, "help") == 200

    async def answered() -> bool:
        return [m.kind for m in wecom.inbox(MIAO_JUAN)] == ["markdown"]

    await _until(answered, "the next person was not answered")
