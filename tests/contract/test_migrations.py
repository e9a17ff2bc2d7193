"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.workflows import campaigns
from bot.workflows.campaign_spec import parse_campaign
from storage import migrate
from storage.engine import make_engine, make_session_factory
from storage.models import Assignment, AssignmentRole
from tests.helpers import ENTROPY, load_sample, spec


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


pytestmark = pytest.mark.db


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    assert await migrate.schema_drift(engine) == []


async def test_database_is_at_the_newest_revision(engine: AsyncEngine) -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert await migrate.current_revision(engine) == head


async def test_upgrade_twice_is_harmless(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    assert await migrate.schema_drift(engine) == []


async def test_campaigns_drawn_before_assignments_existed_keep_their_teams(
    tmp_path: Path,
) -> None:
    """Downgrading below 0006 and upgrading again is what an older database goes through:
    its drawn teams come back as assignments, with nothing sent to anyone."""
    engine = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    await migrate.upgrade(engine)
    factory = make_session_factory(engine)
    await load_sample(factory, utc_now)
    created = await campaigns.create_campaign(
        factory,
        parse_campaign(spec()),
        "李管理",
        utc_now,
        allow_past=True,  # dated 2026-12-01
    )
    campaign_id = created.id
    await campaigns.commit_draw(factory, campaign_id, "李管理", utc_now)
    await campaigns.run_draw(factory, campaign_id, ENTROPY, None, "李管理", utc_now)
    before = await campaigns.show_campaign(factory, campaign_id)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(migrate.alembic_config(sync), "0005"))
    await migrate.upgrade(engine)
    after = await campaigns.show_campaign(factory, campaign_id)
    assert [[(m["name"], m["position"]) for m in t["members"]] for t in after["teams"]] == [
        [(m["name"], m["position"]) for m in t["members"]] for t in before["teams"]
    ]
    assert {m["state"] for t in after["teams"] for m in t["members"]} == {"notified"}
    assert after["reserve"] == before["reserve"]
    async with factory() as session:
        rows = list((await session.execute(select(Assignment))).scalars())
    assert len([a for a in rows if a.role is AssignmentRole.LEADER]) == 3
    assert all(a.reminded_at is not None for a in rows)  # no reminder flood after the upgrade
    await engine.dispose()
