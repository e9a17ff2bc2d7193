"""The site's calendar overrides in the database: the holiday notices it imported, a year each.

Owns loading them all (as plain values, for bot.base.calendar) and replacing one year wholesale.
Which days are working days is decided in bot/base/calendar.py; what a file must hold, in
bot/registry/holidays.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import CalendarDay, CalendarDayKind, CalendarYear


@dataclass(frozen=True)
class NewDay:
    day: dt.date
    kind: CalendarDayKind
    name: str = ""


async def overrides(session: AsyncSession) -> dict[int, tuple[set[dt.date], set[dt.date]]]:
    """Every imported year: ``year → (holidays, workdays)``; a year without days is there too."""
    found: dict[int, tuple[set[dt.date], set[dt.date]]] = {
        year: (set(), set())
        for year in (await session.execute(select(CalendarYear.year))).scalars()
    }
    rows = await session.execute(select(CalendarDay.year, CalendarDay.day, CalendarDay.kind))
    for year, day, kind in rows:
        found[year][0 if kind is CalendarDayKind.HOLIDAY else 1].add(day)
    return found


async def year(session: AsyncSession, number: int) -> CalendarYear | None:
    """An imported year with its days, by date."""
    query = (
        select(CalendarYear)
        .where(CalendarYear.year == number)
        .options(selectinload(CalendarYear.days))
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar()


async def replace_year(
    session: AsyncSession,
    number: int,
    days: Sequence[NewDay],
    *,
    notice: str,
    source: str,
    sha256: str,
    imported_by: str,
    imported_at: dt.datetime,
) -> None:
    """Make ``days`` the whole of year ``number``, dropping what was imported for it before."""
    before = await year(session, number)
    if before is not None:
        await session.delete(before)  # its days with it
        await session.flush()
    session.add(
        CalendarYear(
            year=number,
            notice=notice,
            source=source,
            sha256=sha256,
            imported_by=imported_by,
            imported_at=imported_at,
            days=[
                CalendarDay(day=d.day, kind=d.kind, name=d.name)
                for d in sorted(days, key=lambda d: d.day)
            ],
        )
    )
    await session.flush()
