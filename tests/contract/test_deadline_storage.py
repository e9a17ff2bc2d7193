"""The reminder tick's reads on every backend: only the open deadlines with a step due are
read (storage.deadlines.open_behind), and they are exactly those the pure policy finds due
among all open ones."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.calendar import NO_OVERRIDES
from bot.base.config import ReminderSettings
from handlers import reminders as rules
from storage import deadlines as db
from storage.engine import unit_of_work
from storage.models import Deadline, DeadlineState, Person, Unit, UnitKind

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
RULES = ReminderSettings()
DAYS = [dt.date(2026, 9, 24) + dt.timedelta(days=n) for n in range(20)]  # National Day inside


async def fill(factory: Factory) -> None:
    created = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    rows = [
        {
            "kind": kind, "subject_kind": "team", "subject_id": 1, "owner_id": 1, "due_on": day,
            "rule": kind, "estimated": False, "created_at": created, "escalation": 0,
            "last_step": last, "state": state,
        }
        for kind in ("report_due", "campaign_start", db.CALENDAR_YEAR)
        for day in DAYS
        for last in (None, -3, -1, 0, 1, 3)
        for state in (DeadlineState.OPEN, DeadlineState.CLOSED)
    ]  # fmt: skip
    async with unit_of_work(factory) as session:
        await session.execute(insert(Unit), [{"id": 1, "name": "一股", "kind": UnitKind.SECTION}])
        await session.execute(
            insert(Person),
            [{"id": 1, "name": "张三", "unit_id": 1, "is_officer": True, "is_leader": False,
              "specialties": [], "wecom_userid": "zhangsan"}],
        )  # fmt: skip
        await session.execute(insert(Deadline), rows)


@pytest.mark.parametrize("moment", ["2026-09-30 09:00", "2026-10-09 08:30", "2026-10-12 10:00"])
async def test_a_tick_reads_exactly_the_open_deadlines_with_a_step_due(
    factory: Factory, moment: str
) -> None:
    await fill(factory)
    now = dt.datetime.fromisoformat(moment).replace(tzinfo=TZ)
    async with factory() as session:
        days = await db.open_days(session)
        window = rules.window(days, now, RULES, TZ, NO_OVERRIDES)
        read = await db.open_behind(session, window.steps, window.start_steps, rules.NO_OVERDUE)
        everything = await db.open_rows(session)
    assert sorted(days) == DAYS
    chain = ((1,), (), ())
    opened = [rules.Open(d.id, d.kind, d.due_on, d.last_step, chain) for d, _, _, _ in everything]
    due = rules.due_reminders(opened, now, RULES, TZ, NO_OVERRIDES)
    due_ids = {f.deadline_id for f in due}
    # Both soonest first: the same deadlines, in the same order; the rest is not read at all.
    assert due and [b.id for b in read] == [d.id for d, _, _, _ in everything if d.id in due_ids]
    assert len(read) < len(everything)
    assert {b.owner_id for b in read} == {1} and {b.campaign for b in read} == {""}
