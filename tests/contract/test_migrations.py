"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate

pytestmark = pytest.mark.db


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    assert await migrate.schema_drift(engine) == []


async def test_database_is_at_the_newest_revision(engine: AsyncEngine) -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert await migrate.current_revision(engine) == head


async def test_upgrade_twice_is_harmless(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    assert await migrate.schema_drift(engine) == []
