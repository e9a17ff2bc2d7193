"""The intake stores callbacks in batches; one row the database refuses costs only itself."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.platforms.errors import Rejected
from bot.platforms.messages import Inbound, InboundKind, Platform
from bot.server import intake as intake_module
from bot.server.intake import Intake
from storage import chat as db
from tests.helpers import count_rows

pytestmark = pytest.mark.db


def _text(key: str, clock: Callable[[], dt.datetime]) -> Inbound:
    return Inbound(Platform.WECOM, key, "zhangkai", InboundKind.TEXT, clock(), text="help")


async def test_a_row_the_database_refuses_fails_alone_not_its_whole_batch(
    engine: AsyncEngine, clock: Callable[[], dt.datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    store_events = db.store_events

    async def refusing(connection: Any, rows: list[dict[str, Any]]) -> Any:
        # Stands for a value the database cannot hold (say, a lone surrogate in PostgreSQL's
        # json): a statement with that row fails as a whole.
        if any(row["dedup_key"] == "bad" for row in rows):
            raise ValueError("the database refused a row")
        return await store_events(connection, rows)

    monkeypatch.setattr(intake_module.db, "store_events", refusing)
    intake = Intake(engine)
    # All three wait in the queue before the intake runs: they are stored as one batch.
    calls = [asyncio.create_task(intake.accept(_text(k, clock))) for k in ("a", "bad", "b")]
    await asyncio.sleep(0)
    running = asyncio.create_task(intake.run())
    try:
        first, refused, second = await asyncio.wait_for(
            asyncio.gather(*calls, return_exceptions=True), 30
        )
    finally:
        running.cancel()
    assert isinstance(first, int) and isinstance(second, int) and first != second
    assert isinstance(refused, ValueError)


async def _stored_together(intake: Intake, *calls: Any) -> list[Any]:
    """Run the accept() calls as one batch: all wait in the queue before the intake runs."""
    tasks = [asyncio.create_task(call) for call in calls]
    await asyncio.sleep(0)
    running = asyncio.create_task(intake.run())
    try:
        return list(await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30))
    finally:
        running.cancel()


async def test_a_robot_sign_carries_one_event_whatever_else_comes_under_it(
    factory: Any, engine: AsyncEngine, clock: Callable[[], dt.datetime]
) -> None:
    intake = Intake(engine)
    first, replay, again = await _stored_together(
        intake,
        intake.accept(_text("m1", clock), sign="s1"),
        intake.accept(_text("m2", clock), sign="s1"),  # another body under the same sign
        intake.accept(_text("m1", clock), sign="s1"),  # the same callback twice
    )
    assert isinstance(first, int) and again is None
    assert isinstance(replay, Rejected) and replay.status == 403
    # Later: the platform's retry of the stored callback is no replay; another body is.
    retry, later_replay = await _stored_together(
        intake,
        intake.accept(_text("m1", clock), sign="s1"),
        intake.accept(_text("m3", clock), sign="s1"),
    )
    assert retry is None
    assert isinstance(later_replay, Rejected) and later_replay.status == 403
    assert await count_rows(factory, "inbound_events") == 1
    assert await count_rows(factory, "robot_signs") == 1
