"""Working days as the State Council's yearly holiday notice makes them: Monday to Friday, less
the public holidays, plus the 调休 weekend days declared working days.

Pure: every answer is a function of its arguments. Where a year's days come from, first match
wins: the site's own **overrides** (a year imported with ``suiji calendar import``; the caller
loads them from storage and passes them in as a plain value), else the ``chinesecalendar``
package for the years it covers, else weekends only. The last is an **estimate** (估算): every
count says whether it touched such a year, so that a caller can store that, show 估算 wherever
the result is shown, and count again once the year is imported.

Counting follows DOMAIN.md: the n-th working day *after* a day does not count the day itself
(20 working days after Friday 2026-09-25, a holiday, is 2026-10-29).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import chinese_calendar

SATURDAY = 5  # date.weekday(): Monday is 0
NOVEMBER = 11  # from 1 November on, next year's notice is awaited (published around then)


class Source(enum.Enum):
    """Where the days of a year come from."""

    IMPORTED = "imported"  # the site's overrides
    PACKAGE = "package"  # chinesecalendar
    WEEKENDS = "weekends"  # neither: weekends only, an estimate


class YearDays(NamedTuple):
    """One year's notice: its public holidays (weekend days of a holiday period may be among
    them) and its 调休 working days (weekend days worked)."""

    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]


Overrides = Mapping[int, YearDays]
NO_OVERRIDES: Overrides = MappingProxyType({})


def overrides_of(years: Mapping[int, tuple[Iterable[dt.date], Iterable[dt.date]]]) -> Overrides:
    """A frozen ``year → YearDays`` from ``year → (holidays, workdays)`` as storage keeps them."""
    return MappingProxyType(
        {year: YearDays(frozenset(h), frozenset(w)) for year, (h, w) in years.items()}
    )


@functools.cache
def package_covers(year: int) -> bool:
    """Whether chinesecalendar carries the notice of ``year`` (it raises for other years)."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def source_of(year: int, overrides: Overrides) -> Source:
    if year in overrides:
        return Source.IMPORTED
    return Source.PACKAGE if package_covers(year) else Source.WEEKENDS


def is_covered(year: int, overrides: Overrides) -> bool:
    """Whether the working days of ``year`` are known, not estimated."""
    return source_of(year, overrides) is not Source.WEEKENDS


def is_weekend(day: dt.date) -> bool:
    return day.weekday() >= SATURDAY


def is_working_day(day: dt.date, overrides: Overrides) -> bool:
    """Whether people work on ``day``; in a year not covered, whether it is Monday to Friday
    (see :func:`is_covered` for whether that is an estimate)."""
    found = overrides.get(day.year)
    if found is not None:
        if day in found.workdays:
            return True
        return day not in found.holidays and not is_weekend(day)
    if package_covers(day.year):
        return _package_workday(day)
    return not is_weekend(day)


@functools.lru_cache(maxsize=4096)
def _package_workday(day: dt.date) -> bool:
    """chinesecalendar's answer, remembered: it checks each date against its whole range (a
    min and max over every holiday) before looking it up, which made a reminder tick over
    10,000 deadlines spend seconds here (tests/benchmarks/bench_reminders.py)."""
    return bool(chinese_calendar.is_workday(day))


def _touches_uncovered(first: dt.date, last: dt.date, overrides: Overrides) -> bool:
    return any(not is_covered(y, overrides) for y in range(first.year, last.year + 1))


@dataclass(frozen=True)
class Reckoned:
    """A day found by counting working days; ``estimated`` when the count went through a year
    known only by its weekends (shown as 估算, counted again once the year is imported)."""

    day: dt.date
    estimated: bool


@dataclass(frozen=True)
class Counted:
    """A number of working days; ``estimated`` as for :class:`Reckoned`."""

    days: int
    estimated: bool


def working_days_after(day: dt.date, n: int, overrides: Overrides) -> Reckoned:
    """The n-th working day after ``day``, ``day`` itself not counted (n < 0: the |n|-th
    working day before it; n == 0: ``day``). ``working_days_after(d, 20, o)`` is the last day
    of "within 20 working days of d"."""
    step = dt.timedelta(days=1 if n >= 0 else -1)
    current, left = day, abs(n)
    while left:
        current += step
        if is_working_day(current, overrides):
            left -= 1
    first, last = sorted((day + step, current)) if n else (day, day)
    return Reckoned(current, bool(n) and _touches_uncovered(first, last, overrides))


def working_days_between(start: dt.date, end: dt.date, overrides: Overrides) -> Counted:
    """How many working days come after ``start`` up to and including ``end``; when ``end`` is
    before ``start``, minus those from ``end`` up to the day before ``start``. So that
    ``working_days_between(d, working_days_after(d, n).day) == n`` for every n. Days overdue,
    say: ``working_days_between(due, today)``; days left: ``working_days_between(today, due)``."""
    if end == start:
        return Counted(0, False)
    if end > start:
        first, last, sign = start + dt.timedelta(days=1), end, 1
    else:
        first, last, sign = end, start - dt.timedelta(days=1), -1
    count = sum(
        is_working_day(first + dt.timedelta(days=i), overrides)
        for i in range((last - first).days + 1)
    )
    return Counted(sign * count, _touches_uncovered(first, last, overrides))


def uncovered_next_year(today: dt.date, overrides: Overrides) -> int | None:
    """Next year, from 1 November on while its working days are not known; else None. What a
    weekly reminder to the admins asks them to import."""
    following = today.year + 1
    if today.month >= NOVEMBER and not is_covered(following, overrides):
        return following
    return None


@dataclass(frozen=True)
class Marked:
    """A holiday or 调休 working day of a year, with the name of its festival."""

    day: dt.date
    holiday: bool  # False: a 调休 working day
    name: str  # as the source gives it: chinesecalendar's Holiday name, or the site's own


def package_days(year: int) -> list[Marked]:
    """The holidays and 调休 working days chinesecalendar lists for ``year``, by date; festival
    names are its ``Holiday`` member names (``national_day``…). Empty for a year not covered."""
    if not package_covers(year):
        return []
    names = {member.value: member.name for member in chinese_calendar.Holiday}
    found = [
        Marked(day, holiday, names.get(label, label))
        for holiday, days in ((True, chinese_calendar.holidays), (False, chinese_calendar.workdays))
        for day, label in days.items()
        if day.year == year
    ]
    return sorted(found, key=lambda marked: marked.day)


def periods(days: Iterable[Marked]) -> list[list[Marked]]:
    """Holidays in runs of consecutive days of one festival, as a notice lists them; each
    working day on its own."""
    runs: list[list[Marked]] = []
    for marked in sorted(days, key=lambda m: m.day):
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and marked.holiday
            and last.holiday
            and marked.name == last.name
            and marked.day - last.day == dt.timedelta(days=1)
        ):
            runs[-1].append(marked)
        else:
            runs.append([marked])
    return runs
