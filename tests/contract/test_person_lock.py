"""One person's events are handled one at a time, even by two processes.

Two engines stand in for two processes (each its own connection pool, as two ``suiji serve``
would have). The handler of the first event is held inside its transaction; the second
event's handler must then wait for the person's row lock in the database, not run beside it.
Overlap is seen by instrumenting ``dispatch.decide`` and the wait in the database's own view
of lock waits: no timing decides the outcome.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.platforms.messages import Inbound, InboundKind, Outgoing, Platform
from bot.server import dispatch
from bot.workflows.step import Step
from storage.engine import make_engine, make_session_factory
from storage.models import EventState, InboundEvent, OutboxMessage, Person
from tests.helpers import load_sample

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]
ZHANG_KAI = "zhangkai"  # a leader in the sample registry, by WeCom account
DEADLINE = 30.0  # seconds; generous, only bounds a hung test

# How many transactions of this database now wait for a row of ``people`` another holds.
# PostgreSQL: a waiter on a locked row holds that row's tuple lock while it waits for the
# holder's transaction. MariaDB's information_schema misses a wait that starts while the
# optimizer reads a row by a unique key (as here), so InnoDB's own report is read instead.
PEOPLE_ROW_WAITS = (
    "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'"
    " AND l.locktype = 'tuple' AND l.relation = 'people'::regclass"
)


async def _people_row_waits(observer: AsyncEngine) -> int:
    async with observer.connect() as conn:
        if observer.dialect.name == "postgresql":
            return int((await conn.execute(sql(PEOPLE_ROW_WAITS))).scalar_one())
        database = (await conn.execute(sql("SELECT DATABASE()"))).scalar_one()
        report = (await conn.execute(sql("SHOW ENGINE INNODB STATUS"))).one()[2]
    return sum(
        f"of table `{database}`.`people`" in part.split("\n", 2)[1]
        for part in report.split("FOR THIS LOCK TO BE GRANTED:")[1:]
    )


async def _until_waiting_or_overlapping(observer: AsyncEngine, overlap: asyncio.Event) -> None:
    """Poll until a transaction waits for a row of people, or a second handler got in."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not overlap.is_set():
        if await _people_row_waits(observer):
            return
        assert loop.time() < deadline, (
            "the second handler neither waited for the person row nor ran"
        )
        await asyncio.sleep(0.02)


def _help(key: str, clock: Clock) -> Inbound:
    return Inbound(Platform.WECOM, key, ZHANG_KAI, InboundKind.TEXT, clock(), text="帮助")


async def test_two_processes_handle_one_persons_events_one_at_a_time(
    database_url: str,
    engine: AsyncEngine,
    factory: Factory,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip(
            "SQLite has one writer: lock_pending_event's UPDATE takes the database write lock, "
            "so a second handler waits there whatever the person lock does (SQLite ignores "
            "FOR UPDATE), and that wait cannot be observed without timing"
        )
    await load_sample(factory, clock)
    first = await dispatch.accept(factory, _help("person-lock-1", clock))
    second = await dispatch.accept(factory, _help("person-lock-2", clock))
    assert first is not None and second is not None
    # The first is a retry of a failed try: the second then does not wait for it by order
    # (dispatch.process takes a sender's untried events in order; see the test below) but
    # only, if at all, for the person's row lock, which is what this test is about.
    async with factory() as session, session.begin():
        await session.execute(
            update(InboundEvent).where(InboundEvent.id == first).values(attempts=1)
        )

    inside: list[str] = []  # the events whose handler runs right now
    entered: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    overlap, first_inside = asyncio.Event(), asyncio.Event()
    decide = dispatch.decide

    async def watched(
        session: AsyncSession, inbound: Inbound, person: Person | None, step: Step
    ) -> list[Outgoing]:
        key = inbound.dedup_key
        if inside:
            overlaps.append((*inside, key))
            overlap.set()
        inside.append(key)
        entered.append(key)
        try:
            if key == "person-lock-1":
                first_inside.set()
                # Hold this event's transaction (and the person's row lock) until the other
                # handler either waits in the database or gets in here beside us.
                await _until_waiting_or_overlapping(engine, overlap)
            return await decide(session, inbound, person, step)
        finally:
            inside.remove(key)

    monkeypatch.setattr(dispatch, "decide", watched)
    process_a, process_b = make_engine(database_url), make_engine(database_url)
    try:
        async with asyncio.timeout(DEADLINE * 2):
            handle_first = asyncio.create_task(
                dispatch.process(make_session_factory(process_a), first, clock)
            )
            await first_inside.wait()
            handle_second = asyncio.create_task(
                dispatch.process(make_session_factory(process_b), second, clock)
            )
            done = await asyncio.gather(handle_first, handle_second)
    finally:
        await process_a.dispose()
        await process_b.dispose()

    assert overlaps == [], f"two events of one person were handled at once: {overlaps}"
    assert list(done) == [True, True]
    assert entered == ["person-lock-1", "person-lock-2"]
    async with factory() as session:
        events = (
            (await session.execute(select(InboundEvent).order_by(InboundEvent.id))).scalars().all()
        )
        replies = (await session.execute(select(OutboxMessage))).scalars().all()
    assert [e.state for e in events] == [EventState.DONE, EventState.DONE]
    assert len(replies) == 2 and {r.event_id for r in replies} == {first, second}


async def test_a_persons_messages_are_handled_in_the_order_they_came(
    engine: AsyncEngine, factory: Factory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whichever worker picks which event first: the earlier message is handled first, and
    one that failed already (apologised for, retried later) holds up nothing."""
    await load_sample(factory, clock)
    ids = [await dispatch.accept(factory, _help(f"order-{n}", clock)) for n in range(4)]
    handled: list[str] = []
    decide = dispatch.decide

    async def watched(
        session: AsyncSession, inbound: Inbound, person: Person | None, step: Step
    ) -> list[Outgoing]:
        handled.append(inbound.dedup_key)
        return await decide(session, inbound, person, step)

    monkeypatch.setattr(dispatch, "decide", watched)
    async with factory() as session, session.begin():  # order-0 failed once before
        await session.execute(
            update(InboundEvent).where(InboundEvent.id == ids[0]).values(attempts=1)
        )
    assert await dispatch.process(factory, ids[2], clock)  # a worker took order-2 first
    assert handled == ["order-1", "order-2"]
    assert await dispatch.process(factory, ids[1], clock)  # its own worker: done already
    assert await dispatch.process(factory, ids[3], clock)
    assert await dispatch.process(factory, ids[0], clock)  # the retry
    assert handled == ["order-1", "order-2", "order-3", "order-0"]
    async with factory() as session:
        states = (await session.execute(select(InboundEvent.state))).scalars().all()
    assert set(states) == {EventState.DONE}
