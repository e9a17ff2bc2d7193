"""Pooled server connections: one the server closed is replaced, and no callback is lost."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.chat import Inbound, InboundKind, Platform
from bot.intake import Intake
from storage import engine as engine_module
from storage.engine import make_engine

pytestmark = pytest.mark.db

BACKEND_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
# PostgreSQL's waits (up to 5 s) until the backend is gone, so the ping cannot come first.
CLOSE = {"postgresql": "SELECT pg_terminate_backend({id}, 5000)", "mysql": "KILL {id}"}


async def test_a_connection_closed_while_idle_in_the_pool_is_replaced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a database restart, a firewall or MariaDB's wait_timeout does to a connection
    that sat in the pool: the next transaction gets a working one, not an error."""
    pooled = make_engine(database_url)
    backend = pooled.dialect.name
    if backend not in BACKEND_ID:
        pytest.skip("SQLite has no server to close a connection")
    other = make_engine(database_url)
    try:
        async with pooled.connect() as conn:
            first = (await conn.execute(text(BACKEND_ID[backend]))).scalar_one()
        async with other.begin() as conn:  # the server closes the idle one
            await conn.execute(text(CLOSE[backend].format(id=int(first))))
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)  # it has been idle long
        async with pooled.connect() as conn:
            second = (await conn.execute(text(BACKEND_ID[backend]))).scalar_one()
        assert second != first
    finally:
        await pooled.dispose()
        await other.dispose()


async def test_a_live_connection_idle_in_the_pool_is_kept(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ping finds it alive: the same connection is used, not a new one."""
    pooled = make_engine(database_url)
    backend = pooled.dialect.name
    if backend not in BACKEND_ID:
        pytest.skip("SQLite has no server connection to ping")
    try:
        async with pooled.connect() as conn:
            first = (await conn.execute(text(BACKEND_ID[backend]))).scalar_one()
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
        async with pooled.connect() as conn:
            second = (await conn.execute(text(BACKEND_ID[backend]))).scalar_one()
        assert second == first
    finally:
        await pooled.dispose()


async def test_callbacks_are_stored_when_the_database_closed_the_connection_just_now(
    database_url: str, engine: AsyncEngine
) -> None:
    """A restart between two batches: the connection is not pinged (it was used moments
    ago), the store fails on it, and the intake stores the batch again on a new one."""
    pooled = make_engine(database_url)
    backend = pooled.dialect.name
    if backend not in BACKEND_ID:
        pytest.skip("SQLite has no server to close a connection")
    intake = Intake(pooled)
    running = asyncio.create_task(intake.run())
    try:
        now = dt.datetime.now(dt.UTC)
        first = Inbound(Platform.WECOM, "restart-1", "zhangkai", InboundKind.TEXT, now)
        assert await intake.accept(first) is not None
        async with pooled.connect() as conn:  # the one connection the intake used
            used = (await conn.execute(text(BACKEND_ID[backend]))).scalar_one()
        async with engine.begin() as conn:
            await conn.execute(text(CLOSE[backend].format(id=int(used))))
        second = Inbound(Platform.WECOM, "restart-2", "zhangkai", InboundKind.TEXT, now)
        assert await intake.accept(second) is not None
    finally:
        running.cancel()
        await intake.drain()
        await pooled.dispose()
