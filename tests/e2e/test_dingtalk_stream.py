"""DingTalk Stream mode: the official SDK connects to the fake gateway and the bot answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.app import create_app
from bot.config import load_settings
from bot.sandbox.fakes import FakeDingTalk, new_secrets
from tests.e2e.test_bot import ZHANG_KAI, _database
from tests.helpers import bot_environ


@pytest.fixture
async def stream(tmp_path: Path) -> AsyncIterator[FakeDingTalk]:
    keys = new_secrets()
    fake = FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    server = TestServer(fake.app())
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    url = await _database(tmp_path / "stream.db")
    settings = load_settings(
        environ={**bot_environ(keys, url, dingtalk_base=base), "SUIJI_DINGTALK__MODE": "stream"}
    )
    bot = TestServer(create_app(settings))
    await bot.start_server()
    deadline = time.monotonic() + 20
    while not fake.sockets:  # the SDK opens a connection and dials the gateway
        assert time.monotonic() < deadline, "the stream client never connected"
        await asyncio.sleep(0.05)
    yield fake
    await bot.close()
    await server.close()


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
