"""The database under faults, seen from the platforms: a callback whose event cannot be stored is
answered 503 (so WeCom and DingTalk send it again), never a 400 that would drop it, and within the
platforms' 5 s; sent again once the store recovers, it is handled exactly once; /healthz says
whether the store takes writes; and an outage is logged once, not once per callback.

The faults are real: a read-only SQLite file, a server that accepts connections and never
answers (a listener on 127.0.0.1), and the events table locked by another connection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.config import DatabaseSettings, load_settings
from bot.platforms.fakes import FakeDingTalk, FakeWeCom, new_secrets
from bot.server import intake
from bot.server.app import create_app
from storage.engine import make_engine
from storage.models import EventState, InboundEvent, OutboxMessage
from tests.e2e.phones import Phones, phones, utc_now
from tests.helpers import bot_environ, load_sample, sqlite_database

Factory = async_sessionmaker[AsyncSession]
ZHANG_KAI = {"wecom": "zhangkai", "dingtalk": "0516754045645063"}  # a leader in the sample
# The store's bound, shortened so the tests do not wait WeCom's seconds for each 503.
SHORT_STORE_SECONDS = 1.0


@pytest.fixture
def short_store_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "STORE_SECONDS", SHORT_STORE_SECONDS)


@dataclasses.dataclass
class Bot:
    server: TestServer
    wecom: FakeWeCom
    dingtalk: FakeDingTalk
    http: aiohttp.ClientSession

    async def health(self) -> tuple[int, str]:
        async with self.http.get(str(self.server.make_url("/healthz"))) as response:
            return response.status, await response.text()


@contextlib.asynccontextmanager
async def bot_on(database_url: str) -> AsyncIterator[Bot]:
    """The bot, with both platforms configured, on ``database_url`` as given (not resolved as a
    config file's path would be: a SQLite URI keeps its ``mode=ro``)."""
    keys = new_secrets()
    wecom = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    dingtalk = FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    fakes = [TestServer(wecom.app()), TestServer(dingtalk.app())]
    for fake in fakes:
        await fake.start_server()
    base = [str(fake.make_url("")).rstrip("/") for fake in fakes]
    settings = load_settings(environ=bot_environ(keys, "sqlite://", *base))
    settings = dataclasses.replace(settings, database=DatabaseSettings(database_url, False))
    server = TestServer(create_app(settings))
    await server.start_server()
    wecom.bot_url = str(server.make_url("/wecom/callback"))
    dingtalk.bot_url = str(server.make_url("/dingtalk/callback"))
    try:
        async with aiohttp.ClientSession() as http:
            yield Bot(server, wecom, dingtalk, http)
    finally:
        await server.close()
        for fake in fakes:
            await fake.close()


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "suiji.intake"]


# --- a read-only SQLite -----------------------------------------------------------------------


async def test_a_read_only_database_answers_callbacks_503_and_healthz_503(
    tmp_path: Path, short_store_wait: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.db"
    await sqlite_database(path)
    caplog.set_level(logging.INFO, logger="suiji.intake")
    # Reads work on it, as the old /healthz (SELECT 1) checked; writes do not.
    async with bot_on(f"sqlite:///file:{path}?mode=ro&uri=true") as bot:
        for n in range(3):
            statuses = await bot.wecom.deliver(bot.http, bot.wecom.text_xml("u", "帮助", n, 1))
            assert statuses == [503] * 3  # each of WeCom's tries told to come back, none dropped
        assert await bot.dingtalk.deliver(bot.http, "u", "帮助") == [503] * 3
        assert await bot.health() == (503, "database cannot be written")
    down = [line for line in outage_lines(caplog) if "cannot store" in line]
    assert len(down) == 1, outage_lines(caplog)  # one line for the outage, not one per callback
    assert "readonly" in down[0]


# --- a server that accepts connections and never answers --------------------------------------


class SilentServer:
    """A port on 127.0.0.1 that accepts connections and never says a word, until it goes away."""

    def __init__(self) -> None:
        self.held: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> int:
        async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.held.append(writer)

        self.server = await asyncio.start_server(hold, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *_exc: object) -> None:
        await self.go_away()

    async def go_away(self) -> None:
        """Close every connection it holds and stop listening: the bot's waits end."""
        for writer in self.held:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
async def test_a_database_that_never_answers_costs_a_503_within_the_platforms_wait(
    scheme: str, short_store_wait: None
) -> None:
    """Before, the callback waited for the driver's connect timeout (60 s) and got a 400; WeCom
    gave up after 5 s each time (the fake waits as long), and the message was lost."""
    silent = SilentServer()
    async with silent as port, bot_on(f"{scheme}://suiji@127.0.0.1:{port}/suiji") as bot:
        inner = bot.wecom.text_xml("u", "帮助", 1, 1)
        assert await bot.wecom.deliver(bot.http, inner, tries=1) == [503]
        assert await bot.dingtalk.deliver(bot.http, "u", "帮助", tries=1) == [503]
        assert await bot.health() == (503, "database cannot be written")
        # The sender's and the retry pass's own waits on it end only when it goes away.
        await silent.go_away()


# --- the store locked for a while, then free again --------------------------------------------


@contextlib.contextmanager
def sqlite_locked(database_url: str) -> Iterator[Callable[[], Awaitable[None]]]:
    connection = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")

    async def release() -> None:
        connection.execute("ROLLBACK")

    try:
        yield release
    finally:
        connection.close()


@contextlib.asynccontextmanager
async def events_locked(database_url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The events table locked against writes by another connection; the release to call."""
    if make_url(database_url).get_backend_name() == "sqlite":
        with sqlite_locked(database_url) as release:
            yield release
        return
    engine = make_engine(database_url)
    connection = await engine.connect()
    released = False

    async def release() -> None:
        nonlocal released
        if connection.dialect.name == "postgresql":
            await connection.rollback()
        else:
            await connection.execute(text("UNLOCK TABLES"))
            await connection.commit()
        released = True

    try:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("LOCK TABLE inbound_events IN EXCLUSIVE MODE"))
        else:
            await connection.execute(text("LOCK TABLES inbound_events WRITE"))
        yield release
    finally:
        if not released:
            await release()
        await connection.close()
        await engine.dispose()


async def until(check: Callable[[], Any], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def say(p: Phones, user: str, words_: str, tries: int) -> list[int]:
    if isinstance(p.fake, FakeWeCom):
        inner = p.fake.text_xml(user, words_, 4242, int(time.time()))
        return await p.fake.deliver(p.http, inner, tries=tries, pause=0.5)
    return await p.fake.deliver(p.http, user, words_, tries=tries, pause=0.5)


@pytest.mark.db
@pytest.mark.parametrize("platform", ["wecom", "dingtalk"])
async def test_a_callback_answered_503_while_the_store_is_locked_is_handled_once_when_resent(
    platform: str,
    factory: Factory,
    database_url: str,
    short_store_wait: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await load_sample(factory, utc_now)
    caplog.set_level(logging.INFO, logger="suiji.intake")
    user = ZHANG_KAI[platform]
    async with phones(platform, database_url) as p:
        async with events_locked(database_url) as release:
            sending = asyncio.create_task(say(p, user, "帮助", tries=3))
            await until(lambda: 503 in p.fake.answers or sending.done(), "never answered 503")
            await release()
            statuses = await sending
        # Told to come back while the store was locked; taken once it was free. (DingTalk's
        # retry carries the same sign: it was not spent by the try that failed.)
        assert statuses[0] == 503 and statuses[-1] == 200, statuses
        await until(lambda: p.inbox(user), "the help never reached the phone")
        await p.settled()
        async with p.factory() as session:
            events = list((await session.execute(select(InboundEvent))).scalars())
            replies = list((await session.execute(select(OutboxMessage))).scalars())
        assert [(e.state, e.payload["text"]) for e in events] == [(EventState.DONE, "帮助")]
        assert len(replies) == 1 and len(p.inbox(user)) == 1
    lines = outage_lines(caplog)
    assert len([line for line in lines if "cannot store" in line]) == 1, lines
    assert len([line for line in lines if "stores events again" in line]) == 1, lines


async def test_healthz_says_the_store_takes_writes_again_once_it_does(
    tmp_path: Path, short_store_wait: None
) -> None:
    url = await sqlite_database(tmp_path / "bot.db")
    async with bot_on(url) as bot:
        assert await bot.health() == (200, "ok")
        with sqlite_locked(url) as release:
            assert await bot.health() == (503, "database cannot be written")
            await release()
        assert await bot.health() == (200, "ok")
