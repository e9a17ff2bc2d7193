"""One year of the State Council's holiday notice as a site keeps it, read and checked.

Two forms. A TOML file words it as the notice does, festival by festival: the holiday period
(``from``, ``to``, weekend days of the period included) and the 调休 working days that go with
it. A sheet (.xlsx or .csv, as bot.registry.sheets reads them) has a row a day: 日期, 类型
(放假 / 上班) and, optionally, 节日. Either way every problem names the file and its line (row)
and the file is taken whole or not at all: one year, no date twice, no date both a holiday and
a working day, 调休 working days on weekends only. A holiday on a weekend is harmless (notices
list periods with their weekend days) and is taken as it stands; a year without holidays is
taken with a warning.

Also writes the files back: the example of a year chinesecalendar covers (exact, from its own
data), or the frame of a year to fill in from its notice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.base.calendar import Marked, package_days, periods
from bot.base.texts import render, table, text
from bot.forms.definition import TomlLines, toml_line
from bot.registry.fields import Cell, CellError, cell_text, parse_date
from bot.registry.importer import Problem
from bot.registry.sheets import FORMATS, Sheet, SheetError, open_sheet, sheet_writer

TOML = ".toml"
SUFFIXES = (TOML, *FORMATS)
FIRST_YEAR, LAST_YEAR = 2000, 2100
LONGEST_PERIOD = 20  # days; the longest notice so far gave 10 (Spring Festival 2020)
NAME_MAX, NOTICE_MAX = 50, 200  # as the database keeps them
TOP_KEYS = ("year", "notice", "holiday")
PERIOD_KEYS = ("name", "from", "to", "workdays")
ARRAY = "holiday"


def words() -> dict[str, Any]:
    return table("calendar/words.toml")


@dataclass(frozen=True)
class Entry:
    """A holiday or 调休 working day as the file gives it, and where."""

    day: dt.date
    holiday: bool
    name: str
    line: int
    column: str = ""  # the sheet's header; "" in TOML


@dataclass(frozen=True)
class YearFile:
    """A checked file: one year's holidays and 调休 working days, by date."""

    year: int
    notice: str
    days: tuple[Entry, ...]
    source: str  # the file's name
    sha256: str  # of its bytes
    warnings: tuple[Problem, ...] = ()

    @property
    def holidays(self) -> list[dt.date]:
        return [e.day for e in self.days if e.holiday]

    @property
    def workdays(self) -> list[dt.date]:
        return [e.day for e in self.days if not e.holiday]


class HolidayFileError(Exception):
    """The file cannot be imported; ``problems`` say where and why, in line order."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = sorted(problems, key=lambda p: p.row)


@dataclass
class _Found:
    """What reading gave: the year (if said), the notice, the days and the problems."""

    file: str
    toml: bool = False  # a TOML file says its year; a sheet's is that of its first date
    year: int | None = None
    year_line: int = 1
    notice: str = ""
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, at: int, message: str, column: str = "", /, **values: Any) -> None:
        reason = text(f"calendar.{message}", **values)
        self.problems.append(Problem(self.file, at, column, reason))


def read_year_file(path: Path) -> YearFile:
    """The year ``path`` holds, checked; HolidayFileError lists every problem otherwise."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise HolidayFileError([_whole(path, "unsupported_format", suffix=suffix)])
    if not path.is_file():
        missing = text("registry.file_missing", path=str(path))
        raise HolidayFileError([Problem(path.name, 1, "", missing)])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise HolidayFileError([_whole(path, "unreadable", path=str(path), detail=detail)]) from exc
    found = _Found(path.name, toml=suffix == TOML)
    if suffix == TOML:
        _read_toml(raw, found)
    else:
        try:
            with open_sheet(path) as sheet:
                _read_sheet(sheet, found)
        except SheetError as exc:
            found.problems.append(Problem(path.name, 1, "", exc.message()))
    return _checked(found, hashlib.sha256(raw).hexdigest())


def _whole(file: Path, message: str, /, **values: Any) -> Problem:
    return Problem(file.name, 1, "", text(f"calendar.{message}", **values))


# --- TOML ------------------------------------------------------------------------------------


def _read_toml(raw: bytes, found: _Found) -> None:
    try:
        source = raw.decode("utf-8-sig")
        data = tomllib.loads(source)
    except UnicodeDecodeError:
        found.problem(1, "not_utf8")
        return
    except tomllib.TOMLDecodeError as exc:
        found.problem(toml_line(str(exc)), "bad_toml", detail=str(exc))
        return
    lines = TomlLines(source, ARRAY)
    for key in data:
        if key not in TOP_KEYS:
            found.problem(lines.key(None, key), "unknown_key", key=key, allowed=list(TOP_KEYS))
    _toml_year(data, lines, found)
    notice = data.get("notice", "")
    if not isinstance(notice, str) or len(notice.strip()) > NOTICE_MAX:
        found.problem(lines.key(None, "notice"), "bad_notice", max_length=NOTICE_MAX)
    else:
        found.notice = notice.strip()
    listed = data.get(ARRAY, [])
    if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
        found.problem(lines.key(None, ARRAY), "not_periods")
        return
    for index, period in enumerate(listed):
        _toml_period(index, period, lines, found)


def _toml_year(data: dict[str, Any], lines: TomlLines, found: _Found) -> None:
    year = data.get("year")
    found.year_line = lines.key(None, "year")
    if year is None:
        found.problem(1, "no_year")
    elif isinstance(year, bool) or not isinstance(year, int):
        found.problem(found.year_line, "bad_year", value=str(year))
    elif not FIRST_YEAR <= year <= LAST_YEAR:
        found.problem(found.year_line, "year_range", value=year, low=FIRST_YEAR, high=LAST_YEAR)
    else:
        found.year = year


def _toml_period(index: int, period: dict[str, Any], lines: TomlLines, found: _Found) -> None:
    for key in period:
        if key not in PERIOD_KEYS:
            found.problem(lines.key(index, key), "unknown_key", key=key, allowed=list(PERIOD_KEYS))
    name = period.get("name", "")
    if not isinstance(name, str) or len(name.strip()) > NAME_MAX:
        found.problem(lines.key(index, "name"), "bad_name", max_length=NAME_MAX)
        name = ""
    name = name.strip()
    first_line = lines.key(index, "from")
    if "from" not in period:
        found.problem(lines.table(index), "no_from")
        first = None
    else:
        first = _toml_date(period["from"], first_line, found)
    last_line = lines.key(index, "to")
    last = _toml_date(period["to"], last_line, found) if "to" in period else first
    if first is not None and last is not None:
        _expand(first, last, name, first_line, last_line, found)
    workdays = period.get("workdays", [])
    if not isinstance(workdays, list):
        found.problem(lines.key(index, "workdays"), "not_a_list")
        return
    for value in workdays:
        written = value if isinstance(value, str) else str(value)
        line = lines.value(index, "workdays", written)
        day = _toml_date(value, line, found)
        if day is not None:
            found.entries.append(Entry(day, False, name, line))


def _expand(
    first: dt.date, last: dt.date, name: str, first_line: int, last_line: int, found: _Found
) -> None:
    """The days of a holiday period, from ``first`` to ``last``."""
    length = (last - first).days + 1
    if length < 1:
        found.problem(last_line, "ends_before", first=first, last=last)
    elif length > LONGEST_PERIOD:
        found.problem(last_line, "too_long", days=length, most=LONGEST_PERIOD)
    elif first.year != last.year:
        found.problem(last_line, "other_year", day=last, year=first.year)
    else:
        found.entries.extend(
            Entry(first + dt.timedelta(days=i), True, name, first_line) for i in range(length)
        )


def _toml_date(value: Any, line: int, found: _Found) -> dt.date | None:
    if isinstance(value, dt.datetime):
        found.problem(line, "date_only", value=value.isoformat(sep=" "))
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and not value.strip():
        found.problem(line, "empty_date")
        return None
    if isinstance(value, str):
        try:
            return parse_date(value)
        except CellError as error:
            found.problems.append(Problem(found.file, line, "", error.message()))
            return None
    found.problem(line, "not_a_date", value=str(value))
    return None


# --- sheets ----------------------------------------------------------------------------------


def _read_sheet(sheet: Sheet, found: _Found) -> None:
    headers: dict[str, str] = words()["columns"]
    positions: dict[str, int] = {}
    by_header = {header: name for name, header in headers.items()}
    for index, header in enumerate(sheet.headers):
        name = by_header.get(header)
        if name is None:
            found.problems.append(
                Problem(found.file, 1, header or f"#{index + 1}", text("calendar.unknown_column"))
            )
        elif name in positions:
            found.problems.append(Problem(found.file, 1, header, text("registry.duplicate_column")))
        else:
            positions[name] = index
    for name in ("day", "kind"):
        if name not in positions:
            found.problems.append(
                Problem(found.file, 1, headers[name], text("registry.missing_column"))
            )
    if found.problems:
        return
    kinds = {label: code for code, label in words()["kinds"].items()}
    for number, cells in _rows(sheet, found):
        _sheet_row(number, cells, positions, headers, kinds, found)
    for remark in sheet.remarks:  # hidden rows, merged cells: not what the eye sees
        column = "" if remark.column is None else sheet.headers[remark.column]
        found.problems.append(Problem(found.file, remark.row, column, remark.error.message()))


def _rows(sheet: Sheet, found: _Found) -> Iterator[tuple[int, list[Cell]]]:
    width = len(sheet.headers)
    for number, cells in sheet.rows:
        if sheet.strict_width and len(cells) != width:
            message = text("registry.row_width", cells=len(cells), width=width)
            found.problems.append(Problem(found.file, number, "", message))
            continue
        yield number, cells


def _sheet_row(
    number: int,
    cells: list[Cell],
    positions: dict[str, int],
    headers: dict[str, str],
    kinds: dict[str, str],
    found: _Found,
) -> None:
    def cell(name: str) -> Cell:
        at = positions.get(name)
        return cells[at] if at is not None and at < len(cells) else None

    def problem(name: str, reason: str) -> None:
        found.problems.append(Problem(found.file, number, headers[name], reason))

    day, kind, name = None, None, cell_text(cell("name"))
    if not cell_text(cell("day")):
        problem("day", text("registry.required"))
    else:
        try:
            day = parse_date(cell("day"))
        except CellError as error:
            problem("day", error.message())
    written = cell_text(cell("kind"))
    kind = kinds.get(written)
    if kind is None:
        allowed = list(kinds)
        problem("kind", text("registry.choice", value=written, allowed=allowed))
    if len(name) > NAME_MAX:
        problem("name", text("registry.too_long", max_length=NAME_MAX, length=len(name)))
        name = ""
    if day is not None and kind is not None:
        found.entries.append(Entry(day, kind == "holiday", name, number, headers["day"]))


# --- the checks both forms share -------------------------------------------------------------


def _checked(found: _Found, sha256: str) -> YearFile:
    year = found.year
    if year is None and found.entries and not found.toml:
        year = min(found.entries, key=lambda e: e.line).day.year
    if year is None and not found.problems:
        found.problem(1, "no_dates")
    seen: dict[dt.date, Entry] = {}
    for entry in sorted(found.entries, key=lambda e: e.line):
        if year is not None and entry.day.year != year:
            found.problem(entry.line, "other_year", entry.column, day=entry.day, year=year)
            continue
        before = seen.get(entry.day)
        if before is not None and before.holiday == entry.holiday:
            found.problem(entry.line, "duplicate", entry.column, day=entry.day, line=before.line)
            continue
        if before is not None:
            kinds = words()["kinds"]
            labels = [kinds["holiday" if e.holiday else "workday"] for e in (before, entry)]
            found.problem(
                entry.line, "both", entry.column, day=entry.day, line=before.line,
                before=labels[0], now=labels[1],
            )  # fmt: skip
            continue
        seen[entry.day] = entry
        if not entry.holiday and entry.day.weekday() < 5:
            weekday = words()["weekdays"]["names"][entry.day.weekday()]
            found.problem(entry.line, "weekday_work", entry.column, day=entry.day, weekday=weekday)
    if found.problems or year is None:
        raise HolidayFileError(found.problems)
    warnings = []
    if not any(e.holiday for e in seen.values()):
        warnings.append(Problem(found.file, found.year_line, "", text("calendar.no_holidays")))
    days = tuple(sorted(seen.values(), key=lambda e: e.day))
    return YearFile(year, found.notice, days, found.file, sha256, tuple(warnings))


# --- writing a year's file -------------------------------------------------------------------


def festival_name(name: str) -> str:
    """chinesecalendar's Holiday name in Chinese (a site's own name stays as it is)."""
    festivals: dict[str, str] = words()["festivals"]
    return festivals.get(name, name)


def example_periods(year: int) -> list[tuple[str, dt.date, dt.date, list[dt.date]]]:
    """(festival, first day, last day, 调休 working days) of each holiday period chinesecalendar
    gives ``year``; each working day goes with the nearest period of its festival."""
    runs = periods(package_days(year))
    holidays = [run for run in runs if run[0].holiday]
    work: list[list[dt.date]] = [[] for _ in holidays]
    for run in runs:
        marked = run[0]
        if marked.holiday or not holidays:
            continue
        same = [i for i, h in enumerate(holidays) if h[0].name == marked.name] or list(
            range(len(holidays))
        )
        nearest = min(same, key=lambda i: _distance(holidays[i], marked))
        work[nearest].append(marked.day)
    return [
        (festival_name(h[0].name), h[0].day, h[-1].day, sorted(w))
        for h, w in zip(holidays, work, strict=True)
    ]


def _distance(run: list[Marked], marked: Marked) -> int:
    return min(abs((run[0].day - marked.day).days), abs((run[-1].day - marked.day).days))


def example_toml(year: int) -> str:
    """The TOML file of ``year``: exact for a year chinesecalendar covers, else the festivals
    to fill in from the notice (it cannot be imported before its dates are filled in)."""
    festivals = [festival_name(key) for key in words()["frame"]["festivals"]]
    return render(
        "calendar/year.toml.j2",
        year=year,
        periods=example_periods(year),
        festivals=festivals,
    )


def write_example(year: int, path: Path) -> None:
    """The file of ``year`` in the format of ``path``'s extension (.toml, .xlsx or .csv)."""
    suffix = path.suffix.lower()
    if suffix == TOML:
        try:
            path.write_text(example_toml(year), "utf-8")
        except OSError as exc:
            detail = exc.strerror or str(exc)
            raise SheetError("unwritable", path=str(path), detail=detail) from exc
        return
    if suffix not in SUFFIXES:
        raise HolidayFileError([_whole(path, "unsupported_format", suffix=suffix)])
    columns, kinds = words()["columns"], words()["kinds"]
    found = example_periods(year)
    with sheet_writer(path, list(columns.values())) as append:
        for name, first, last, workdays in found:
            for i in range((last - first).days + 1):
                append([first + dt.timedelta(days=i), kinds["holiday"], name])
            for day in workdays:
                append([day, kinds["workday"], name])
        if not found:  # the frame: a row per festival, its dates to fill in
            for key in words()["frame"]["festivals"]:
                append([None, kinds["holiday"], festival_name(key)])
