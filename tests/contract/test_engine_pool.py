"""Pooled server connections: one the server closed is replaced, and no callback is lost."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.platforms.messages import Inbound, InboundKind, Platform
from bot.server.intake import Intake
from storage import engine as engine_module
from storage.engine import make_engine

pytestmark = pytest.mark.db

BACKEND_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
# PostgreSQL's waits (up to 5 s) until the backend is gone, so the ping cannot come first.
CLOSE = {"postgresql": "SELECT pg_terminate_backend({id}, 5000)", "mysql": "KILL {id}"}


@pytest.fixture
async def pooled(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own, so its pool holds only this test's connections."""
    engine = make_engine(database_url)
    if engine.dialect.name not in BACKEND_ID:
        await engine.dispose()
        pytest.skip("SQLite has no server connection to close or ping")
    yield engine
    await engine.dispose()


async def _connection_id(engine: AsyncEngine) -> int:
    """The server's id of the connection the pool hands out next (then back to the pool)."""
    async with engine.connect() as conn:
        return int((await conn.execute(text(BACKEND_ID[engine.dialect.name]))).scalar_one())


async def _close_on_the_server(engine: AsyncEngine, connection_id: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(CLOSE[engine.dialect.name].format(id=connection_id)))


async def test_a_connection_closed_while_idle_in_the_pool_is_replaced(
    pooled: AsyncEngine, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a database restart, a firewall or MariaDB's wait_timeout does to a connection
    that sat in the pool: the next transaction gets a working one, not an error."""
    first = await _connection_id(pooled)
    await _close_on_the_server(engine, first)
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)  # it has been idle long
    assert await _connection_id(pooled) != first


async def test_a_live_connection_idle_in_the_pool_is_kept(
    pooled: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ping finds it alive: the same connection is used, not a new one."""
    first = await _connection_id(pooled)
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
    assert await _connection_id(pooled) == first


async def test_callbacks_are_stored_when_the_database_closed_the_connection_just_now(
    pooled: AsyncEngine, engine: AsyncEngine
) -> None:
    """A restart between two batches: the connection is not pinged (it was used moments
    ago), the store fails on it, and the intake stores the batch again on a new one."""
    intake = Intake(pooled)
    running = asyncio.create_task(intake.run())
    try:
        now = dt.datetime.now(dt.UTC)
        first = Inbound(Platform.WECOM, "restart-1", "zhangkai", InboundKind.TEXT, now)
        assert await intake.accept(first) is not None
        await _close_on_the_server(engine, await _connection_id(pooled))  # the one it used
        second = Inbound(Platform.WECOM, "restart-2", "zhangkai", InboundKind.TEXT, now)
        assert await intake.accept(second) is not None
    finally:
        running.cancel()
        await intake.drain()
