"""Inbound events on every backend: a batch stores each key once, however often it arrives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import chat as db
from storage.engine import unit_of_work
from storage.models import OutboxMessage
from tests.helpers import count_rows

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]


def _row(key: str, clock: Callable[[], dt.datetime], platform: str = "wecom") -> dict[str, object]:
    return {
        "platform": platform,
        "dedup_key": key,
        "sender": "zhangkai",
        "payload": {"text": "帮助"},
        "received_at": clock(),
    }


async def test_a_batch_stores_new_keys_and_skips_known_ones(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    async with unit_of_work(factory) as session:
        first = await db.store_events(session, [_row("a", clock), _row("b", clock)])
    assert set(first) == {("wecom", "a"), ("wecom", "b")}
    async with unit_of_work(factory) as session:
        second = await db.store_events(
            session, [_row("b", clock), _row("c", clock), _row("a", clock, "dingtalk")]
        )
    assert set(second) == {("wecom", "c"), ("dingtalk", "a")}
    assert len(set(first.values()) | set(second.values())) == 4
    assert await count_rows(factory, "inbound_events") == 4


async def test_retries_arriving_together_in_two_transactions_store_once(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    import asyncio

    async def deliver() -> dict[tuple[str, str], int]:
        async with unit_of_work(factory) as session:
            return await db.store_events(session, [_row("same", clock)])

    results = await asyncio.gather(*(deliver() for _ in range(4)))
    assert sum(len(r) for r in results) == 1
    assert await count_rows(factory, "inbound_events") == 1


async def test_a_robot_sign_can_be_spent_once(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    async with unit_of_work(factory) as session:
        assert await db.spend_sign(session, "c2lnbg==", clock())
    async with unit_of_work(factory) as session:
        assert not await db.spend_sign(session, "c2lnbg==", clock())


async def test_old_robot_signs_are_forgotten_and_recent_ones_kept(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    now = clock()
    async with unit_of_work(factory) as session:
        assert await db.spend_sign(session, "old", now - dt.timedelta(hours=3))
        assert await db.spend_sign(session, "recent", now - dt.timedelta(minutes=30))
    async with unit_of_work(factory) as session:
        assert await db.forget_signs(session, now - dt.timedelta(hours=2)) == 1
    async with unit_of_work(factory) as session:
        assert not await db.spend_sign(session, "recent", now)  # still a replay
        assert await db.spend_sign(session, "old", now)  # forgotten


async def test_events_are_stored_over_a_plain_connection_too(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    """The intake stores callbacks without an ORM session."""
    engine = factory.kw["bind"]
    async with engine.begin() as connection:
        stored = await db.store_events(connection, [_row("p1", clock), _row("p1", clock)])
    assert set(stored) == {("wecom", "p1")}
    async with unit_of_work(factory) as session:
        assert await db.store_events(session, [_row("p1", clock)]) == {}


async def test_many_messages_queued_at_once_keep_their_order_after_those_queued_before(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    async with unit_of_work(factory) as session:
        db.enqueue(session, "wecom", "first", {"text": "1"}, clock())
        many = [("wecom", f"to{n}", {"text": str(n + 2)}) for n in range(3)]
        await db.enqueue_many(session, many, clock())
        await db.enqueue_many(session, [], clock())
    async with factory() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        found = [(m.recipient, m.body["text"], m.state.value, m.attempts) for m in rows]
    assert found == [
        ("first", "1", "pending", 0),
        ("to0", "2", "pending", 0),
        ("to1", "3", "pending", 0),
        ("to2", "4", "pending", 0),
    ]
