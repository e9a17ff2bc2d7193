"""The intake stores callbacks in batches; one row the database refuses costs only itself."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.platforms.messages import Inbound, InboundKind, Platform
from bot.server import intake as intake_module
from bot.server.intake import Intake
from storage import chat as db

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
