"""CSV and Excel (.xlsx) sheets, read and written as streams of rows.

Owns file formats and encodings: UTF-8 with or without BOM, GB18030 (what Excel's plain "CSV"
saves on a Chinese Windows) and UTF-16 with BOM; .xlsx through openpyxl's read-only and
write-only modes so that memory stays flat however long the sheet is. Knows nothing about what
the columns mean.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import os
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from bot.registry.fields import Cell, CellError, ExcelError

FORMATS = (".csv", ".xlsx")
_PROBE_CHUNK = 1 << 20


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


@dataclass
class Sheet:
    """An open sheet: its header cells and an iterator of (row number, cells)."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Cell]]]
    # CSV rows must be as wide as the header; Excel leaves trailing blank cells out.
    strict_width: bool = False


def _blank(cells: list[Cell]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[Cell]]]:
    number = 1
    try:
        for number, cells in enumerate(reader, start=2):
            if not _blank(list(cells)):
                yield number, list(cells)
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


def _xlsx_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, list[Cell]]]:
    number = 1
    try:
        for number, row in enumerate(rows, start=2):
            cells = [_xlsx_cell(c) for c in row]
            if not _blank(cells):
                yield number, cells
    except (ElementTree.ParseError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        # The workbook opened but a sheet's XML is damaged further in.
        raise SheetError("unreadable", detail=f"{number + 1}: {type(exc).__name__}") from exc


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
            yield Sheet(headers, _csv_rows(reader), strict_width=True)
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
        if not workbook.worksheets:
            raise SheetError("no_sheet")
        worksheet = workbook.worksheets[0]
        rows = worksheet.iter_rows()
        try:
            first = next(rows, ())
        except (ElementTree.ParseError, KeyError, ValueError, OSError) as exc:
            raise SheetError("unreadable", detail=type(exc).__name__) from exc
        headers = ["" if c.value is None else str(c.value).strip() for c in first]
        while headers and headers[-1] == "":
            headers.pop()
        yield Sheet(headers, _xlsx_rows(rows))
    finally:
        workbook.close()


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


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
