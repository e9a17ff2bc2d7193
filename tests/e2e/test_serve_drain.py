"""`suiji serve` stopped by SIGTERM in the middle of a burst: every callback it acknowledged is
handled, and its reply sent, before the process exits."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.platforms.fakes import FakeWeCom, new_secrets
from storage.models import EventState, InboundEvent, OutboxMessage, OutboxState, Person
from tests.e2e.phones import utc_now
from tests.helpers import bot_environ, child_environ, free_port, load_sample, until_healthy

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
BURST = 24  # people, one callback each (WeCom paces per person: one each keeps that out)
HANDLING_DELAY = 0.1  # seconds each event takes to handle, on top of the real work
# WeCom's API is some way off: the sender falls behind the handlers, as in any burst, and
# replies are still waiting in the outbox when the last event is handled.
SEND_LATENCY = 0.1

# `suiji serve`, with each event's handling made a little slower, so that SIGTERM surely finds
# acknowledged events not yet handled, whatever the machine's speed: what the drain is for.
LAUNCHER = """
import asyncio, sys
from bot.server import dispatch
from bot.cli.main import main

DELAY = float(sys.argv.pop(1))
handle = dispatch.process

async def slow(*args, **kwargs):
    await asyncio.sleep(DELAY)
    return await handle(*args, **kwargs)

dispatch.process = slow
main()
"""


@dataclasses.dataclass
class WeCom:
    fake: FakeWeCom
    keys: dict[str, str]
    base: str


@pytest.fixture
async def wecom() -> AsyncIterator[WeCom]:
    keys = new_secrets()
    fake = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    app = fake.app()

    @web.middleware
    async def latency(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.endswith("/message/send"):
            await asyncio.sleep(SEND_LATENCY)
        return await handler(request)

    app.middlewares.append(latency)
    server = TestServer(app)
    await server.start_server()
    yield WeCom(fake, keys, str(server.make_url("")).rstrip("/"))
    await server.close()


async def test_sigterm_handles_every_acknowledged_callback_and_sends_its_reply_first(
    factory: Factory, database_url: str, wecom: WeCom, tmp_path: Path
) -> None:
    fake = wecom.fake
    await load_sample(factory, utc_now)
    async with factory() as session:
        query = select(Person.wecom_userid).where(Person.wecom_userid.is_not(None))
        users = [u for u in (await session.execute(query.order_by(Person.id))).scalars() if u]
    users = users[:BURST]
    assert len(users) == BURST

    port = free_port()
    env = child_environ(bot_environ(wecom.keys, database_url, wecom.base))
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(HANDLING_DELAY), "serve", "--port", str(port)],
            cwd=tmp_path,  # no suiji.toml here: the environment configures it
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        await until_healthy(
            port, lambda: server.poll() is None, lambda: "suiji serve did not come up"
        )
        async with aiohttp.ClientSession() as http:
            fake.bot_url = f"http://127.0.0.1:{port}/wecom/callback"
            statuses = await asyncio.gather(*(fake.say(http, u, "help") for u in users))
        assert statuses == [200] * BURST  # every one acknowledged: stored, to be handled
        async with factory() as session:
            states = list((await session.execute(select(InboundEvent.state))).scalars())
        assert len(states) == BURST
        # What makes this a test of the drain: work still to do when the signal comes.
        assert states.count(EventState.PENDING) > 0, states
        server.send_signal(signal.SIGTERM)
        # Waited for in a thread: the fake WeCom, on this loop, must go on taking the replies.
        returncode = await asyncio.to_thread(server.wait, 120)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    output = log.read_text()
    assert returncode == 0, output
    assert "Traceback" not in output, output

    async with factory() as session:
        events = list((await session.execute(select(InboundEvent))).scalars())
        replies = list((await session.execute(select(OutboxMessage))).scalars())
    assert sorted(e.sender for e in events) == sorted(users)
    assert [e.state for e in events] == [EventState.DONE] * BURST, output
    assert sorted(r.recipient for r in replies) == sorted(users)
    assert [r.state for r in replies] == [OutboxState.SENT] * BURST, output
    for user in users:
        assert [m.kind for m in fake.messages_for(user)] == ["markdown"], user
