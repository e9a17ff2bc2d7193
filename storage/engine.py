"""Engines and sessions for the three supported backends.

Owns how a database URL becomes a working async engine (driver quirks included) and the unit of
work: one session, one transaction.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# What a plain URL scheme means here: the async driver suiji installs for it.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mysql": "mysql+asyncmy",
    "mariadb": "mysql+asyncmy",
}


def normalize_url(raw: str) -> URL:
    """Give a plain URL its async driver and MariaDB its utf8mb4 character set."""
    url = make_url(raw)
    if url.drivername in _ASYNC_DRIVERS:
        url = url.set(drivername=_ASYNC_DRIVERS[url.drivername])
    if url.get_backend_name() in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers work beside the one writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL still survives a crash of the process (only power loss can undo the
    # last commits), and saves an fsync per commit: callbacks are acknowledged much sooner.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(raw_url: str, *, echo: bool = False) -> AsyncEngine:
    url = normalize_url(raw_url)
    # Parameters stay out of logs and error messages: they hold draw secrets and personal data.
    options: dict[str, Any] = {}
    if url.get_backend_name() in ("mysql", "mariadb"):
        # As on PostgreSQL, each statement sees what was committed before it: a step that
        # waited for a lock (say, the campaign's, to pick a substitute) must then read what
        # the step it waited for wrote, not InnoDB's snapshot from before the wait.
        options["isolation_level"] = "READ COMMITTED"
    engine = create_async_engine(url, echo=echo, hide_parameters=True, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    else:
        _ping_when_idle(engine.sync_engine)
    return engine


IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled server connection before use, if it sat idle for a while.

    A connection that waited in the pool may have been closed meanwhile (a database restart,
    a firewall dropping idle links, MariaDB's wait_timeout); a ping finds it and the pool
    opens a new one. SQLAlchemy's pool_pre_ping would ping before every transaction: three
    round trips on asyncpg (BEGIN, ping, ROLLBACK), more than storing a batch of callbacks
    itself. A connection used seconds ago is almost always alive; one that did fail anyway
    (a restart just now) is discarded by SQLAlchemy's disconnect detection, which then renews
    the whole pool, and the work is done again: a batch of callbacks at once (bot.server.intake),
    an event on the next retry pass."""

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.pop("returned_at", None)
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
            return  # new, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            # The pool discards this one and checks out another (a new one if need be).
            raise DisconnectionError("pooled connection found closed") from exc

    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checked_out)


# SQLSTATE classes of errors about what was written, not about the database: data exceptions
# (22) and integrity constraint violations (23). PostgreSQL's driver reports most server errors
# under one generic class, so the state is what tells them apart.
_REFUSALS = ("22", "23")


def cannot_write_now(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot take a write at the moment (out of reach,
    silent, read-only, locked, shutting down, writes not granted): the same write may well
    succeed later. Not so a row the database refuses (a value it cannot hold, a broken
    constraint), nor an error raised before the database was asked."""
    if isinstance(exc, (TimeoutError, OSError, PoolTimeout, DisconnectionError)):
        return True
    if isinstance(exc, (DataError, IntegrityError)) or not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return not (isinstance(state, str) and state[:2] in _REFUSALS)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    async with factory() as session, session.begin():
        yield session
