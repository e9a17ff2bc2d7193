"""The audit chain: appends line up, and any edit or deletion is found and named."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit
from storage.engine import unit_of_work
from storage.models import AuditEntry, AuditHead

pytestmark = pytest.mark.db

Factory = async_sessionmaker[AsyncSession]


async def _append(factory: Factory, n: int, at: dt.datetime, actor: str = "tester") -> None:
    async with unit_of_work(factory) as session:
        await audit.append(
            session,
            [
                audit.Change(
                    actor,
                    "registry:update",
                    "entities",
                    f"key{i}",
                    {"name": f"旧{i}"},
                    {"name": f"新{i}"},
                )
                for i in range(n)
            ],
            at,
        )


async def _verify(factory: Factory) -> audit.ChainReport:
    async with factory() as session:
        return await audit.verify(session)


async def test_empty_log_verifies(factory: Factory) -> None:
    report = await _verify(factory)
    assert report.ok and report.count == 0


async def test_appended_entries_verify(factory: Factory, clock: Callable[[], dt.datetime]) -> None:
    await _append(factory, 3, clock())
    await _append(factory, 2, clock() + dt.timedelta(microseconds=7))
    report = await _verify(factory)
    assert report.ok and report.count == 5


async def test_entry_edited_in_the_database_is_named(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 5, clock())
    async with unit_of_work(factory) as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 3).values(after='{"name":"篡改"}')
        )
    report = await _verify(factory)
    assert (report.ok, report.broken_seq, report.problem) == (False, 3, "edited")
    assert report.count == 2


async def test_entry_with_changed_time_is_named(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 4, clock())
    async with unit_of_work(factory) as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 2).values(at=clock() - dt.timedelta(days=1))
        )
    assert (await _verify(factory)).broken_seq == 2


async def test_deleted_middle_entry_is_named(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 5, clock())
    async with unit_of_work(factory) as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    report = await _verify(factory)
    assert (report.broken_seq, report.problem) == (4, "missing")


async def test_deleted_newest_entry_is_found(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 5, clock())
    async with unit_of_work(factory) as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    report = await _verify(factory)
    assert (report.broken_seq, report.problem) == (5, "tail_missing")


async def test_rolled_back_append_leaves_no_trace(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 2, clock())
    with pytest.raises(RuntimeError):
        async with unit_of_work(factory) as session:
            await audit.append(session, [audit.Change("x", "a", "k", "1")], clock())
            raise RuntimeError("the change this entry described failed")
    await _append(factory, 1, clock())
    report = await _verify(factory)
    assert report.ok and report.count == 3


async def test_concurrent_appends_form_one_chain(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await asyncio.gather(*(_append(factory, 3, clock(), actor=f"p{i}") for i in range(6)))
    report = await _verify(factory)
    assert report.ok and report.count == 18


async def test_verification_pages_through_long_chains(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 12_001, clock())
    async with unit_of_work(factory) as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 11_000).values(actor="someone else")
        )
    report = await _verify(factory)
    assert (report.broken_seq, report.count) == (11_000, 10_999)


async def test_append_after_an_earlier_read_in_the_same_transaction_chains_on_the_newest_head(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    # An import reads (its check pass) long before it appends; meanwhile another import
    # appends and commits. MariaDB's repeatable read would show the old head without a locking
    # read, and the append would collide with the other import's entries.
    await _append(factory, 1, clock())
    async with unit_of_work(factory) as slow:
        assert (await audit.head(slow)) is not None  # the transaction's snapshot starts here
        await _append(factory, 2, clock(), actor="fast")
        await audit.append(slow, [audit.Change("slow", "a", "k", "1")], clock())
    report = await _verify(factory)
    assert report.ok and report.count == 4


async def test_cut_back_and_reheaded_chain_is_caught_by_a_published_anchor(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 6, clock())
    async with factory() as session:
        anchor = await audit.head(session)
    assert anchor is not None and anchor[0] == 6
    async with unit_of_work(factory) as session:
        kept = (
            await session.execute(select(AuditEntry.hash).where(AuditEntry.seq == 4))
        ).scalar_one()
        await session.execute(delete(AuditEntry).where(AuditEntry.seq > 4))
        await session.execute(update(AuditHead).values(seq=4, hash=kept))
    assert (await _verify(factory)).ok  # internally consistent: only an anchor can tell
    async with factory() as session:
        report = await audit.verify(session, anchor)
    assert (report.ok, report.problem) == (False, "anchor")


async def test_missing_head_is_reported_not_raised(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await _append(factory, 2, clock())
    async with unit_of_work(factory) as session:
        await session.execute(delete(AuditHead))
    report = await _verify(factory)
    assert (report.ok, report.problem) == (False, "head_missing")
    async with unit_of_work(factory) as session:  # put it back for the tests that follow
        await session.execute(insert(AuditHead).values(id=1, seq=0, hash=audit.GENESIS_HASH))


async def test_entries_are_read_newest_last_by_time_person_and_kind(factory: Factory) -> None:
    t0 = dt.datetime(2026, 12, 3, 7, 0, tzinfo=dt.UTC)
    await _append(factory, 2, t0, actor="王芳")
    await _append(factory, 3, t0 + dt.timedelta(hours=2), actor="张凯")
    async with unit_of_work(factory) as session:
        await audit.append(session, [audit.Change("张凯", "draw_x:commit", "c%", "1")], t0)

    async def read(
        since: dt.datetime | None = None,
        actor: str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> tuple[list[tuple[int, str]], int]:
        async with factory() as session:
            found = await audit.entries(session, since=since, actor=actor, kind=kind, limit=limit)
        return [(e.seq, e.actor) for e in found[0]], found[1]

    assert await read(limit=2) == ([(5, "张凯"), (6, "张凯")], 6)
    assert await read(actor="王芳") == ([(1, "王芳"), (2, "王芳")], 2)
    assert (await read(since=t0 + dt.timedelta(hours=1)))[1] == 3
    assert (await read(kind="registry"))[1] == 5  # the group of an action
    assert (await read(kind="registry:update", actor="王芳"))[1] == 2
    assert (await read(kind="entities"))[1] == 5  # a kind of record
    assert await read(kind="draw_x") == ([(6, "张凯")], 1)
    assert (await read(kind="draw%"))[1] == 0  # the kind is not a pattern
    assert (await read(kind="c%"))[1] == 1
