"""The scan for personal data in files about to be published: HTML, CSV, XLSX, JSON and text.

Owns reading each format down to its strings, and saying where each string stands: line and
column in text and HTML (text and attribute values, comments and scripts; never the markup
itself), row and column in CSV, sheet and cell in XLSX (every sheet, hidden ones too; cached
values, as a reader sees them), the JSON path in JSON (keys and values). A file's name is
scanned too. A directory is scanned recursively; files of other types are listed as skipped,
and a file that cannot be read is listed as unreadable (it cannot be proven clean). What counts
as personal data is bot.registry.personal's.

``publish site`` and ``publish export`` call :func:`scan_paths` on what they wrote, or
:func:`scan_rows` / :func:`scan_data` on what they are about to write.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bot.registry.personal import Found, Kind, People, find
from bot.registry.sheets import SheetError, detect_encoding

HTML = frozenset({".html", ".htm", ".xhtml"})
TEXT = frozenset({".txt", ".text", ".md", ".js", ".mjs", ".css", ".svg", ".xml", ".tsv"})
FORMATS = HTML | TEXT | {".csv", ".xlsx", ".json"}


@dataclass(frozen=True)
class Place:
    """Where a string stands in its file. ``form`` says which fields mean something:
    ``text`` line and column (1-based, text and HTML); ``csv`` row and column; ``cell`` sheet,
    row and column (XLSX); ``sheet`` a sheet's name; ``json`` / ``json_key`` path; ``file_name``
    the file's own name."""

    form: str
    line: int = 0
    column: int = 0
    sheet: str = ""
    path: str = ""

    @property
    def cell(self) -> str:
        """The column letters and row of an XLSX cell, as Excel names it (``B3``)."""
        letters, number = "", self.column
        while number:
            number, rest = divmod(number - 1, 26)
            letters = chr(ord("A") + rest) + letters
        return f"{letters}{self.line}"


@dataclass(frozen=True)
class Hit:
    """A piece of personal data in a file: which file, where, of what kind and what text."""

    file: str
    place: Place
    kind: Kind
    text: str
    masked: str


@dataclass(frozen=True)
class Unreadable:
    file: str
    reason: str  # a key of templates/text/publish.txt.j2's ``unreadable`` macro
    detail: str = ""


@dataclass
class Report:
    hits: list[Hit] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing found, and nothing that could not be looked at."""
        return not self.hits and not self.unreadable


class FileUnreadable(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


Fragment = tuple[str, Place]
"""A string of a file, and where it starts (``text`` places) or stands (every other form)."""


def _at(anchor: Place, value: str, offset: int) -> Place:
    """The place ``offset`` characters into ``value``, which starts at ``anchor``."""
    if anchor.form != "text":
        return anchor
    before = value[:offset]
    newlines = before.count("\n")
    if not newlines:
        return replace(anchor, column=anchor.column + offset)
    return replace(anchor, line=anchor.line + newlines, column=offset - before.rfind("\n"))


def _hits(file: str, fragments: Iterable[Fragment], people: People) -> Iterator[Hit]:
    for value, anchor in fragments:
        for found in find(value, people):
            yield _hit(file, _at(anchor, value, found.start), found)


def _hit(file: str, place: Place, found: Found) -> Hit:
    return Hit(file, place, found.kind, found.text, found.masked)


def cell_text(value: object) -> str | None:
    """A cell or JSON scalar as text (a number stored as a number is still a phone number)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def scan_rows(
    rows: Iterable[Sequence[object]], people: People, file: str = "", sheet: str | None = None
) -> list[Hit]:
    """Hits in rows about to be written (row 1 is the first given, headers included)."""
    return list(_hits(file, _row_fragments(rows, sheet), people))


def _row_fragments(rows: Iterable[Sequence[object]], sheet: str | None) -> Iterator[Fragment]:
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if (cell := cell_text(value)) is not None:
                yield cell, Place("csv" if sheet is None else "cell", r, c, sheet or "")


def scan_data(value: Any, people: People, file: str = "") -> list[Hit]:
    """Hits in JSON-like data (dicts, lists, strings, numbers): every key and every value."""
    return list(_hits(file, _json_fragments(value, "$"), people))


def _json_step(path: str, key: str) -> str:
    if key.isidentifier() and key.isascii():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _json_fragments(value: Any, path: str) -> Iterator[Fragment]:
    if isinstance(value, dict):
        for key, item in value.items():
            step = _json_step(path, str(key))
            yield str(key), Place("json_key", path=step)
            yield from _json_fragments(item, step)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _json_fragments(item, f"{path}[{i}]")
    elif (scalar := cell_text(value)) is not None:
        yield scalar, Place("json", path=path)


def scan_text(value: str, people: People, file: str = "") -> list[Hit]:
    """Hits in plain text, by line and column."""
    return list(_hits(file, _line_fragments(value), people))


def _line_fragments(value: str) -> Iterator[Fragment]:
    # Line by line, so that a line holding only an employer's name is that name (see personal).
    for number, line in enumerate(value.split("\n"), start=1):
        yield line, Place("text", number, 1)


class _HtmlStrings(HTMLParser):
    """Every string of an HTML document a reader or a program could get at, with its place."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
        # (string, where it starts, and its index in the source when written with character
        # references that the string holds decoded; None when the string is as written)
        self.found: list[tuple[str, Place, int | None]] = []

    def _here(self, skip: int = 0) -> Place:
        line, offset = self.getpos()
        return Place("text", line, offset + 1 + skip)

    def handle_data(self, data: str) -> None:
        line, offset = self.getpos()
        written = None if self.cdata_elem else self.line_starts[line - 1] + offset
        self.found.append((data, self._here(), written))

    def handle_comment(self, data: str) -> None:
        self.found.append((data, self._here(len("<!--")), None))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw, start = self.get_starttag_text() or "", self._here()
        for _, value in attrs:
            if value:
                # Unescaped values may not be found as written; then the tag's place stands.
                self.found.append((value, _at(start, raw, max(raw.find(value), 0)), None))


_REFERENCE = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")


def _written(source: str, start: int, decoded: int) -> int:
    """How many characters of ``source`` from ``start`` make ``decoded`` decoded ones."""
    i, seen = start, 0
    while seen < decoded and i < len(source):
        reference = _REFERENCE.match(source, i) if source[i] == "&" else None
        seen += len(html.unescape(reference.group())) if reference else 1
        i = reference.end() if reference else i + 1
    return i - start


def scan_html(value: str, people: People, file: str = "") -> list[Hit]:
    parser = _HtmlStrings(value)
    parser.feed(value)
    parser.close()
    hits = []
    for data, anchor, written in parser.found:
        for found in find(data, people):
            if written is None:
                place = _at(anchor, data, found.start)
            else:
                length = _written(value, written, found.start)
                place = _at(anchor, value[written : written + length], length)
            hits.append(_hit(file, place, found))
    return hits


def _read_text(path: Path) -> str:
    try:
        encoding = detect_encoding(path)
    except SheetError as exc:
        raise FileUnreadable("encoding") from exc
    return path.read_text(encoding)


def _csv_file(path: Path, people: People, file: str) -> list[Hit]:
    body = _read_text(path)
    try:
        rows = list(csv.reader(io.StringIO(body, newline="")))
    except csv.Error as exc:
        raise FileUnreadable("csv", str(exc)) from exc
    return scan_rows(rows, people, file)


def _xlsx_file(path: Path, people: People, file: str) -> list[Hit]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise FileUnreadable("xlsx", str(exc)) from exc
    hits: list[Hit] = []
    try:
        for sheet in workbook.worksheets:
            hits += _hits(file, [(sheet.title, Place("sheet", sheet=sheet.title))], people)
            cells = (
                (text, Place("cell", cell.row, cell.column, sheet.title))
                for row in sheet.iter_rows()
                for cell in row
                if (text := cell_text(cell.value)) is not None
            )
            hits += _hits(file, cells, people)
    finally:
        workbook.close()
    return hits


def scan_document(file: str, value: str, people: People) -> list[Hit]:
    """Hits in a text document not yet written (a page of the site, a JSON record), read by
    the format its name's suffix says — JSON, HTML, or else plain text; raises
    FileUnreadable for JSON that does not parse."""
    suffix = Path(file).suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FileUnreadable("json", f"{exc.lineno}:{exc.colno}") from exc
        return scan_data(data, people, file)
    if suffix in HTML:
        return scan_html(value, people, file)
    return scan_text(value, people, file)


def scan_file(path: Path, people: People, name: str | None = None) -> list[Hit]:
    """Hits in one file of a known format (see FORMATS); raises FileUnreadable."""
    file = name if name is not None else str(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _csv_file(path, people, file)
        if suffix == ".xlsx":
            return _xlsx_file(path, people, file)
        return scan_document(file, _read_text(path), people)
    except OSError as exc:
        raise FileUnreadable("os", exc.strerror or str(exc)) from exc


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if not p.is_dir())
        else:
            yield path


def scan_paths(paths: Iterable[Path], people: People) -> Report:
    """Scan files and directories (recursively); files are named as given or found."""
    report = Report()
    for path in _files(paths):
        file = str(path)
        report.hits += _hits(file, [(path.name, Place("file_name"))], people)
        if not path.exists():
            report.unreadable.append(Unreadable(file, "missing"))
            continue
        if path.suffix.lower() not in FORMATS:
            report.skipped.append(file)
            continue
        try:
            report.hits += scan_file(path, people, file)
        except FileUnreadable as problem:
            report.unreadable.append(Unreadable(file, problem.reason, problem.detail))
            continue
        report.scanned.append(file)
    return report
