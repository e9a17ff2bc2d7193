"""Calendar overrides in the database, on every backend: a year imported whole and audited,
replaced whole on a second import, and loaded back as the overrides every count uses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.calendar import Reckoned, Source, source_of, working_days_after
from bot.registry.holidays import YearFile, read_year_file
from bot.workflows import calendar as flow
from storage import audit
from storage.models import AuditEntry, CalendarDay
from tests.helpers import MADE_UP_2027

pytestmark = pytest.mark.db

Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]
D = dt.date.fromisoformat


def year_file(tmp_path: Path, body: str, name: str = "2027.toml") -> YearFile:
    path = tmp_path / name
    path.write_text(body, "utf-8")
    return read_year_file(path)


async def entries(factory: Factory) -> list[AuditEntry]:
    async with factory() as session:
        found, _ = await audit.entries(session, kind="calendar")
    return found


async def test_an_imported_year_is_stored_audited_and_counted(
    factory: Factory, clock: Clock, tmp_path: Path
) -> None:
    assert working_days_after(D("2027-09-30"), 7, await flow.overrides(factory)).estimated
    before, after = await flow.import_year(
        factory, year_file(tmp_path, MADE_UP_2027), "王芳", clock
    )
    assert before is None and after["holiday_count"] == 19 and after["workday_count"] == 3
    known = await flow.overrides(factory)
    assert source_of(2027, known) is Source.IMPORTED
    assert working_days_after(D("2027-09-30"), 7, known) == Reckoned(D("2027-10-15"), False)
    (entry,) = await entries(factory)
    assert (entry.actor, entry.action, entry.subject_kind, entry.subject_key) == (
        "王芳", "calendar:import", "calendar_years", "2027"
    )  # fmt: skip
    recorded = json.loads(entry.after or "{}")
    assert recorded["workdays"] == ["2027-02-20", "2027-09-26", "2027-10-09"]
    assert recorded["source"] == "2027.toml" and len(recorded["sha256"]) == 64
    async with factory() as session:
        assert (await audit.verify(session)).ok


async def test_a_second_import_replaces_the_year_whole(
    factory: Factory, clock: Clock, tmp_path: Path
) -> None:
    await flow.import_year(factory, year_file(tmp_path, MADE_UP_2027), "王芳", clock)
    smaller = 'year = 2027\n\n[[holiday]]\nname = "国庆节"\nfrom = 2027-10-01\nto = 2027-10-03\n'
    before, after = await flow.import_year(
        factory, year_file(tmp_path, smaller, "2027-更正.toml"), "王芳", clock
    )
    assert before is not None and before["holiday_count"] == 19 and before["workday_count"] == 3
    assert after["holiday_count"] == 3 and after["workday_count"] == 0
    async with factory() as session:
        days = list((await session.execute(select(CalendarDay.day))).scalars())
    assert sorted(days) == [D("2027-10-01"), D("2027-10-02"), D("2027-10-03")]
    known = await flow.overrides(factory)
    assert working_days_after(D("2027-09-30"), 7, known).day == D("2027-10-12")
    replaced = (await entries(factory))[-1]
    assert json.loads(replaced.before or "{}")["holiday_count"] == 19


async def test_a_year_without_days_is_still_covered(
    factory: Factory, clock: Clock, tmp_path: Path
) -> None:
    parsed = year_file(tmp_path, "year = 2028\n")
    assert parsed.warnings  # said, and taken
    await flow.import_year(factory, parsed, "王芳", clock)
    known = await flow.overrides(factory)
    assert source_of(2028, known) is Source.IMPORTED
    assert not working_days_after(D("2028-09-29"), 7, known).estimated


async def test_the_view_of_a_year_says_where_its_days_come_from(
    factory: Factory, clock: Clock, tmp_path: Path
) -> None:
    weekends = await flow.year_view(factory, 2027)
    assert weekends["source"] == "weekends" and weekends["estimated"]
    assert weekends["covered"] is False and weekends["holidays"] == []
    package = await flow.year_view(factory, 2026)
    assert package["source"] == "package" and package["working_days"] == 248
    assert package["holidays"][-1] == {
        "name": "国庆节",
        "from": {"day": "2026-10-01", "weekday": 3},
        "to": {"day": "2026-10-07", "weekday": 2},
        "days": 7,
    }
    await flow.import_year(factory, year_file(tmp_path, MADE_UP_2027), "王芳", clock)
    imported = await flow.year_view(factory, 2027)
    assert imported["source"] == "imported" and not imported["estimated"]
    assert imported["imported"]["imported_by"] == "王芳"
    assert [h["name"] for h in imported["holidays"]] == ["元旦", "春节", "国庆节"]
    assert [w["day"] for w in imported["workdays"]] == ["2027-02-20", "2027-09-26", "2027-10-09"]
