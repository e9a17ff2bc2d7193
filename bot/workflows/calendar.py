"""The working-day calendar's use cases: importing one year of the holiday notice (wholesale,
audited), a year as it stands and where its days come from, and the overrides every count of
working days needs (bot.base.calendar does the counting)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.calendar import (
    Marked,
    Overrides,
    Source,
    overrides_of,
    package_covers,
    package_days,
    periods,
    source_of,
    working_days_between,
)
from bot.base.times import utc_iso
from bot.registry.holidays import YearFile, festival_name
from bot.workflows import deadlines
from storage import audit
from storage import calendar as db
from storage.engine import unit_of_work
from storage.models import CalendarDayKind, CalendarYear

Clock = Callable[[], dt.datetime]
Factory = async_sessionmaker[AsyncSession]
ACTION, SUBJECT = "calendar:import", "calendar_years"


async def load_overrides(session: AsyncSession) -> Overrides:
    """The imported years, as bot.base.calendar takes them."""
    return overrides_of(await db.overrides(session))


async def overrides(factory: Factory) -> Overrides:
    async with factory() as session:
        return await load_overrides(session)


def _record(
    notice: str, source: str, sha256: str, holidays: list[dt.date], workdays: list[dt.date]
) -> dict[str, Any]:
    """What the audit log keeps of a year: where it came from, its days and how many."""
    return {
        "notice": notice,
        "source": source,
        "sha256": sha256,
        "holidays": [d.isoformat() for d in holidays],
        "workdays": [d.isoformat() for d in workdays],
        "holiday_count": len(holidays),
        "workday_count": len(workdays),
    }


def _stored(year: CalendarYear) -> dict[str, Any]:
    days = {kind: [d.day for d in year.days if d.kind is kind] for kind in CalendarDayKind}
    return _record(
        year.notice,
        year.source,
        year.sha256,
        days[CalendarDayKind.HOLIDAY],
        days[CalendarDayKind.WORKDAY],
    )


async def import_year(
    factory: Factory, parsed: YearFile, actor: str, clock: Clock
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Make ``parsed`` the whole of its year, replacing what was imported for it before;
    (before, after) as the audit log records them (before None: the year is new)."""
    at = clock()
    async with unit_of_work(factory) as session:
        stored = await db.year(session, parsed.year)
        before = _stored(stored) if stored is not None else None
        await db.replace_year(
            session,
            parsed.year,
            [
                db.NewDay(
                    e.day,
                    CalendarDayKind.HOLIDAY if e.holiday else CalendarDayKind.WORKDAY,
                    e.name,
                )
                for e in parsed.days
            ],
            notice=parsed.notice,
            source=parsed.source,
            sha256=parsed.sha256,
            imported_by=actor,
            imported_at=at,
        )
        after = _record(
            parsed.notice, parsed.source, parsed.sha256, parsed.holidays, parsed.workdays
        )
        await deadlines.recount_estimated(session)  # days estimated before are known now
        change = audit.Change(actor, ACTION, SUBJECT, str(parsed.year), before, after)
        await audit.append(session, [change], at)
    return before, after


def _day(day: dt.date) -> dict[str, Any]:
    return {"day": day.isoformat(), "weekday": day.weekday()}


async def year_view(factory: Factory, year: int) -> dict[str, Any]:
    """A year as the counts see it: where its days come from, its holiday periods and 调休
    working days (names in Chinese), and how many working days it has."""
    async with factory() as session:
        known = await load_overrides(session)
        stored = await db.year(session, year)
    source = source_of(year, known)
    imported = None
    if stored is not None:
        marked = [Marked(d.day, d.kind is CalendarDayKind.HOLIDAY, d.name) for d in stored.days]
        imported = {
            "notice": stored.notice,
            "file": stored.source,
            "sha256": stored.sha256,
            "imported_by": stored.imported_by,
            "imported_at": utc_iso(stored.imported_at),
        }
    else:
        marked = [Marked(m.day, m.holiday, festival_name(m.name)) for m in package_days(year)]
    runs = periods(marked)
    counted = working_days_between(dt.date(year - 1, 12, 31), dt.date(year, 12, 31), known)
    return {
        "year": year,
        "source": source.value,
        "covered": source is not Source.WEEKENDS,
        "package_covers": package_covers(year),
        "imported": imported,
        "working_days": counted.days,
        "estimated": counted.estimated,
        "holidays": [
            {
                "name": run[0].name,
                "from": _day(run[0].day),
                "to": _day(run[-1].day),
                "days": len(run),
            }
            for run in runs
            if run[0].holiday
        ],
        "workdays": [
            {"name": run[0].name, **_day(run[0].day)} for run in runs if not run[0].holiday
        ],
    }
