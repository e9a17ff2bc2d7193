"""DingTalk Stream mode: the official SDK connects to the fake gateway and the bot answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.base.config import load_settings
from bot.platforms.dingtalk_stream import BOT_TOPIC
from bot.platforms.fakes import FakeDingTalk, new_secrets
from bot.server.app import FACTORY, create_app
from storage import chat as chat_db
from storage.models import InboundEvent, OutboxMessage, OutboxState
from tests.e2e.test_bot import ZHANG_KAI, _database
from tests.helpers import bot_environ


@contextlib.asynccontextmanager
async def streaming(directory: Path) -> AsyncIterator[tuple[FakeDingTalk, TestServer]]:
    """The fake DingTalk and a bot in Stream mode whose SDK client has connected to it."""
    keys = new_secrets()
    fake = FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    server = TestServer(fake.app())
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    url = await _database(directory / "stream.db")
    settings = load_settings(
        environ={**bot_environ(keys, url, dingtalk_base=base), "SUIJI_DINGTALK__MODE": "stream"}
    )
    bot = TestServer(create_app(settings))
    await bot.start_server()
    deadline = time.monotonic() + 20
    while not fake.sockets:  # the SDK opens a connection and dials the gateway
        assert time.monotonic() < deadline, "the stream client never connected"
        await asyncio.sleep(0.05)
    try:
        yield fake, bot
    finally:
        await bot.close()
        await server.close()


@pytest.fixture
async def stream(tmp_path: Path) -> AsyncIterator[FakeDingTalk]:
    async with streaming(tmp_path) as (fake, _bot):
        yield fake


async def test_a_robot_message_over_the_stream_is_acknowledged_and_answered(
    stream: FakeDingTalk,
) -> None:
    message_id = await stream.push(ZHANG_KAI[1], "帮助")
    deadline = time.monotonic() + 15
    while not stream.messages_for(ZHANG_KAI[1]) or message_id not in stream.acks:
        assert time.monotonic() < deadline, (stream.acks, stream.delivered)
        await asyncio.sleep(0.05)
    assert stream.acks[message_id] == 200
    assert "张凯您好" in stream.messages_for(ZHANG_KAI[1])[0].text


async def test_the_sdks_blocking_calls_never_stall_the_bots_loop(stream: FakeDingTalk) -> None:
    # The gateway now takes 1.5 s to answer; the SDK waits in a blocking requests.post. Were it
    # on the bot's loop, nothing here could run meanwhile (nor the fake, on this same loop).
    stream.open_delay = 1.5
    for socket in list(stream.sockets):
        await socket.close()  # the SDK reconnects: another blocking connections/open
    gaps, last = [], time.monotonic()
    deadline = last + 6
    while time.monotonic() < deadline and stream.calls["connections/open"] < 2:
        await asyncio.sleep(0.02)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    assert stream.calls["connections/open"] >= 2
    assert max(gaps) < 0.5


MIAO_MINGLIANG = "0701011409276156"  # another leader in the sample, by DingTalk id


async def _until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_message_that_could_not_be_stored_is_not_acknowledged_and_is_taken_when_resent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK acknowledges a message only once it is stored: if storing fails, DingTalk gets
    no success and delivers it again, and the second delivery is stored and answered once."""
    async with streaming(tmp_path) as (fake, bot):
        store_events = chat_db.store_events
        refused: list[Any] = []

        async def database_down(*args: Any, **kwargs: Any) -> Any:
            refused.append(args)
            raise ConnectionRefusedError("the database is down")

        monkeypatch.setattr(chat_db, "store_events", database_down)
        body = fake.robot_body(ZHANG_KAI[1], "help")
        first = await fake._push(BOT_TOPIC, body)
        await _until(lambda: bool(refused), "the message never reached the store")
        monkeypatch.setattr(chat_db, "store_events", store_events)  # the database is back

        # A message sent after it is acknowledged: the SDK went on past the first, and acked
        # whatever it was going to ack for it before this one.
        later = await fake.push(MIAO_MINGLIANG, "help")
        await _until(lambda: later in fake.acks, "the later message was never acknowledged")
        assert fake.acks[later] == 200
        assert first not in fake.acks, "acknowledged although it was never stored"
        async with bot.app[FACTORY]() as session:
            keys = list((await session.execute(select(InboundEvent.dedup_key))).scalars())
        assert body["msgId"] not in keys

        # DingTalk delivers it again, then (its acknowledgement lost, say) once more.
        again = await fake._push(BOT_TOPIC, body)
        await _until(lambda: again in fake.acks, "the redelivery was never acknowledged")
        once_more = await fake._push(BOT_TOPIC, body)
        await _until(lambda: once_more in fake.acks, "the second redelivery was not acknowledged")
        assert (fake.acks[again], fake.acks[once_more]) == (200, 200)
        await _until(
            lambda: (
                bool(fake.messages_for(ZHANG_KAI[1])) and bool(fake.messages_for(MIAO_MINGLIANG))
            ),
            "the messages were not answered",
        )
        async with bot.app[FACTORY]() as session:
            stored = await session.execute(
                select(func.count()).where(InboundEvent.dedup_key == body["msgId"])
            )
            assert stored.scalar_one() == 1
            deadline = time.monotonic() + 15
            while True:
                states = list((await session.execute(select(OutboxMessage.state))).scalars())
                if all(s is OutboxState.SENT for s in states) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
                await session.rollback()  # see what the sender committed meanwhile
        assert states == [OutboxState.SENT, OutboxState.SENT]
        assert len(fake.messages_for(ZHANG_KAI[1])) == 1
