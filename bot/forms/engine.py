"""Which questions a form asks given the answers so far, and what is still missing.

Pure functions of a :class:`Form` and an answers mapping (question id → stored value: a bool
for yes/no, the option's text for a single choice, a list of them for a multiple choice, an int
or a decimal string for a number, an ISO date string, a text, or a list of photo SHA-256s).

A question is *shown* when its condition holds on the answers of the questions before it that
are themselves shown; an answer to a question not shown does not count and is dropped
(:func:`prune`), so changing an earlier answer can never leave a stale branch behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.forms.definition import Condition, Form, Question

Answers = Mapping[str, Any]


def holds(condition: Condition, answers: Answers) -> bool:
    """Whether the condition is true; a test of an unanswered question is false (except
    ``answered = false``)."""
    if condition.op == "all":
        return all(holds(p, answers) for p in condition.parts)
    if condition.op == "any":
        return any(holds(p, answers) for p in condition.parts)
    answered = condition.question in answers
    if condition.op == "answered":
        return answered is condition.value
    if not answered:
        return False
    value = answers[condition.question]
    match condition.op:
        case "is":
            return _same(value, condition.value)
        case "is_not":
            return not _same(value, condition.value)
        case "in":
            return any(_same(value, v) for v in condition.value)
        case "has":
            return isinstance(value, list) and condition.value in value
    number = _number(value)
    if number is None:
        return False
    limit = Decimal(condition.value)
    return {
        "gt": number > limit,
        "ge": number >= limit,
        "lt": number < limit,
        "le": number <= limit,
    }[condition.op]


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    left, right = _number(value), _number(expected)
    if left is not None and right is not None:
        return left == right
    return str(value) == str(expected)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


def shown(form: Form, answers: Answers) -> list[Question]:
    """The questions asked, in order, given these answers."""
    kept: dict[str, Any] = {}
    result = []
    for q in form.questions:
        if q.when is None or holds(q.when, kept):
            result.append(q)
            if q.id in answers:
                kept[q.id] = answers[q.id]
    return result


def prune(form: Form, answers: Answers) -> dict[str, Any]:
    """The answers that count: those of shown questions only."""
    return {q.id: answers[q.id] for q in shown(form, answers) if q.id in answers}


def required(question: Question, answers: Answers) -> bool:
    if not question.optional:
        return True
    return question.required_when is not None and holds(question.required_when, answers)


def missing(form: Form, answers: Answers) -> list[Question]:
    """Shown questions that must be answered and are not."""
    return [q for q in shown(form, answers) if q.id not in answers and required(q, answers)]


def number_of(form: Form, answers: Answers, question_id: str) -> int:
    """The question's number as the officer sees it (1-based among the shown questions), or 0."""
    for number, q in enumerate(shown(form, answers), 1):
        if q.id == question_id:
            return number
    return 0
