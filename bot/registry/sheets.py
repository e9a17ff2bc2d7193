"""CSV and Excel (.xlsx) sheets, read and written as streams of rows.

Owns file formats and encodings: UTF-8 with or without BOM, GB18030 (what Excel's plain "CSV"
saves on a Chinese Windows) and UTF-16 with BOM; .xlsx through openpyxl's read-only and
write-only modes so that memory stays flat however long the sheet is. Reads an .xlsx the way a
person sees it: the sheet shown on opening (refused when hidden), computed values only, and
hidden rows or merged cells remarked rather than read past; the work stays bounded by the real
data, whatever size the sheet claims. Knows nothing about what the columns mean.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import datetime as dt
import itertools
import os
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from bot.registry.fields import Cell, CellError, ExcelError, Uncomputed

FORMATS = (".csv", ".xlsx")
_PROBE_CHUNK = 1 << 20
# Excel's own limits: a cell beyond them is not one Excel or WPS wrote.
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
# Cells that hold nothing (only formatting, such as borders dragged down a template) cost as
# much to read as real ones. Beyond the real data's own cells, reading tolerates this many plus
# a few per data cell: a template bordered down to row 20,000 reads, a sheet of millions of
# formatted empty cells is refused within seconds rather than read for hours.
EMPTY_ALLOWANCE = 250_000
CELLS_PER_DATA_CELL = 4


class SheetError(Exception):
    """A file that cannot be read or written as a sheet at all."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.error = CellError(key, **values)

    def message(self) -> str:
        return self.error.message()


def sheet_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SheetError("unsupported_format", suffix=suffix)
    return suffix


def _decodes(f: IO[bytes], encoding: str) -> bool:
    f.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := f.read(_PROBE_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """The text encoding of a CSV file, checked over the whole file without holding it.

    UTF-8 first (a GB18030 file is almost never valid UTF-8), then GB18030, which is what
    Excel's plain "CSV" writes on a Chinese Windows. Anything else is refused, not guessed.
    """
    with path.open("rb") as f:
        if f.read(4).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            if _decodes(f, "utf-16"):
                return "utf-16"
            raise SheetError("unknown_encoding")
        for encoding in ("utf-8", "gb18030"):
            if _decodes(f, encoding):
                return "utf-8-sig" if encoding == "utf-8" else encoding
    raise SheetError("unknown_encoding")


@dataclass(frozen=True)
class Remark:
    """Something about a row that its cells do not show (hidden, merged), found while reading."""

    row: int
    column: int | None  # position under the header (0 is the first column), None: the whole row
    error: CellError


@dataclass
class Sheet:
    """An open sheet: its header cells and an iterator of (row number, cells)."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Cell]]]
    # CSV rows must be as wide as the header; Excel leaves trailing blank cells out.
    strict_width: bool = False
    encoding: str | None = None  # how a CSV was decoded
    # Header remarks are there on opening; row remarks once ``rows`` is exhausted.
    remarks: list[Remark] = field(default_factory=list)


def _blank(cells: list[Cell]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[Cell]]]:
    number = 1
    try:
        for number, cells in enumerate(reader, start=2):
            if not _blank(list(cells)):
                yield number, [_csv_read(c) for c in cells]
    except csv.Error as exc:
        # Typically a stray quote: the rest of the file became one enormous cell.
        raise SheetError("csv_broken", row=number + 1) from exc


def _xlsx_cell(cell: Any) -> Cell:
    value = cell.value
    if cell.data_type == "e":
        return ExcelError(value)
    # A percent-formatted cell holds 0.05 for "5%": give it back as the text the person saw.
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and "%" in (cell.number_format or ""):
        return f"{(Decimal(str(value)) * 100).normalize():f}%"
    if isinstance(value, dt.datetime | dt.date | str | int | float | bool) or value is None:
        return value
    return str(value)


_XLSX_DAMAGE = (
    ElementTree.ParseError,
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    TypeError,
    OSError,
)


def _flag(value: str | None) -> bool:
    return value in ("1", "true")


def _parser_class() -> type[Any]:
    """openpyxl's streaming sheet parser, keeping two things its ``data_only`` mode drops.

    openpyxl's own read-only rows are padded to the size the sheet declares (one formatted cell
    at XFD1048576 means 17 billion cells) and forget hidden rows and formulas saved without a
    value; there is no public API for the rows as stored, hence its parser from a private module.
    """
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class Parser(WorkSheetParser):  # type: ignore[misc]
        def parse_cell(self, element: Any) -> dict[str, Any]:
            cell: dict[str, Any] = super().parse_cell(element)
            if cell["value"] is not None:  # most cells: nothing more to look at
                return cell
            formula = element.find(FORMULA_TAG)
            # openpyxl writes a formula it cannot compute with an empty <v/>; Excel writes a
            # formula whose result is empty text as t="str" with an empty <v>.
            no_result = element.find(VALUE_TAG) is None or cell["data_type"] != "str"
            if formula is not None and no_result:
                cell["value"] = Uncomputed("=" + (formula.text or ""))
            return cell

        def parse_row(self, row: Any) -> tuple[int, list[dict[str, Any]], bool]:
            if len(row) > EXCEL_COLUMNS:
                raise ValueError(f"{len(row)} cells in one row")
            number, cells = super().parse_row(row)
            self.row_dimensions.clear()  # openpyxl keeps every row's height: memory would grow
            if number > EXCEL_ROWS:
                raise ValueError(f"row {number}")
            return number, cells, _flag(row.get("hidden"))

    return Parser


class _XlsxReader:
    """One worksheet's rows as stored, never padded, with the work bounded by the data."""

    def __init__(self, workbook: Any, worksheet: Any, source: IO[bytes]) -> None:
        from openpyxl.cell.read_only import ReadOnlyCell

        self.worksheet, self.cell = worksheet, ReadOnlyCell
        self.parser = _parser_class()(
            source,
            worksheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        self.parsed = self.parser.parse()
        self.width = 0
        self.spent = self.data = 0  # cells read; of those, the cells with a value under a header
        self.runs: list[list[int]] = []  # the data rows read, as [first, last] runs
        self.remarks: list[Remark] = []
        self.number = 1  # the row being read, for a damaged file's message
        self.pending: tuple[int, list[dict[str, Any]], bool] | None = None

    def headers(self) -> list[str]:
        first = next(self.parsed, None)
        if first is None:
            return []
        if first[0] != 1:  # row 1 is blank: there is no header
            self.pending = first
            return []
        self.spent += 1 + len(first[1])
        headers = [""] * max((c["column"] for c in first[1]), default=0)
        for c in first[1]:
            if c["value"] is not None:
                headers[c["column"] - 1] = str(c["value"]).strip()
        while headers and headers[-1] == "":
            headers.pop()
        self.width = len(headers)
        self._hidden_columns()
        return headers

    def _hidden_columns(self) -> None:
        # <cols> comes before the rows, so it is known once the header row has been read.
        for attributes in self.parser.column_dimensions.values():
            if _flag(attributes.get("hidden")):
                low, high = int(attributes["min"]), min(int(attributes["max"]), self.width)
                for column in range(low, high + 1):
                    self.remarks.append(Remark(1, column - 1, CellError("hidden_column")))

    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        try:
            parsed_rows = self.parsed
            if self.pending is not None:
                parsed_rows = itertools.chain([self.pending], parsed_rows)
            for parsed in parsed_rows:
                row = self._row(*parsed)
                if row is not None:
                    yield row
            self._merged()
        except _XLSX_DAMAGE as exc:
            # The workbook opened but a sheet's XML is damaged further in.
            detail = f"{self.number + 1}: {type(exc).__name__}"
            raise SheetError("unreadable", detail=detail) from exc

    def _row(
        self, number: int, parsed: list[dict[str, Any]], hidden: bool
    ) -> tuple[int, list[Cell]] | None:
        """The row's cells up to its last value, or None when it holds nothing."""
        self.number = number
        filled = [c for c in parsed if c["value"] is not None]
        self.data += sum(1 for c in filled if c["column"] <= self.width)
        self._spend(1 + len(parsed), number)
        if not filled:
            return None
        last = max(c["column"] for c in filled)
        if last > EXCEL_COLUMNS:
            raise ValueError(f"column {last}")
        cells: list[Cell] = [None] * last
        for c in filled:
            cells[c["column"] - 1] = _xlsx_cell(self.cell(self.worksheet, **c))
        if _blank(cells):
            return None
        if hidden:
            self.remarks.append(Remark(number, None, CellError("hidden_row")))
        if self.runs and self.runs[-1][1] == number - 1:
            self.runs[-1][1] = number
        else:
            self.runs.append([number, number])
        return number, cells

    def _spend(self, cells: int, row: int) -> None:
        self.spent += cells
        if self.spent > EMPTY_ALLOWANCE + CELLS_PER_DATA_CELL * self.data:
            raise SheetError("mostly_empty", row=row)

    def _merged(self) -> None:
        """One remark per data row that a merge leaves blank under a header.

        A merged cell shows one value across cells that hold nothing, so what is imported is not
        what people see. Merges are stored after the rows, hence the runs of data rows kept.
        """
        from openpyxl.utils import range_boundaries

        merges = self.parser.merged_cells
        starts = [start for start, _ in self.runs]
        remarked: set[int] = set()
        for merge in merges.mergeCell if merges is not None else []:
            low_column, low_row, high_column, high_row = range_boundaries(merge.ref)
            first = merge.ref.partition(":")[0]
            # The runs of data rows that overlap the merge.
            for index in range(max(bisect.bisect_right(starts, low_row) - 1, 0), len(starts)):
                start, end = self.runs[index]
                if start > high_row:
                    break
                rows = range(max(start, low_row), min(end, high_row) + 1)
                self._spend(len(rows), high_row)  # overlapping merges are not Excel's
                for row in rows:
                    # The merge's own first row misses only the columns right of its first.
                    column = low_column if row > low_row else low_column + 1
                    if column > min(high_column, self.width) or row in remarked:
                        continue
                    remarked.add(row)
                    error = CellError("merged_cell", cells=merge.ref, first=first)
                    self.remarks.append(Remark(row, column - 1, error))
        self.remarks.sort(key=lambda remark: remark.row)


def _active_worksheet(workbook: Any) -> Any:
    """The sheet Excel shows on opening; a hidden one is never the data, whatever it holds."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    worksheet = workbook.active
    if not isinstance(worksheet, ReadOnlyWorksheet):
        raise SheetError("no_sheet")
    if worksheet.sheet_state != "visible":
        raise SheetError("hidden_sheet", name=worksheet.title)
    return worksheet


@contextmanager
def open_sheet(path: Path) -> Iterator[Sheet]:
    """Open a CSV or .xlsx file for reading; row 1 is the header, as Excel numbers it."""
    suffix = sheet_format(path)
    if not path.is_file():
        raise SheetError("file_missing", path=str(path))
    if suffix == ".csv":
        encoding = detect_encoding(path)
        with path.open(encoding=encoding, newline="") as f:
            reader = csv.reader(f)
            try:
                headers = next(reader, [])
            except csv.Error as exc:
                raise SheetError("unreadable", detail=str(exc)) from exc
            headers = [h.strip().lstrip("\ufeff") for h in headers]
            yield Sheet(headers, _csv_rows(reader), strict_width=True, encoding=encoding)
        return
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        ElementTree.ParseError,
        KeyError,
        OSError,
        ValueError,
        TypeError,
    ) as exc:
        raise SheetError("unreadable", detail=str(exc)) from exc
    try:
        worksheet = _active_worksheet(workbook)
        with closing(worksheet._get_source()) as source:
            xlsx = _XlsxReader(workbook, worksheet, source)
            try:
                headers = xlsx.headers()
            except _XLSX_DAMAGE as exc:
                raise SheetError("unreadable", detail=type(exc).__name__) from exc
            yield Sheet(headers, xlsx.rows(), remarks=xlsx.remarks)
    finally:
        workbook.close()


# A CSV cell a spreadsheet would run as a formula (=HYPERLINK(…), +cmd, @SUM…) when opened:
# written with a leading apostrophe, as spreadsheets themselves mark text, and read back
# without it, so that an export imports again unchanged. A plain number stays as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _csv_read(cell: str) -> str:
    """A cell as :func:`_csv_cell` meant it: the apostrophe that kept a formula inert goes."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_START):
        return cell[1:]
    return cell


@contextmanager
def _atomic(path: Path, mode: str, **kwargs: Any) -> Iterator[IO[Any]]:
    """Write beside the target and rename, so a failed export leaves no half file.

    The file is opened normally (not with mkstemp) so that it gets the usual permissions.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        f = open(tmp, mode.replace("w", "x"), **kwargs)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SheetError("unwritable", path=str(path), detail=exc.strerror or str(exc)) from exc
    try:
        with f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# XML 1.0, and so .xlsx, cannot hold these; a vertical tab or form feed is a line break pasted
# from Word, so it becomes one, and the rest carry nothing a person could see.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(value: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: "\n" if m.group() in "\x0b\x0c" else "", value)


@contextmanager
def sheet_writer(path: Path, headers: list[str]) -> Iterator[Callable[[list[Cell]], None]]:
    """Open a sheet for writing (format from the extension); yields a function that adds a row.

    Rows go straight to disk, so exports of any length use the same memory; the file appears
    under its name only once it is complete.
    """
    suffix = sheet_format(path)
    if suffix == ".csv":
        # With a BOM, Excel on Windows opens UTF-8 CSV without garbling the Chinese.
        with _atomic(path, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(headers)
            yield lambda row: writer.writerow([_csv_cell(c) for c in row])
        return
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet()
    worksheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = max(12, 2 * len(header) + 4)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(worksheet, value=header)
        cell.font = Font(bold=True)
        header_cells.append(cell)
    worksheet.append(header_cells)

    def append(row: list[Cell]) -> None:
        cells = []
        for value in row:
            if isinstance(value, str):
                value = _xlsx_safe(value)
            cell = WriteOnlyCell(worksheet, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # text, never a formula: no injection, nothing lost
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        worksheet.append(cells)

    try:
        with _atomic(path, "wb") as f:
            yield append
            workbook.save(f)
    except BaseException:
        _discard(worksheet)
        raise


def _discard(worksheet: Any) -> None:
    """Drop the temporary file openpyxl streams a write-only sheet into until it is saved.

    openpyxl removes it only on save or at interpreter exit; a long-running server would
    collect one per failed export. There is no public API for this, hence the guarded access.
    """
    writer = getattr(worksheet, "_writer", None)
    if writer is not None:
        worksheet.close()  # finishes the sheet's stream so the file can go
        writer.cleanup()
