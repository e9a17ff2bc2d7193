"""Pooled server connections: one closed while it waited in the pool is replaced unnoticed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage import engine as engine_module
from storage.engine import make_engine

pytestmark = pytest.mark.db

BACKEND_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
CLOSE = {"postgresql": "SELECT pg_terminate_backend({id})", "mysql": "KILL {id}"}


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
