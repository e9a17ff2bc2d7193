"""A process killed between commit and send loses nothing and sends once after a restart.

The app recovers by itself: nothing here calls ``dispatch.process_pending``. What a killed
process leaves behind (events acknowledged but not handled, replies committed but not sent, a
reply claimed by a sender that never sent it) is either written the way the dead process wrote
it, or left by really killing a ``suiji serve`` in the middle of its work; then the real app
starts against the fake WeCom and every person gets every answer, once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.config import load_settings
from bot.base.texts import text
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.platforms.messages import Inbound, InboundKind, Platform
from bot.server import dispatch
from bot.server.app import SCHEDULER, create_app
from storage import chat as chat_db
from storage.engine import unit_of_work
from storage.models import EventState, InboundEvent, OutboxMessage, OutboxState, Person
from tests.e2e.phones import phones, utc_now
from tests.helpers import bot_environ, load_sample, serving

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]
DEADLINE = 60.0  # seconds; generous, only bounds a test whose recovery never comes
# People of the sample registry, by WeCom account.
ZHANG_KAI, MIAO_MINGLIANG, MIAO_JUAN, FENG_FENG = (
    "zhangkai",
    "miaomingliang",
    "miaojuan",
    "fengfeng",
)
HELP, TASKS = text("chat.help_title"), text("chat.tasks_title")


def _inbound(key: str, user: str, words: str, at: dt.datetime) -> Inbound:
    return Inbound(Platform.WECOM, key, user, InboundKind.TEXT, at, text=words)


async def _state(factory: Factory) -> tuple[list[InboundEvent], list[OutboxMessage]]:
    async with factory() as session:
        events = (await session.execute(select(InboundEvent).order_by(InboundEvent.id))).scalars()
        outbox = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        return list(events), list(outbox)


async def _recovered(factory: Factory, fake: FakeWeCom, replies: int) -> list[OutboxMessage]:
    """Poll until every event is handled and ``replies`` replies are sent; the outbox then."""
    deadline = time.monotonic() + DEADLINE
    while True:
        events, outbox = await _state(factory)
        if (
            all(e.state is EventState.DONE for e in events)
            and len(outbox) == replies
            and all(m.state is OutboxState.SENT for m in outbox)
        ):
            return outbox
        assert time.monotonic() < deadline, (
            f"not recovered: events {[(e.dedup_key, e.state.value) for e in events]}, "
            f"outbox {[(m.recipient, m.state.value) for m in outbox]}, "
            f"phones got {[(m.user, m.text[:20]) for m in fake.delivered]}"
        )
        await asyncio.sleep(0.05)


def _assert_each_reply_reached_its_phone_once(
    fake: FakeWeCom, outbox: list[OutboxMessage], expected: dict[str, list[str]]
) -> None:
    """``expected``: the titles of the replies each person should have, in order."""
    by_person: dict[str, list[OutboxMessage]] = {}
    for message in outbox:
        by_person.setdefault(message.recipient, []).append(message)
    assert {user: [m.body["title"] for m in rows] for user, rows in by_person.items()} == expected
    for user, rows in by_person.items():
        assert [m.text for m in fake.messages_for(user)] == [m.body["text"] for m in rows], user
    # Once: no resend reached WeCom at all (its duplicate check would hide one from the phone).
    assert fake.duplicates == 0
    assert fake.calls["send"] == len(outbox)


async def test_what_a_killed_process_left_is_handled_and_sent_once_by_the_app_on_restart(
    database_url: str, factory: Factory, clock: Clock
) -> None:
    await load_sample(factory, clock)
    # The process died five minutes ago, leaving, as it wrote them:
    died = utc_now() - dt.timedelta(minutes=5)

    def then() -> dt.datetime:
        return died

    # a reply claimed by its sender, which died before sending it;
    claimed = await dispatch.accept(factory, _inbound("left-1", MIAO_JUAN, "帮助", died))
    assert claimed is not None and await dispatch.process(factory, claimed, then)
    async with unit_of_work(factory) as session:
        [row] = await chat_db.claim_due(session, died, 1)
    assert (row.recipient, row.state) == (MIAO_JUAN, OutboxState.SENDING)
    # a reply committed with its event's effects, not yet claimed;
    handled = await dispatch.accept(factory, _inbound("left-2", MIAO_MINGLIANG, "帮助", died))
    assert handled is not None and await dispatch.process(factory, handled, then)
    # and two events of one person, acknowledged to WeCom but never handled.
    for key, words in (("left-3", "帮助"), ("left-4", "我的任务")):
        assert await dispatch.accept(factory, _inbound(key, ZHANG_KAI, words, died)) is not None

    async with phones("wecom", database_url) as p:
        # What is proven is the pass the app makes as it starts, not the tick 30 s later.
        p.bot.app[SCHEDULER].remove_job("retry-pending-events")
        assert isinstance(p.fake, FakeWeCom)
        outbox = await _recovered(p.factory, p.fake, replies=4)
        _assert_each_reply_reached_its_phone_once(
            p.fake,
            outbox,
            {MIAO_JUAN: [HELP], MIAO_MINGLIANG: [HELP], ZHANG_KAI: [HELP, TASKS]},
        )


async def test_a_served_process_killed_mid_work_loses_nothing_and_sends_once_after_restart(
    database_url: str, factory: Factory, clock: Clock, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip(
            "the killed process's handlers are held by the test's lock on a person's row; on "
            "SQLite that would be the database's one write lock, which stops callbacks being "
            "stored as well (the test above covers SQLite)"
        )
    await load_sample(factory, clock)
    keys = new_secrets()
    fake = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    # Calls to WeCom hang (the first: the sender's gettoken): the process dies mid-send.
    gate = asyncio.Event()

    async def hang() -> web.Response | None:
        await gate.wait()
        return web.Response(status=503)

    fake._fault = hang  # type: ignore[method-assign]
    wecom = TestServer(fake.app())
    await wecom.start_server()
    environ = bot_environ(keys, database_url, str(wecom.make_url("")).rstrip("/"))
    try:
        async with unit_of_work(factory) as held:
            # Zhang Kai's row is locked here: the process stores and acknowledges his events,
            # and its handlers wait for his row until the process is killed.
            person = select(Person).where(Person.wecom_userid == ZHANG_KAI).with_for_update()
            (await held.execute(person)).scalar_one()
            async with (
                serving(environ, tmp_path / "serve.log", timeout=DEADLINE) as port,
                aiohttp.ClientSession() as http,
            ):
                fake.bot_url = f"http://127.0.0.1:{port}/wecom/callback"
                for user, words in (
                    (FENG_FENG, "帮助"),
                    (ZHANG_KAI, "帮助"),
                    (ZHANG_KAI, "我的任务"),
                ):
                    assert await fake.say(http, user, words) == 200  # stored, acknowledged
                deadline = time.monotonic() + DEADLINE
                while True:
                    _, outbox = await _state(factory)
                    states = [m.state for m in outbox]
                    if fake.calls["gettoken"] and states == [OutboxState.SENDING]:
                        break  # Feng Feng's reply is claimed and on its way to WeCom
                    assert time.monotonic() < deadline, (fake.calls, states)
                    await asyncio.sleep(0.05)
            # Killed (on leaving _serve_in_a_process); only then is Zhang Kai's row released.
        events, outbox = await _state(factory)
        assert [(e.sender, e.state) for e in events] == [
            (FENG_FENG, EventState.DONE),
            (ZHANG_KAI, EventState.PENDING),
            (ZHANG_KAI, EventState.PENDING),
        ]
        assert [(m.recipient, m.state) for m in outbox] == [(FENG_FENG, OutboxState.SENDING)]
        assert fake.delivered == [] and fake.calls["send"] == 0

        del fake._fault  # WeCom answers again
        gate.set()  # (the dead process's hanging call ends, answered to nobody)
        # Restarted two minutes later: what was pending then is overdue now, and the dead
        # sender's claim has expired.
        later = dt.timedelta(minutes=2)
        restarted = TestServer(
            create_app(load_settings(environ=environ), clock=lambda: utc_now() + later)
        )
        await restarted.start_server()
        try:
            outbox = await _recovered(factory, fake, replies=3)
        finally:
            await restarted.close()
        _assert_each_reply_reached_its_phone_once(
            fake, outbox, {FENG_FENG: [HELP], ZHANG_KAI: [HELP, TASKS]}
        )
    finally:
        gate.set()
        await wecom.close()
