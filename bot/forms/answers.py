"""Reading one answer, as typed in chat, chosen on a card or entered on the page.

Pure: the question, the raw answer and the :class:`Context` (today and the campaign's dates)
in; the stored value out, or :class:`AnswerProblem` naming a short Chinese reason (its message
in templates/text/forms) so the same question can be asked again with a hint.

What is accepted, by kind: a choice by its number or its words (several separated by commas,
「、」 or spaces for a multiple choice); yes/no by 是/否 and their everyday forms (「有」「没有」
「对」「不」…, templates/forms/_words.toml); numbers with the unit typed after them (「3人」),
thousands separators, or in Chinese numerals (「三」「十二」「一百零五」); dates as
2026-12-05, 2026/12/5, 2026年12月5日, 「12月5日」 (in the campaign's year) or 今天/明天/昨天….
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.base.texts import table
from bot.forms.definition import SEPARATORS, TEXT_LIMITS, Question


@dataclass(frozen=True)
class Context:
    """What answers are read against: the day of answering and the campaign's window."""

    today: dt.date
    start: dt.date
    end: dt.date


class AnswerProblem(Exception):
    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@functools.cache
def _words() -> dict[str, Any]:
    return table("forms/_words.toml")


def fold(raw: str) -> str:
    """For matching: full-width forms plain, no blanks or closing punctuation, lower case."""
    folded = unicodedata.normalize("NFKC", raw).casefold()
    return re.sub(r"[\s。.!！?？~～]+", "", folded)


_SPLIT = re.compile(SEPARATORS + "+")


def parse(question: Question, raw: str, context: Context) -> Any:
    """The stored value of ``raw`` as an answer to ``question``."""
    raw = unicodedata.normalize("NFKC", raw).strip()
    if not raw:
        raise AnswerProblem("empty")
    match question.kind:
        case "yesno":
            return _yes_no(raw)
        case "single":
            return _option(question.options, raw)
        case "multiple":
            return choose(question, [p for p in _SPLIT.split(raw) if p])
        case "number":
            return _number(question, raw)
        case "date":
            return _date(question, raw, context)
        case "text" | "longtext":
            return _text(question, raw)
    raise AnswerProblem("photos_expected")


def choose(question: Question, picked: Sequence[str]) -> Any:
    """Options picked on a card or a page (texts or numbers), for a choice question."""
    if question.kind == "single":
        if len(picked) != 1:
            raise AnswerProblem("one_option")
        return _option(question.options, picked[0])
    chosen = []
    for part in picked:
        option = _option(question.options, part)
        if option not in chosen:
            chosen.append(option)
    if not chosen:
        raise AnswerProblem("empty")
    return [o for o in question.options if o in chosen]  # in the form's order


def _option(options: Sequence[str], raw: str) -> str:
    text = fold(raw)
    if text.isdigit():
        number = int(text) if len(text) < 4 else 0
        if 1 <= number <= len(options):
            return options[number - 1]
        raise AnswerProblem("option_number", count=len(options))
    for option in options:
        if fold(option) == text:
            return option
    # A unique option that the answer is the start of (「已责令」 for 「发现问题已责令改正」 is not,
    # but 「无需」 for 「无需后续处置」 is): typing less than all of it is common on a phone.
    starting = [o for o in options if fold(o).startswith(text)]
    if len(starting) == 1 and len(text) >= 2:
        return starting[0]
    raise AnswerProblem("not_an_option", answer=raw[:30], count=len(options))


def _yes_no(raw: str) -> bool:
    text = fold(raw)
    words = _words()["yesno"]
    if text in {fold(w) for w in words["yes"]} or text == "1":
        return True
    if text in {fold(w) for w in words["no"]} or text == "2":
        return False
    raise AnswerProblem("yes_or_no", answer=raw[:30])


def _number(question: Question, raw: str) -> int | str:
    text = raw.replace(" ", "")
    for unit in sorted({question.unit, *_words()["units"]} - {""}, key=len, reverse=True):
        text = text.removesuffix(unit)
    text = text.replace(",", "")
    value = _chinese_number(text) if text and not re.search(r"\d", text) else None
    if value is None:
        try:
            value = Decimal(text) if re.fullmatch(r"[+-]?\d+(\.\d+)?", text) else None
        except InvalidOperation:
            value = None
    if value is None:
        raise AnswerProblem("not_a_number", answer=raw[:30], unit=question.unit)
    if question.integer and value != value.to_integral_value():
        raise AnswerProblem("whole_number", unit=question.unit)
    low, high = question.min, question.max
    if isinstance(low, Decimal) and value < low:
        raise AnswerProblem("number_too_small", low=_show(low), unit=question.unit)
    if isinstance(high, Decimal) and value > high:
        raise AnswerProblem("number_too_big", high=_show(high), unit=question.unit)
    if question.integer:
        return int(value)
    return _show(value)


def _show(number: Decimal) -> str:
    """A decimal as people write it: no exponent, no trailing zeros after the point."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _chinese_number(text: str) -> Decimal | None:
    """A whole number in Chinese numerals below 一亿 (「三」「十二」「一百零五」「两万三千」)."""
    numerals = _words()["numerals"]
    digits, units, myriad = numerals["digits"], numerals["units"], numerals["ten_thousand"]
    total, section, digit = 0, 0, None
    if not text or any(c not in digits and c not in units and c != myriad for c in text):
        return None
    for char in text:
        if char in digits:
            if digit is not None and digit != 0:
                return None  # 「三四」: two digits in a row mean nothing here
            digit = digits[char]
        elif char in units:
            section += (1 if digit is None else digit) * units[char]
            digit = None
        else:  # ten thousand
            if total:
                return None
            total = (section + (digit or 0)) * 10000
            section, digit = 0, None
    return Decimal(total + section + (digit or 0))


_FULL_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})$")


def _date(question: Question, raw: str, context: Context) -> str:
    relative = _words()["relative_days"]
    text = fold(raw)
    if text in relative:
        day = context.today + dt.timedelta(days=int(relative[text]))
    else:
        plain = re.sub(r"\s+", "", raw)
        for mark, replacement in _words()["date_marks"].items():
            plain = plain.replace(mark, replacement)  # 2026年12月5日 → 2026-12-5
        full, short = _FULL_DATE.match(plain), _MONTH_DAY.match(plain)
        try:
            if full:
                day = dt.date(int(full[1]), int(full[2]), int(full[3]))
            elif short:
                day = dt.date(context.start.year, int(short[1]), int(short[2]))
            else:
                raise ValueError(raw)
        except ValueError as exc:
            raise AnswerProblem("not_a_date", answer=raw[:30]) from exc
    low, high = _bound(question.min, context), _bound(question.max, context)
    if low is not None and day < low:
        raise AnswerProblem("date_too_early", low=low.isoformat())
    if high is not None and day > high:
        raise AnswerProblem("date_too_late", high=high.isoformat())
    return day.isoformat()


def _bound(value: object, context: Context) -> dt.date | None:
    if value is None:
        return None
    named = {"today": context.today, "start": context.start, "end": context.end}
    return named.get(str(value)) or dt.date.fromisoformat(str(value))


def _text(question: Question, raw: str) -> str:
    limit = question.max_length or TEXT_LIMITS[question.kind]
    if len(raw) > limit:
        raise AnswerProblem("too_long", limit=limit, length=len(raw))
    if "\x00" in raw:
        raise AnswerProblem("not_text")
    return raw
