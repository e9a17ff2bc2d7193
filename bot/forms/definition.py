"""Form definitions as data: one TOML file per spot-check item, checked key by key.

Pure: text in, a frozen :class:`Form` out, or every problem found, each naming its file and
line. A definition ends with the standard result (``templates/forms/_standard.toml``): the
check date and method, the result category, the follow-up measure, the problems found and the
rectification deadline. A form's ``sha256`` covers everything it asks, so a finding that froze
a form keeps meaning what it meant when it was filled, whatever the file says later.

Conditions are declarative tables, never code: ``when = { question = "paid_in_full", is =
false }``; operators ``is``, ``is_not``, ``in`` (one of a list), ``has`` (a multiple choice
includes), ``gt``/``ge``/``lt``/``le`` (numbers), ``answered``; ``all = [...]`` / ``any =
[...]`` combine them. A condition may look only at questions asked before it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

KINDS = ("single", "multiple", "yesno", "number", "date", "text", "longtext", "photos")
CHOICE_KINDS = ("single", "multiple")
COMPARISONS = ("gt", "ge", "lt", "le")
OPERATORS = ("is", "is_not", "in", "has", "answered", *COMPARISONS)
DATE_BOUNDS = ("today", "start", "end")  # the day of filling; the campaign's first and last day
TEXT_LIMITS = {"text": 200, "longtext": 2000}
MAX_PHOTOS = 9
MAX_OPTIONS = 20  # WeCom's vote card holds 20; more would not fit a phone either
SEPARATORS = r"[,，、;；/\s]"  # what a typed multiple choice is split on
_SEPARATOR = re.compile(SEPARATORS)
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_QUESTION_KEYS = {
    "id",
    "kind",
    "text",
    "help",
    "optional",
    "options",
    "unit",
    "integer",
    "min",
    "max",
    "max_length",
    "min_count",
    "max_count",
    "when",
    "required_when",
}
_FORM_KEYS = {"item", "title", "questions"}


@dataclass(frozen=True)
class Condition:
    """When a question is asked (or required): a test of an earlier answer, or a combination."""

    op: str  # one of OPERATORS, or "all" / "any"
    question: str = ""
    value: Any = None
    parts: tuple[Condition, ...] = ()

    def questions(self) -> Iterator[str]:
        if self.question:
            yield self.question
        for part in self.parts:
            yield from part.questions()

    def to_json(self) -> dict[str, Any]:
        if self.parts:
            return {self.op: [p.to_json() for p in self.parts]}
        value = str(self.value) if isinstance(self.value, Decimal) else self.value
        return {"question": self.question, self.op: value}


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: str
    help: str = ""
    optional: bool = False
    options: tuple[str, ...] = ()
    unit: str = ""
    integer: bool = False
    min: Decimal | str | None = None  # a number, or for dates an ISO date or a DATE_BOUNDS word
    max: Decimal | str | None = None
    max_length: int = 0
    min_count: int = 0
    max_count: int = 0
    when: Condition | None = None
    required_when: Condition | None = None
    standard: bool = False  # part of the standard result every form ends with

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "text": self.text}
        for name in ("help", "optional", "options", "unit", "integer", "max_length"):
            value = getattr(self, name)
            if value:
                data[name] = list(value) if isinstance(value, tuple) else value
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None:
                data[name] = str(value)
        if self.kind == "photos":
            data["min_count"], data["max_count"] = self.min_count, self.max_count
        for name in ("when", "required_when"):
            condition = getattr(self, name)
            if condition is not None:
                data[name] = condition.to_json()
        if self.standard:
            data["standard"] = True
        return data


@dataclass(frozen=True)
class Form:
    item: str
    title: str
    questions: tuple[Question, ...]
    sha256: str = field(default="", compare=False)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "title": self.title,
            "questions": [q.to_json() for q in self.questions],
        }

    def canonical(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition; ``key`` names its message in templates/text/forms."""

    file: str
    line: int
    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


class FormError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in form definitions")
        self.problems = list(problems)


class TomlLines:
    """Where things stand in a TOML text, for problems that name a line (tomllib keeps no
    positions): the n-th ``[[array]]`` header, a key inside that block (or before the first),
    and a value written under a key."""

    def __init__(self, source: str, array: str = "questions") -> None:
        self.lines = source.splitlines()
        header = re.compile(rf"^\s*\[\[\s*{re.escape(array)}\s*\]\]")
        self.headers = [i + 1 for i, line in enumerate(self.lines) if header.match(line)]

    def table(self, index: int) -> int:
        return self.headers[index] if index < len(self.headers) else 1

    def _block(self, index: int | None) -> tuple[int, int]:
        if index is None:
            return 0, self.headers[0] - 1 if self.headers else len(self.lines)
        end = self.headers[index + 1] - 1 if index + 1 < len(self.headers) else len(self.lines)
        return self.table(index), end

    def key(self, index: int | None, key: str) -> int:
        start, end = self._block(index)
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number in range(start, end):
            if pattern.match(self.lines[number]):
                return number + 1
        return start if index is not None else 1

    def value(self, index: int | None, key: str, written: str) -> int:
        """The line where ``written`` first stands from ``key`` on (an array may span lines)."""
        line = self.key(index, key)
        _, end = self._block(index)
        for number in range(line - 1, end):
            if written in self.lines[number].split("#", 1)[0]:
                return number + 1
        return line


def parse_form(source: str, file: str, *, standard: Sequence[Question] = ()) -> Form:
    """The form a definition file describes, with ``standard`` appended; FormError lists
    every problem (file and line) if there are any."""
    lines = TomlLines(source)
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        line = toml_line(str(exc))
        raise FormError([Problem(file, line, "bad_toml", {"reason": str(exc)})]) from exc
    problems: list[Problem] = []

    def problem(index: int | None, at_key: str, message: str, **values: Any) -> None:
        line = lines.table(index) if index is not None and not at_key else lines.key(index, at_key)
        problems.append(Problem(file, line, message, values))

    for key in sorted(set(data) - _FORM_KEYS):
        problem(None, key, "unknown_form_key", key=key)
    item = data.get("item")
    if not isinstance(item, str) or not item.strip():
        problem(None, "item", "no_item")
        item = ""
    title = data.get("title", "")
    if not isinstance(title, str) or not title.strip():
        problem(None, "title", "no_title")
        title = ""
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problem(None, "questions", "no_questions")
        raw_questions = []
    parsed = [(i, _question(raw, i, problem)) for i, raw in enumerate(raw_questions)]
    indexed: list[tuple[int | None, Question]] = [(i, q) for i, q in parsed if q is not None]
    found = [q for _, q in indexed]
    _check_ids_and_conditions([*indexed, *((None, q) for q in standard)], problem)
    if problems:
        raise FormError(problems)
    return seal(Form(item.strip(), title.strip(), (*found, *standard)))


def parse_standard(source: str, file: str) -> tuple[Question, ...]:
    """The standard result's questions (a definition file of its own), marked as such."""
    return tuple(replace(q, standard=True) for q in parse_form(source, file).questions)


def seal(form: Form) -> Form:
    return replace(form, sha256=hashlib.sha256(form.canonical().encode("utf-8")).hexdigest())


def form_from_json(data: Mapping[str, Any]) -> Form:
    """A form frozen into a finding, read back exactly as it was."""
    questions = tuple(_question_from_json(q) for q in data["questions"])
    return seal(Form(data["item"], data["title"], questions))


def _question_from_json(data: Mapping[str, Any]) -> Question:
    kind = data["kind"]
    bounds = {
        name: (Decimal(data[name]) if kind == "number" else data[name])
        for name in ("min", "max")
        if name in data
    }
    return Question(
        data["id"],
        kind,
        data["text"],
        help=data.get("help", ""),
        optional=data.get("optional", False),
        options=tuple(data.get("options", ())),
        unit=data.get("unit", ""),
        integer=data.get("integer", False),
        max_length=data.get("max_length", 0),
        min_count=data.get("min_count", 0),
        max_count=data.get("max_count", 0),
        when=_condition_from_json(data["when"]) if "when" in data else None,
        required_when=(
            _condition_from_json(data["required_when"]) if "required_when" in data else None
        ),
        standard=data.get("standard", False),
        **bounds,
    )


def _condition_from_json(data: Mapping[str, Any]) -> Condition:
    for op in ("all", "any"):
        if op in data:
            return Condition(op, parts=tuple(_condition_from_json(p) for p in data[op]))
    (op,) = (k for k in data if k != "question")
    value = data[op]
    if op in COMPARISONS:
        value = Decimal(value)
    return Condition(op, data["question"], value)


def toml_line(message: str) -> int:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else 1


Report = Any  # the ``problem`` callback of parse_form


def _question(raw: Any, index: int, problem: Report) -> Question | None:
    if not isinstance(raw, dict):
        problem(index, "", "not_a_question")
        return None
    for key in sorted(set(raw) - _QUESTION_KEYS):
        problem(index, key, "unknown_question_key", key=key)
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        problem(index, "id", "bad_id", id=str(qid) if qid is not None else "")
        qid = f"#{index + 1}"
    kind = raw.get("kind")
    if kind not in KINDS:
        problem(index, "kind", "unknown_kind", id=qid, kind=str(kind), kinds=list(KINDS))
        return None
    wording = raw.get("text")
    if not isinstance(wording, str) or not wording.strip():
        problem(index, "text", "no_text", id=qid)
        wording = ""
    for key in ("help", "unit"):
        if key in raw and not isinstance(raw[key], str):
            problem(index, key, "not_text", id=qid, key=key)
    for key in ("optional", "integer"):
        if key in raw and not isinstance(raw[key], bool):
            problem(index, key, "not_bool", id=qid, key=key)
    question = Question(
        qid,
        kind,
        wording.strip() if isinstance(wording, str) else "",
        help=str(raw.get("help", "")).strip(),
        optional=raw.get("optional") is True,
        unit=str(raw.get("unit", "")).strip(),
        integer=raw.get("integer") is True,
    )
    question = _kind_details(question, raw, index, problem)
    if "when" in raw:
        question = replace(question, when=_condition(raw["when"], index, "when", problem, qid))
    if "required_when" in raw:
        condition = _condition(raw["required_when"], index, "required_when", problem, qid)
        question = replace(question, required_when=condition)
    return question


def _kind_details(q: Question, raw: dict[str, Any], index: int, problem: Report) -> Question:
    allowed = {
        "single": {"options"},
        "multiple": {"options"},
        "number": {"unit", "integer", "min", "max"},
        "date": {"min", "max"},
        "text": {"max_length"},
        "longtext": {"max_length"},
        "photos": {"min_count", "max_count"},
        "yesno": set(),
    }[q.kind]
    for key in ("options", "unit", "integer", "min", "max", "max_length", "min_count", "max_count"):
        if key in raw and key not in allowed:
            problem(index, key, "key_not_for_kind", id=q.id, key=key, kind=q.kind)
    if q.kind in CHOICE_KINDS:
        options = raw.get("options")
        if not isinstance(options, list) or not options:
            problem(index, "options", "no_options", id=q.id)
            return q
        texts = [o.strip() for o in options if isinstance(o, str) and o.strip()]
        if len(texts) != len(options):
            problem(index, "options", "bad_option", id=q.id)
        if len(set(texts)) != len(texts):
            problem(index, "options", "duplicate_option", id=q.id)
        if len(texts) > MAX_OPTIONS:
            problem(index, "options", "too_many_options", id=q.id, limit=MAX_OPTIONS)
        if q.kind == "multiple" and any(_SEPARATOR.search(t) for t in texts):
            # Several options are typed apart by these: one holding them could not be typed.
            problem(index, "options", "option_separator", id=q.id)
        return replace(q, options=tuple(texts))
    if q.kind == "number":
        bounds = {k: _decimal(raw[k]) for k in ("min", "max") if k in raw}
        for key, value in bounds.items():
            if value is None:
                problem(index, key, "bad_bound", id=q.id, key=key)
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and high is not None and low > high:
            problem(index, "min", "min_over_max", id=q.id)
        return replace(q, min=low, max=high)
    if q.kind == "date":
        bounds_text = {k: raw[k] for k in ("min", "max") if k in raw}
        for key, value in bounds_text.items():
            if not _date_bound(value):
                problem(index, key, "bad_date_bound", id=q.id, key=key, words=list(DATE_BOUNDS))
        return replace(q, min=bounds_text.get("min"), max=bounds_text.get("max"))
    if q.kind in TEXT_LIMITS:
        limit = raw.get("max_length", TEXT_LIMITS[q.kind])
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10000:
            problem(index, "max_length", "bad_length", id=q.id)
            limit = TEXT_LIMITS[q.kind]
        return replace(q, max_length=limit)
    if q.kind == "photos":
        low, high = raw.get("min_count", 0 if q.optional else 1), raw.get("max_count", MAX_PHOTOS)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            problem(index, "min_count", "bad_count", id=q.id, limit=MAX_PHOTOS)
            return q
        if not 0 <= low <= high <= MAX_PHOTOS or high == 0:
            problem(index, "min_count", "bad_count", id=q.id, limit=MAX_PHOTOS)
        return replace(q, min_count=low, max_count=high)
    return q


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date_bound(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value in DATE_BOUNDS:
        return True
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def _condition(raw: Any, index: int, key: str, problem: Report, qid: str) -> Condition | None:
    if not isinstance(raw, dict) or not raw:
        problem(index, key, "bad_condition", id=qid)
        return None
    for combine in ("all", "any"):
        if combine in raw:
            parts = raw[combine]
            if set(raw) != {combine} or not isinstance(parts, list) or not parts:
                problem(index, key, "bad_condition", id=qid)
                return None
            found = [_condition(p, index, key, problem, qid) for p in parts]
            if any(p is None for p in found):
                return None
            return Condition(combine, parts=tuple(p for p in found if p is not None))
    ops = [k for k in raw if k != "question"]
    target = raw.get("question")
    if not isinstance(target, str) or len(ops) != 1 or ops[0] not in OPERATORS:
        problem(index, key, "bad_condition", id=qid)
        return None
    op, value = ops[0], raw[ops[0]]
    if op in COMPARISONS:
        number = _decimal(value)
        if number is None:
            problem(index, key, "bad_condition", id=qid)
            return None
        value = number
    if op == "in" and not (isinstance(value, list) and value):
        problem(index, key, "bad_condition", id=qid)
        return None
    if op == "answered" and not isinstance(value, bool):
        problem(index, key, "bad_condition", id=qid)
        return None
    return Condition(op, target, value)


def _check_ids_and_conditions(
    questions: Sequence[tuple[int | None, Question]], problem: Report
) -> None:
    """Ids unique; each condition names an earlier question, with an operator and values
    that fit its kind. Each question comes with its index in the file; the standard part's
    have none, and a problem there is reported on the form's first line (it comes from a
    question id the form reuses)."""
    seen: dict[str, Question] = {}
    for position, (at, q) in enumerate(questions):
        if q.id in seen:
            problem(at, "id" if at is not None else "", "duplicate_id", id=q.id)
            continue
        for key in ("when", "required_when"):
            condition = getattr(q, key)
            if condition is None:
                continue
            for target in condition.questions():
                if target not in seen:
                    later = any(other.id == target for _, other in questions[position:])
                    message = "condition_on_later" if later else "condition_on_missing"
                    problem(at, key, message, id=q.id, target=target)
            report = functools.partial(problem, at, key, id=q.id)
            _check_fit(condition, seen, report)
        seen[q.id] = q


def _check_fit(condition: Condition, seen: Mapping[str, Question], report: Any) -> None:
    for part in condition.parts:
        _check_fit(part, seen, report)
    target = seen.get(condition.question)
    if target is None or condition.parts:
        return
    op, value, kind = condition.op, condition.value, target.kind
    fits = {
        "is": kind in ("yesno", "single", "number", "date", "text"),
        "is_not": kind in ("yesno", "single", "number", "date", "text"),
        "in": kind == "single",
        "has": kind == "multiple",
        "answered": True,
    }.get(op, kind == "number")
    if not fits:
        report("condition_kind", op=op, target=target.id, kind=kind)
        return
    if kind == "yesno" and op in ("is", "is_not") and not isinstance(value, bool):
        report("condition_yesno", target=target.id)
    values = value if op == "in" else [value] if op in ("is", "is_not", "has") else []
    if kind in CHOICE_KINDS:
        for v in values:
            if v not in target.options:
                report("condition_option", target=target.id, value=str(v))
