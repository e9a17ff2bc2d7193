"""Typed sheet columns: how one cell is read into a canonical value and written back.

Pure: no files, no database. A cell arrives as a CSV string or as an openpyxl value (str, int,
float, bool, datetime, None); every parser accepts both, and ``parse(format(v)) == v`` for every
canonical value, which is what makes export → import lossless.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.base.texts import table, text
from bot.registry.uscc import UsccProblem, normalize_uscc, uscc_problem


class ExcelError(str):
    """An Excel error value (#N/A, #REF!…) where a cell should hold data."""


class Uncomputed(str):
    """A formula (``="C"``) saved without its computed value, as programs other than Excel or
    WPS write them; reading it as blank would quietly store the wrong thing."""


Cell = str | int | float | bool | dt.date | dt.datetime | Decimal | None
LIST_SEPARATOR = "、"
_LIST_SPLIT = re.compile(r"[、,，;；/／\s]+")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


class CellError(Exception):
    """A cell that cannot be read; ``key`` names its message in templates/text/registry."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def message(self) -> str:
        return text(f"registry.{self.key}", **self.values)


def cell_text(raw: Cell) -> str:
    """The cell as trimmed text; whole numbers from Excel lose their ``.0``."""
    if type(raw) is str:  # the common case, first: CSV cells are all strings
        if "\u00a0" in raw or "\u3000" in raw:
            raw = raw.replace("\u00a0", " ").replace("\u3000", " ")
        return raw.strip()
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    # Non-breaking and full-width spaces come with text pasted from web pages.
    return str(raw).replace("\u00a0", " ").replace("\u3000", " ").strip()


@dataclass(frozen=True)
class Field:
    """One column: its English name, whether it may be blank, and how to read and write it."""

    name: str
    read: Callable[[Cell], Any]
    write: Callable[[Any], Cell]
    required: bool = True
    empty: Any = None  # the value of a blank optional cell: None, or () for lists

    def parse(self, raw: Cell) -> Any:
        if isinstance(raw, ExcelError):
            raise CellError("excel_error", value=str(raw))
        if isinstance(raw, Uncomputed):
            raise CellError("formula_no_value", formula=str(raw))
        if cell_text(raw) == "":
            if self.required:
                raise CellError("required")
            return self.empty
        return self.read(raw)

    def format(self, value: Any) -> Cell:
        return None if value is None else self.write(value)


def _same(value: Any) -> Any:
    return value


# Invisible control characters (line breaks and tabs excepted) cannot be stored in .xlsx and
# are never meant: they come from text pasted out of other programs.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_field(name: str, max_length: int, *, required: bool = True) -> Field:
    def read(raw: Cell) -> str:
        value = cell_text(raw)
        if len(value) > max_length:
            raise CellError("too_long", max_length=max_length, length=len(value))
        if _CONTROL.search(value):
            raise CellError("control_character")
        return value

    return Field(name, read, _same, required)


def identifier_field(
    name: str,
    max_length: int,
    *,
    required: bool,
    pattern: str | None = None,
    fold_case: bool = False,
) -> Field:
    """An id typed by hand (certificate numbers, platform accounts).

    Full-width letters and digits are made plain (NFKC). A number cell is refused: Excel has
    already dropped leading zeros and rounded beyond 15 digits, so the id may be wrong.
    ``pattern`` restricts the characters; ``fold_case`` stores accounts that ignore case in
    lower case, so that one account is never two people.
    """
    allowed = re.compile(pattern) if pattern else None

    def read(raw: Cell) -> str:
        if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
            raise CellError("id_number_cell", value=cell_text(raw))
        value = unicodedata.normalize("NFKC", cell_text(raw))
        if len(value) > max_length:
            raise CellError("too_long", max_length=max_length, length=len(value))
        if any(ch.isspace() for ch in value):
            raise CellError("inner_space")
        if _CONTROL.search(value) or (allowed and not allowed.fullmatch(value)):
            raise CellError("id_characters", value=value)
        return value.lower() if fold_case else value

    return Field(name, read, _same, required)


def uscc_field(name: str) -> Field:
    def read(raw: Cell) -> str:
        value = normalize_uscc(cell_text(raw))
        problem = uscc_problem(value)
        if problem is UsccProblem.LENGTH:
            raise CellError("uscc_length", value=value, length=len(value))
        if problem is UsccProblem.CHARACTER:
            raise CellError("uscc_character", value=value)
        if problem is UsccProblem.CHECK:
            raise CellError("uscc_check", value=value)
        return value

    return Field(name, read, _same, True)


@functools.cache
def _date_patterns() -> tuple[re.Pattern[str], ...]:
    marks = labels("date_marks")
    written = re.compile(
        rf"^(\d{{4}}){marks['year']}(\d{{1,2}}){marks['month']}(\d{{1,2}}){marks['day']}?$"
    )
    return (*_DATE_PATTERNS, written)


def parse_date(raw: Cell) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        # A bare number in a date column is an Excel serial shown unformatted; guessing is unsafe.
        raise CellError("date_number", value=cell_text(raw))
    value = cell_text(raw)
    for pattern in _date_patterns():
        match = pattern.match(value)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return dt.date(year, month, day)
            except ValueError:
                break
    raise CellError("date", value=value)


def date_field(name: str, *, required: bool = True) -> Field:
    return Field(name, parse_date, _same, required)


def count_field(name: str) -> Field:
    """A whole number ≥ 0, such as a head count."""

    def read(raw: Cell) -> int:
        if isinstance(raw, bool):
            raise CellError("count", value=cell_text(raw))
        if isinstance(raw, int):
            number = raw
        elif isinstance(raw, float) and raw.is_integer():
            number = int(raw)
        else:
            value = cell_text(raw).replace(",", "")
            if not re.fullmatch(r"[+-]?\d+", value):
                raise CellError("count", value=cell_text(raw))
            number = int(value)
        if number < 0 or number > 10_000_000:
            raise CellError("count", value=cell_text(raw))
        return number

    return Field(name, read, _same, True)


@functools.cache
def labels(group: str) -> dict[str, str]:
    """Code → Chinese label for one group of templates/registry/values.toml."""
    return dict(table("registry/values.toml")[group])


@functools.cache
def _lookup(group: str) -> dict[str, str]:
    """Label or code (any case) → code, so both the Chinese and the code are accepted."""
    lookup = {}
    for code, label in labels(group).items():
        lookup[label.casefold()] = code
        lookup[code.casefold()] = code
    return lookup


def choice_field(name: str, group: str, *, required: bool = True) -> Field:
    def read(raw: Cell) -> str:
        value = cell_text(raw)
        code = _lookup(group).get(value.casefold())
        if code is None:
            raise CellError("choice", value=value, allowed=list(labels(group).values()))
        return code

    def write(code: str) -> str:
        return labels(group)[code]

    return Field(name, read, write, required)


def yes_no_field(name: str) -> Field:
    truthy = {labels("yes_no")["yes"], "y", "yes", "true", "1", "√", "✓"}
    falsy = {labels("yes_no")["no"], "n", "no", "false", "0", "×"}

    def read(raw: Cell) -> bool:
        value = cell_text(raw).casefold()
        if value in truthy:
            return True
        if value in falsy:
            return False
        raise CellError("yes_no", value=cell_text(raw))

    def write(flag: bool) -> str:
        return labels("yes_no")["yes" if flag else "no"]

    return Field(name, read, write, True)


def split_list(raw: Cell) -> list[str]:
    return [part for part in _LIST_SPLIT.split(cell_text(raw)) if part]


def choices_field(name: str, group: str, *, required: bool = True) -> Field:
    """Several codes from one group, written in the group's order and joined by 、."""
    order = list(labels(group))

    def read(raw: Cell) -> tuple[str, ...]:
        lookup = _lookup(group)
        parts = split_list(raw)
        if not parts and required:  # only separators: as blank as an empty cell
            raise CellError("required")
        codes = set()
        for part in parts:
            code = lookup.get(part.casefold())
            if code is None:
                raise CellError("choice", value=part, allowed=list(labels(group).values()))
            codes.add(code)
        return tuple(sorted(codes, key=order.index))

    def write(codes: tuple[str, ...]) -> str | None:
        return LIST_SEPARATOR.join(labels(group)[c] for c in codes) or None

    return Field(name, read, write, required, empty=())


def words_field(name: str, max_length: int) -> Field:
    """Free words joined by 、 (specialties); order kept, repeats dropped."""

    def read(raw: Cell) -> tuple[str, ...]:
        words = tuple(dict.fromkeys(split_list(raw)))
        for word in words:
            if len(word) > max_length:
                raise CellError("too_long", max_length=max_length, length=len(word))
        return words

    def write(words: tuple[str, ...]) -> str | None:
        return LIST_SEPARATOR.join(words) or None

    return Field(name, read, write, False, empty=())


def _hundredths(number_text: str, value: str, key: str, fits: Callable[[Decimal], bool]) -> Decimal:
    """A decimal number to two places within ``fits``; else the ``key`` (or ``key``_precision)
    problem about ``value``, the cell as written."""
    try:
        number = Decimal(number_text.strip())
    except InvalidOperation as exc:
        raise CellError(key, value=value) from exc
    if not number.is_finite() or not fits(number):
        raise CellError(key, value=value)
    if number != number.quantize(Decimal("0.01")):
        raise CellError(f"{key}_precision", value=value)
    return number.quantize(Decimal("0.01"))


def percent_field(name: str) -> Field:
    """A percentage such as ``5%``; Excel cells formatted as percent arrive as fractions."""

    def read(raw: Cell) -> Decimal:
        value = cell_text(raw)
        # sheets.py turns a percent-formatted Excel cell into text with a % sign.
        number_text = value.removesuffix("%").removesuffix("％")
        return _hundredths(number_text, value, "percent", lambda n: 0 < n <= 100)

    def write(number: Decimal) -> str:
        return f"{number.normalize():f}%"

    return Field(name, read, write, True)


def money_field(name: str, *, required: bool = True) -> Field:
    """An amount in yuan ≥ 0 to the fen (``2000``, ``1,500.50``, ``￥300``), kept as Decimal."""

    def read(raw: Cell) -> Decimal:
        value = cell_text(raw)
        if isinstance(raw, bool):
            raise CellError("money", value=value)
        number_text = value.replace(",", "").replace("，", "").lstrip("¥￥")
        number_text = number_text.removesuffix(labels("money_marks")["yuan"])
        return _hundredths(number_text, value, "money", lambda n: 0 <= n < Decimal("1e12"))

    def write(number: Decimal) -> str:
        return f"{number:f}"

    return Field(name, read, write, required)
