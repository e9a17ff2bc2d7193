"""Importing a registry sheet: validate every row, then write all of it or none of it.

Owns the two passes over the file. Pass one reads and checks every row (cells, rules that tie
cells together, duplicates within the file, what only the database can tell, what the sheet hides
from the eye, changes to who a stored record is) and collects every problem, in row order. Pass
two, only when there is nothing to refuse (or with ``skip_invalid``), reads the file again and
upserts in batches, recording each change in the audit log, all in one transaction. The file is
streamed both times, so memory does not grow with its length.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.registry.fields import Cell, CellError, cell_text
from bot.registry.kinds import KINDS, Kind, Record
from bot.registry.records import jsonable
from bot.registry.sheets import Sheet, SheetError, open_sheet
from storage import audit
from storage.engine import unit_of_work
from storage.registries import STORES, Store, Write

BATCH = 1000
T = TypeVar("T")
Progress = Callable[[Iterable[T], str, int | None], Iterable[T]]


def no_progress(items: Iterable[T], label: str, total: int | None) -> Iterable[T]:
    return items


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, located the way a person finds it in Excel."""

    file: str
    row: int
    column: str  # the Chinese header, or "" for the whole row
    reason: str

    def line(self) -> str:
        return text(
            "registry.problem_line",
            file=self.file,
            row=self.row,
            column=self.column,
            reason=self.reason,
        )


@dataclass(frozen=True)
class IdentityChange:
    """A row that changes who a stored record is: (header, before, after) per changed field."""

    row: int
    key: str  # the stored record's natural key
    changes: tuple[tuple[str, Any, Any], ...]

    def describe(self) -> str:
        return text("registry.identity_changes", changes=self.changes)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    written: bool = False
    identity_changes: list[IdentityChange] = field(default_factory=list)  # those written

    @property
    def bad_rows(self) -> set[int]:
        return {p.row for p in self.problems}


class _Reader:
    """Turns sheet rows into records for one kind, collecting problems as it goes."""

    def __init__(self, kind: Kind, path: Path, report: ImportReport) -> None:
        self.kind, self.path, self.report = kind, path, report
        self.headers = kind.headers()
        self.positions: dict[str, int] = {}
        self.width = 0
        self.strict_width = False

    def problem(self, row: int, field_name: str | None, reason: str) -> None:
        column = self.headers[field_name] if field_name else ""
        self.report.problems.append(Problem(self.path.name, row, column, reason))

    def check_headers(self, sheet: Sheet) -> bool:
        self.width, self.strict_width = len(sheet.headers), sheet.strict_width
        by_header = {header: name for name, header in self.headers.items()}
        problems = []
        for index, header in enumerate(sheet.headers):
            if header in by_header and by_header[header] in self.positions:
                problems.append(
                    Problem(self.path.name, 1, header, text("registry.duplicate_column"))
                )
            elif header in by_header:
                self.positions[by_header[header]] = index
            else:
                column = header or f"#{index + 1}"
                problems.append(Problem(self.path.name, 1, column, text("registry.unknown_column")))
        for name, header in self.headers.items():
            if name not in self.positions:
                problems.append(Problem(self.path.name, 1, header, text("registry.missing_column")))
        if problems:
            problems = self._misread(sheet) or problems
        self.report.problems.extend(problems)
        self.remarked(sheet, lambda row: row == 1)
        return not self.report.problems

    def _misread(self, sheet: Sheet) -> list[Problem]:
        """One clear problem in place of a column-by-column list, when the columns fit another
        kind, or no kind at all in a CSV read as GB18030 (which decodes almost any bytes, so
        Big5 or Shift-JIS arrive as plausible but unknown characters)."""
        present = set(sheet.headers)
        overlaps = {k: len(present & set(k.headers().values())) for k in KINDS.values()}
        if sheet.encoding == "gb18030" and any(sheet.headers) and not any(overlaps.values()):
            raise SheetError("unknown_encoding")
        likely = max(overlaps, key=lambda k: overlaps[k])
        if likely is self.kind or 2 * overlaps[likely] <= len(likely.fields):
            return []
        reason = text("registry.looks_like", kind=likely.name, expected=self.kind.name)
        return [Problem(self.path.name, 1, "", reason)]

    def remarked(self, sheet: Sheet, rows: Callable[[int], bool]) -> None:
        """What the sheet hides from the eye (hidden, merged), as problems of its rows."""
        headers = dict(enumerate(sheet.headers))
        for remark in sheet.remarks:
            if rows(remark.row):
                header = "" if remark.column is None else headers.get(remark.column, "")
                self.report.problems.append(
                    Problem(self.path.name, remark.row, header, remark.error.message())
                )

    def duplicate(
        self, number: int, record: Record, seen: dict[str, dict[Any, int]], keys: dict[str, int]
    ) -> bool:
        """Whether the row repeats an earlier row's unique field or key (said as a problem)."""
        duplicate = False
        for name, values in seen.items():
            value = record[name]
            if value is None:
                continue
            if value in values:
                self.problem(number, name, text("registry.duplicate_in_file", row=values[value]))
                duplicate = True
            else:
                values[value] = number
        key = self.kind.key(record)
        if key in keys and not duplicate:
            self.problem(number, None, text("registry.duplicate_key", row=keys[key]))
            duplicate = True
        keys.setdefault(key, number)
        return duplicate

    def identity_change(
        self, number: int, record: Record, before: Record | None
    ) -> IdentityChange | None:
        if before is None:
            return None
        changes = tuple(
            (self.headers[name], before[name], record[name])
            for name in self.kind.identity
            if before[name] != record[name]
        )
        return IdentityChange(number, self.kind.key(before), changes) if changes else None

    def record(self, number: int, cells: list[Cell]) -> Record | None:
        # A row wider than its header is mostly an unquoted comma that shifted every cell after
        # it; a short CSV row is a broken one. Either way the cells cannot be trusted.
        extra = [c for c in cells[self.width :] if cell_text(c) != ""]
        if extra or (self.strict_width and len(cells) < self.width):
            self.problem(
                number, None, text("registry.row_width", cells=len(cells), width=self.width)
            )
            return None
        record: Record = {}
        ok = True
        for f in self.kind.fields:
            position = self.positions[f.name]
            raw = cells[position] if position < len(cells) else None
            try:
                record[f.name] = f.parse(raw)
            except CellError as error:
                self.problem(number, f.name, error.message())
                ok = False
        if not ok:
            return None
        rule_problems = self.kind.row_rules(record)
        for name, rule_error in rule_problems:
            self.problem(number, name, rule_error.message())
        return None if rule_problems else record


def _batches(rows: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _check(
    session: AsyncSession,
    reader: _Reader,
    store: Store,
    path: Path,
    progress: Progress[Any],
    confirm_identity_changes: bool,
) -> int:
    """Pass one: every problem in the file, in row order, with nothing written.

    Returns the row count.
    """
    seen: dict[str, dict[Any, int]] = {name: {} for name in reader.kind.unique_in_file}
    keys: dict[str, int] = {}
    count = 0
    with open_sheet(path) as sheet:
        if not reader.check_headers(sheet):
            return 0
        rows = progress(sheet.rows, text("registry.progress_check"), None)
        for batch in _batches(rows):
            good: list[tuple[int, Record]] = []
            for number, cells in batch:
                count += 1
                record = reader.record(number, cells)
                if record is not None and not reader.duplicate(number, record, seen, keys):
                    good.append((number, record))
            if good:
                conflicts = await store.conflicts(session, [r for _, r in good])
                for conflict in conflicts:
                    reader.problem(
                        good[conflict.index][0],
                        conflict.column,
                        text(f"registry.{conflict.reason}", **conflict.values),
                    )
                if reader.kind.identity and not confirm_identity_changes:
                    await _refuse_identity_changes(session, reader, store, good)
        reader.remarked(sheet, lambda row: row > 1)
    reader.report.problems.sort(key=lambda problem: problem.row)
    return count


async def _refuse_identity_changes(
    session: AsyncSession, reader: _Reader, store: Store, good: list[tuple[int, Record]]
) -> None:
    stored = await store.stored(session, [record for _, record in good])
    for (number, record), before in zip(good, stored, strict=True):
        change = reader.identity_change(number, record, before)
        if change is not None:
            reason = text("registry.identity_change", changes=change.describe())
            reader.problem(number, None, reason)


def _diff(before: Record, after: Record) -> tuple[Record, Record]:
    changed = [name for name in after if before.get(name) != after[name]]
    return {n: before.get(n) for n in changed}, {n: after[n] for n in changed}


async def _write(
    session: AsyncSession,
    reader: _Reader,
    store: Store,
    path: Path,
    report: ImportReport,
    actor: str,
    at: dt.datetime,
    progress: Progress[Any],
    total: int,
) -> None:
    """Pass two: upsert the good rows in batches, auditing each change."""
    bad_rows = report.bad_rows
    kind = reader.kind
    with open_sheet(path) as sheet:
        rows = progress(sheet.rows, text("registry.progress_write"), total)
        for batch in _batches(rows):
            numbers, records = [], []
            for number, cells in batch:
                if number in bad_rows:
                    continue
                record = reader.record(number, cells)
                assert record is not None, "pass one accepted this row"
                numbers.append(number)
                records.append(record)
            if not records:
                continue
            writes, changes = [], []
            stored = await store.stored(session, records)
            for number, record, before in zip(numbers, records, stored, strict=True):
                if before == record:
                    report.unchanged += 1
                    continue
                if before is None:
                    report.created += 1
                    action, old, new = "create", None, record
                else:
                    report.updated += 1
                    action = "update"
                    old, new = _diff(before, record)
                    identity = reader.identity_change(number, record, before)
                    if identity is not None:
                        report.identity_changes.append(identity)
                writes.append(Write(record, before))
                changes.append(
                    audit.Change(
                        actor,
                        f"registry:{action}",
                        kind.name,
                        kind.key(record),
                        None if old is None else jsonable(old),
                        jsonable(new),
                    )
                )
            if writes:
                await store.save(session, writes, actor, at)
                await audit.append(session, changes, at)


async def import_sheet(
    factory: async_sessionmaker[AsyncSession],
    kind_name: str,
    path: Path,
    *,
    actor: str,
    clock: Callable[[], dt.datetime],
    skip_invalid: bool = False,
    confirm_identity_changes: bool = False,
    progress: Progress[Any] = no_progress,
    before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> ImportReport:
    """Import ``path`` into the ``kind_name`` registry; see the module docstring.
    ``before_commit`` sees the written rows and may still refuse them all by raising.

    A row that changes who a stored record is (an officer's name or platform accounts) is a
    problem unless ``confirm_identity_changes``; confirmed ones are listed in the report.
    """
    kind, store = KINDS[kind_name], STORES[kind_name]
    report = ImportReport()
    reader = _Reader(kind, path, report)
    async with unit_of_work(factory) as session:
        total = await _check(session, reader, store, path, progress, confirm_identity_changes)
        header_broken = any(p.row == 1 for p in report.problems)
        if header_broken or (report.problems and not skip_invalid):
            return report
        await _write(session, reader, store, path, report, actor, clock(), progress, total)
        if before_commit is not None:
            await session.flush()
            await before_commit(session)
        report.written = True
    return report


def read_records(kind: Kind, path: Path) -> tuple[list[tuple[int, Record]], list[Problem]]:
    """Every row of a sheet laid out as ``kind`` (not a registry: nothing is stored here),
    checked as an import checks it — headers, cells, row rules, repeats within the file, what
    the sheet hides — as (row number, record) pairs and the problems, in row order."""
    report = ImportReport()
    reader = _Reader(kind, path, report)
    records: list[tuple[int, Record]] = []
    seen: dict[str, dict[Any, int]] = {name: {} for name in kind.unique_in_file}
    keys: dict[str, int] = {}
    with open_sheet(path) as sheet:
        if reader.check_headers(sheet):
            for number, cells in sheet.rows:
                record = reader.record(number, cells)
                if record is not None and not reader.duplicate(number, record, seen, keys):
                    records.append((number, record))
            reader.remarked(sheet, lambda row: row > 1)
    report.problems.sort(key=lambda problem: problem.row)
    return records, report.problems


# Dependency order: officers name units, recusals name officers and employers.
SAMPLE_KINDS = ("units", "officers", "entities", "items", "recusals")


async def import_sample(
    factory: async_sessionmaker[AsyncSession],
    clock: Callable[[], dt.datetime],
    progress: Progress[Any] = no_progress,
) -> list[tuple[str, int]]:
    """Load the synthetic sample registries shipped in storage/sample; (kind, rows created)."""
    loaded = []
    for kind in SAMPLE_KINDS:
        source = resources.files("storage") / "sample" / f"{kind}.csv"
        with resources.as_file(source) as path:
            report = await import_sheet(
                factory, kind, path, actor="sample", clock=clock, progress=progress
            )
        if not report.written or report.problems:  # the shipped files are ours: a bug
            raise RuntimeError([p.line() for p in report.problems])
        loaded.append((kind, report.created))
    return loaded
