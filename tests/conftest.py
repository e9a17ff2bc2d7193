"""Shared fixtures: one database per test run, emptied before each test that uses it.

The backend comes from SUIJI_TEST_DATABASE_URL (a PostgreSQL or MariaDB URL, e.g. in .ci/run);
without it, a temporary SQLite file. The schema is built by the real migrations, so every
storage test also proves the migrations on that backend.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import MetaData, delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import migrate
from storage.audit import GENESIS_HASH, HEAD_ID
from storage.engine import make_engine, make_session_factory
from storage.models import Assignment, AuditHead, Base

TEST_DATABASE_ENV = "SUIJI_TEST_DATABASE_URL"


def pytest_report_header() -> str:
    return f"database: {os.environ.get(TEST_DATABASE_ENV) or 'sqlite (temporary file)'}"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many processes ``-n auto`` (in pyproject's addopts) starts: one per core on SQLite,
    where each has a temporary database of its own; none besides this one on a server
    database, which every process would share and empty under the others' feet."""
    return 0 if os.environ.get(TEST_DATABASE_ENV) else None  # None: xdist counts the cores


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(TEST_DATABASE_ENV) and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            f"{TEST_DATABASE_ENV} names one database, which parallel test processes would share:"
            " run it without -n (or with -n 0)"
        )


async def drop_everything(engine: AsyncEngine) -> None:
    """Leave the test database empty, whatever an earlier run left in it."""

    def drop(sync_conn: object) -> None:
        meta = MetaData()
        meta.reflect(bind=sync_conn)  # type: ignore[arg-type]
        meta.drop_all(bind=sync_conn)  # type: ignore[arg-type]

    async with engine.begin() as conn:
        await conn.run_sync(drop)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database: SUIJI_TEST_DATABASE_URL, or a temporary SQLite file."""
    url = os.environ.get(TEST_DATABASE_ENV)
    return url or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    await drop_everything(engine)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory over an empty, migrated database."""
    async with engine.begin() as conn:
        # A row may point at another of its table (a substitute at whom they replaced):
        # MariaDB checks that per row while deleting, so those links go first.
        await conn.execute(update(Assignment).values(replaces_id=None))
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != AuditHead.__tablename__:
                await conn.execute(delete(table))
        await conn.execute(
            update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=0, hash=GENESIS_HASH)
        )
    yield make_session_factory(engine)


@pytest.fixture
def clock() -> Callable[[], dt.datetime]:
    """A fixed clock: 2026-03-02 09:30 in Shanghai."""
    moment = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return lambda: moment


@pytest.fixture
def sample_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "storage" / "sample"
