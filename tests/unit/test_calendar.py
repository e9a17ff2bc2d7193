"""Working days: DOMAIN.md's examples, overrides over chinesecalendar, weekends-only estimates
for a year neither covers, and the example files made from chinesecalendar's own data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.base.calendar import (
    NO_OVERRIDES,
    Counted,
    Reckoned,
    Source,
    YearDays,
    is_covered,
    is_working_day,
    overrides_of,
    package_covers,
    source_of,
    uncovered_next_year,
    working_days_after,
    working_days_between,
)
from bot.base.texts import TEMPLATES_DIR
from bot.registry.holidays import HolidayFileError, example_toml, read_year_file
from tests.helpers import MADE_UP_2027

D = dt.date.fromisoformat


@pytest.fixture
def made_up_2027(tmp_path: Path) -> YearDays:
    path = tmp_path / "2027.toml"
    path.write_text(MADE_UP_2027, "utf-8")
    parsed = read_year_file(path)
    return YearDays(frozenset(parsed.holidays), frozenset(parsed.workdays))


def test_domain_examples_count_the_2026_holidays_and_the_tiaoxiu_saturday() -> None:
    # Mid-Autumn on Friday 25 September 2026, National Day 1–7 October, Saturday 10 October
    # worked: not 23 October as weekends alone would make it.
    assert working_days_after(D("2026-09-25"), 20, NO_OVERRIDES) == Reckoned(
        D("2026-10-29"), estimated=False
    )
    assert working_days_after(D("2026-09-30"), 7, NO_OVERRIDES) == Reckoned(
        D("2026-10-15"), estimated=False
    )


def test_the_day_itself_is_not_counted() -> None:
    monday = D("2026-03-09")
    assert working_days_after(monday, 1, NO_OVERRIDES).day == D("2026-03-10")
    assert working_days_after(monday, 0, NO_OVERRIDES) == Reckoned(monday, False)
    assert working_days_after(monday, -1, NO_OVERRIDES).day == D("2026-03-06")  # Friday
    # Saturday 28 February 2026 was worked (春节 调休): the working day before 2 March.
    assert working_days_after(D("2026-03-02"), -1, NO_OVERRIDES).day == D("2026-02-28")


def test_which_days_are_working_days_in_2026() -> None:
    assert not is_working_day(D("2026-10-01"), NO_OVERRIDES)  # National Day
    assert not is_working_day(D("2026-10-03"), NO_OVERRIDES)  # Saturday in the holiday
    assert is_working_day(D("2026-10-10"), NO_OVERRIDES)  # Saturday worked (调休)
    assert is_working_day(D("2026-09-20"), NO_OVERRIDES)  # Sunday worked
    assert not is_working_day(D("2026-10-11"), NO_OVERRIDES)  # an ordinary Sunday
    assert is_working_day(D("2026-10-12"), NO_OVERRIDES)


def test_an_override_wins_over_chinesecalendar() -> None:
    # A 2026 imported with no holidays and no 调休: weekends alone, as the site says.
    plain = overrides_of({2026: ((), ())})
    assert source_of(2026, plain) is Source.IMPORTED
    assert working_days_after(D("2026-09-25"), 20, plain) == Reckoned(D("2026-10-23"), False)
    assert is_working_day(D("2026-10-01"), plain)
    assert not is_working_day(D("2026-10-10"), plain)


def test_2027_without_an_override_is_weekends_only_and_estimated() -> None:
    assert not package_covers(2027)
    assert source_of(2027, NO_OVERRIDES) is Source.WEEKENDS
    assert not is_covered(2027, NO_OVERRIDES)
    assert working_days_after(D("2027-09-30"), 7, NO_OVERRIDES) == Reckoned(
        D("2027-10-11"), estimated=True
    )
    assert working_days_between(D("2027-09-30"), D("2027-10-11"), NO_OVERRIDES) == Counted(
        7, estimated=True
    )


def test_a_made_up_2027_override_changes_a_2027_result(made_up_2027: YearDays) -> None:
    known = overrides_of({2027: made_up_2027})
    assert source_of(2027, known) is Source.IMPORTED
    # National Day 1–7 October 2027, Saturday 9 October worked.
    assert working_days_after(D("2027-09-30"), 7, known) == Reckoned(D("2027-10-15"), False)
    assert is_working_day(D("2027-09-26"), known)  # a Sunday worked
    assert not is_working_day(D("2027-10-01"), known)
    assert working_days_between(D("2027-09-30"), D("2027-10-15"), known) == Counted(7, False)


def test_a_count_into_an_uncovered_year_is_estimated_and_one_within_2026_is_not() -> None:
    late = working_days_after(D("2026-12-20"), 20, NO_OVERRIDES)
    assert late.day.year == 2027 and late.estimated
    assert not working_days_after(D("2026-12-01"), 10, NO_OVERRIDES).estimated
    # Counting back out of 2027 into 2026 touches 2027 too.
    assert working_days_after(D("2027-01-05"), -5, NO_OVERRIDES).estimated
    assert working_days_between(D("2026-12-01"), D("2027-01-04"), NO_OVERRIDES).estimated
    assert working_days_between(D("2027-01-04"), D("2027-01-04"), NO_OVERRIDES) == Counted(0, False)


def test_days_before_are_negative() -> None:
    counted = working_days_between(D("2026-10-15"), D("2026-09-30"), NO_OVERRIDES)
    assert counted == Counted(-7, False)


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2030, 12, 31)),
    n=st.integers(min_value=-60, max_value=60),
)
def test_between_undoes_after(day: dt.date, n: int) -> None:
    reckoned = working_days_after(day, n, NO_OVERRIDES)
    counted = working_days_between(day, reckoned.day, NO_OVERRIDES)
    assert counted.days == n
    assert counted.estimated == reckoned.estimated
    if n:
        assert is_working_day(reckoned.day, NO_OVERRIDES)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-10-31", None),  # not yet November
        ("2026-11-01", 2027),
        ("2026-12-31", 2027),
        ("2025-11-05", None),  # 2026 is covered by chinesecalendar
        ("2027-03-01", None),
    ],
)
def test_uncovered_next_year(today: str, expected: int | None) -> None:
    assert uncovered_next_year(D(today), NO_OVERRIDES) == expected


def test_uncovered_next_year_is_none_once_imported(made_up_2027: YearDays) -> None:
    assert uncovered_next_year(D("2026-11-09"), overrides_of({2027: made_up_2027})) is None


# --- the example files -----------------------------------------------------------------------


def test_the_shipped_2026_file_is_exactly_chinesecalendars_2026(tmp_path: Path) -> None:
    shipped = TEMPLATES_DIR / "calendar" / "2026.toml"
    assert shipped.read_text("utf-8") == example_toml(2026)
    parsed = read_year_file(shipped)
    assert parsed.year == 2026 and parsed.warnings == ()
    assert set(parsed.holidays) == {d for d in chinese_calendar.holidays if d.year == 2026}
    assert set(parsed.workdays) == {d for d in chinese_calendar.workdays if d.year == 2026}
    assert {e.name for e in parsed.days} == {
        "元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"
    }  # fmt: skip


@pytest.mark.parametrize("year", range(2004, 2027))
def test_every_year_chinesecalendar_covers_makes_an_exact_file(tmp_path: Path, year: int) -> None:
    path = tmp_path / f"{year}.toml"
    path.write_text(example_toml(year), "utf-8")
    parsed = read_year_file(path)
    as_imported = overrides_of({year: (parsed.holidays, parsed.workdays)})
    day = dt.date(year, 1, 1)
    while day.year == year:
        assert is_working_day(day, as_imported) == is_working_day(day, NO_OVERRIDES), day
        day += dt.timedelta(days=1)


def test_the_frame_of_an_uncovered_year_lists_the_festivals_and_cannot_be_imported(
    tmp_path: Path,
) -> None:
    frame = example_toml(2027)
    assert "year = 2027" in frame and "国庆节" in frame and "春节" in frame
    path = tmp_path / "2027.toml"
    path.write_text(frame, "utf-8")
    with pytest.raises(HolidayFileError) as refused:
        read_year_file(path)
    assert len(refused.value.problems) == 14  # from and to of seven festivals
    assert all("还没填日期" in p.reason for p in refused.value.problems)
