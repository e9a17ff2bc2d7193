"""The audit chain: appends line up, and any edit or deletion is found and named."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit
from storage.engine import unit_of_work
from storage.models import AuditEntry

pytestmark = pytest.mark.db

Factory = async_sessionmaker[AsyncSession]


async def _append(factory: Factory, n: int, at: dt.datetime, actor: str = "tester") -> None:
    async with unit_of_work(factory) as session:
        await audit.append(
            session,
            [
                audit.Change(actor, "registry:update", "entities", f"key{i}",
                             {"name": f"旧{i}"}, {"name": f"新{i}"})
                for i in range(n)
            ],
            at,
        )  # fmt: skip


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
