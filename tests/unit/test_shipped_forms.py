"""The findings forms suiji ships (templates/forms/): one for every sample spot-check item, each
with a branch and an evidence-photos question, fit for a phone, and every branch opening on its
triggering answer and staying shut otherwise — driven through the draft's moves with answers
typed as an officer types them, so what is proved is what the officer meets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from bot.forms import catalog, session
from bot.forms.answers import Context, parse
from bot.forms.definition import Condition, Form, Question
from bot.forms.engine import shown
from tests.helpers import SAMPLE_DIR, read_csv
from tests.unit.test_forms import FillingAForm

CONTEXT = Context(
    today=dt.date(2026, 12, 10), start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31)
)
ITEMS = {row[0]: row[1] for row in read_csv(SAMPLE_DIR / "items.csv")[1:]}  # code → name
FORMS = {code: form for code in catalog.codes() if (form := catalog.find(code)) is not None}
BRANCHES = [
    pytest.param(code, q.id, id=f"{code}:{q.id}")
    for code, form in FORMS.items()
    for q in form.questions
    if q.when is not None and not q.standard  # the standard result's are tested once, elsewhere
]
PHONE_TEXT = 40  # characters of a question's text; detail belongs in its help
SKIP = object()  # a planned 「跳过」


def own(form: Form) -> list[Question]:
    return [q for q in form.questions if not q.standard]


# --- what ships ------------------------------------------------------------------------------


def test_every_sample_item_has_a_form() -> None:
    assert sorted(ITEMS) == sorted(FORMS)


@pytest.mark.parametrize("code", sorted(ITEMS))
def test_each_form_is_titled_after_its_item(code: str) -> None:
    assert code in FORMS
    assert FORMS[code].title == ITEMS[code] + "检查记录"


@pytest.mark.parametrize("code", sorted(ITEMS))
def test_each_form_has_a_branch_and_always_asks_for_evidence_photos(code: str) -> None:
    assert code in FORMS
    questions = own(FORMS[code])
    assert any(q.when is not None for q in questions)
    # Asked of every visit; optional while photos cannot yet be sent in chat (a required
    # photo question would leave every form unsubmittable there).
    assert any(q.kind == "photos" and q.when is None and q.max_count >= 1 for q in questions)


@pytest.mark.parametrize("code", sorted(FORMS))
def test_each_question_fits_a_phone(code: str) -> None:
    for q in own(FORMS[code]):
        assert len(q.text) <= PHONE_TEXT, q.id


@pytest.mark.parametrize("code", sorted(FORMS))
def test_every_option_can_be_typed_in_its_own_words(code: str) -> None:
    # A multiple choice is split at blanks, commas and 「、」: an option holding one could only
    # be picked by its number.
    for q in own(FORMS[code]):
        for option in q.options:
            expected = [option] if q.kind == "multiple" else option
            assert parse(q, option, CONTEXT) == expected, (q.id, option)


# --- branches, driven through the draft ------------------------------------------------------


def leaves(condition: Condition) -> Iterator[Condition]:
    if condition.parts:
        for part in condition.parts:
            yield from leaves(part)
    else:
        yield condition


def mentioned(condition: Condition, question_id: str) -> set[Any]:
    """Every value the condition names for one question: a closing answer avoids them all."""
    found: set[Any] = set()
    for leaf in leaves(condition):
        if leaf.question == question_id and leaf.op in ("is", "is_not", "has", "in"):
            found |= set(leaf.value) if leaf.op == "in" else {leaf.value}
    return found


def other_option(q: Question, avoid: set[Any]) -> str:
    return next(o for o in q.options if o not in avoid)


def holding(form: Form, c: Condition) -> dict[str, Any]:
    """Answers under which the condition holds."""
    if c.op == "all":
        return {k: v for part in c.parts for k, v in holding(form, part).items()}
    if c.op == "any":
        return holding(form, c.parts[0])
    q = form.question(c.question)
    match c.op:
        case "is":
            return {q.id: c.value}
        case "is_not":
            return failing(form, replace(c, op="is"), c)
        case "in":
            return {q.id: c.value[0]}
        case "has":
            return {q.id: [c.value]}
        case "answered":
            return {q.id: ordinary(q) if c.value else SKIP}
    return {q.id: c.value + {"gt": 1, "ge": 0, "lt": -1, "le": 0}[c.op]}


def failing(form: Form, c: Condition, whole: Condition) -> dict[str, Any]:
    """Answers to the same questions under which the condition does not hold (``whole``: the
    condition it is part of, whose values a changed choice must avoid)."""
    if c.op == "all":  # its first part fails, the others still hold
        first, *rest = c.parts
        return {
            **{k: v for part in rest for k, v in holding(form, part).items()},
            **failing(form, first, whole),
        }
    if c.op == "any":
        return {k: v for part in c.parts for k, v in failing(form, part, whole).items()}
    q = form.question(c.question)
    match (c.op, q.kind):
        case ("is_not", _):
            return holding(form, replace(c, op="is"))
        case ("is", "yesno"):
            return {q.id: not c.value}
        case ("is", "single") | ("in", "single"):
            return {q.id: other_option(q, mentioned(whole, q.id))}
        case ("has", _):
            return {q.id: [other_option(q, mentioned(whole, q.id))]}
        case ("answered", _):
            return {q.id: SKIP if c.value else ordinary(q)}
        case ("is", "number"):
            return {q.id: Decimal(c.value) + 1}
    return {q.id: c.value + {"gt": 0, "ge": -1, "lt": 0, "le": 1}[c.op]}


def with_ancestors(form: Form, plan: Mapping[str, Any]) -> dict[str, Any]:
    """The plan, plus answers that make each planned question shown (and so on up)."""
    full = dict(plan)
    pending = list(plan)
    while pending:
        q = form.question(pending.pop())
        if q.when is None:
            continue
        for target, value in holding(form, q.when).items():
            if target not in full:
                full[target] = value
                pending.append(target)
    return full


def ordinary(q: Question) -> Any:
    """An answer that opens nothing in particular: yes, the first option, the least number."""
    match q.kind:
        case "yesno":
            return True
        case "single":
            return q.options[0]
        case "multiple":
            return [q.options[0]]
        case "number":
            return q.min if q.min is not None else 1
        case "date":
            return "今天"
    return "无"


def typed(q: Question, value: Any) -> str:
    """An answer as an officer types it: 是/否, option numbers, a number with its unit."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if q.kind == "single":
        return str(q.options.index(value) + 1)
    if q.kind == "multiple":
        return "、".join(str(q.options.index(v) + 1) for v in value)
    if q.kind == "number":
        return f"{value}{q.unit}"
    return str(value)


def fill(form: Form, plan: Mapping[str, Any]) -> tuple[list[str], session.Shown]:
    """Answer every question the draft asks, the planned answer where there is one and an
    ordinary one elsewhere, photos by sending them; the questions asked, and the review."""
    now = session.start(form)
    asked: list[str] = []
    while (q := now.question) is not None:
        assert q.id not in asked, f"{q.id} asked twice"
        asked.append(q.id)
        planned = plan.get(q.id)
        if planned is SKIP:
            now = session.skip(form, now.draft)
            assert now.note != "cannot_skip", q.id
        elif q.kind == "photos":
            for n in range(max(q.min_count, 1)):
                now = session.add_photo(form, now.draft, q.id, f"{n:064x}")
            if now.question is not None and now.question.id == q.id:
                now = session.photos_done(form, now.draft)
        else:
            answer = typed(q, ordinary(q) if planned is None else planned)
            now = session.answer(form, now.draft, parse(q, answer, CONTEXT))
    return asked, now


def branch(code: str, question_id: str) -> tuple[Form, Condition]:
    form = FORMS[code]
    condition = form.question(question_id).when
    assert condition is not None
    return form, condition


def opened(code: str, question_id: str) -> tuple[Form, Condition, session.Shown]:
    """The form filled with the branch's triggering answers: it was asked, and the form submits."""
    form, condition = branch(code, question_id)
    asked, end = fill(form, with_ancestors(form, holding(form, condition)))
    assert question_id in asked
    assert session.submit(form, end.draft).submitted
    return form, condition, end


@pytest.mark.parametrize(("code", "question_id"), BRANCHES)
def test_a_branch_opens_on_its_triggering_answer(code: str, question_id: str) -> None:
    form, _, end = opened(code, question_id)
    assert question_id in end.draft.answers or form.question(question_id).optional


@pytest.mark.parametrize(("code", "question_id"), BRANCHES)
def test_a_branch_stays_shut_on_any_other_answer(code: str, question_id: str) -> None:
    form, condition = branch(code, question_id)
    closing = failing(form, condition, condition)
    asked, end = fill(form, with_ancestors(form, closing))
    assert set(closing) <= set(asked)  # the trigger was asked, and answered otherwise
    assert question_id not in asked
    assert session.submit(form, end.draft).submitted


@pytest.mark.parametrize(("code", "question_id"), BRANCHES)
def test_a_branch_closes_and_drops_its_answer_when_the_trigger_is_changed(
    code: str, question_id: str
) -> None:
    form, condition, now = opened(code, question_id)
    for target, value in failing(form, condition, condition).items():
        ids = [q.id for q in shown(form, now.draft.answers)]
        if target not in ids:
            continue  # an earlier change hid it already
        now = session.edit(form, now.draft, ids.index(target) + 1)
        q = form.question(target)
        if value is SKIP:
            now = session.skip(form, now.draft)
        else:
            now = session.answer(form, now.draft, parse(q, typed(q, value), CONTEXT))
    assert question_id not in [q.id for q in shown(form, now.draft.answers)]
    assert question_id not in now.draft.answers


# --- random moves over every shipped form ----------------------------------------------------


class FillingAnyShippedForm(FillingAForm):
    """The state machine of test_forms (random answers good and bad, back, skip, edit, keep,
    photos, pause and resume, submit; its invariants), over each shipped form's branches."""

    @initialize(code=st.sampled_from(sorted(FORMS)))
    def choose_a_form(self, code: str) -> None:
        self.form = FORMS[code]
        self.now = session.start(self.form)
        self.accepted = {}


FillingAnyShippedForm.TestCase.settings = settings(
    max_examples=100, stateful_step_count=60, deadline=None
)
test_filling_any_shipped_form = FillingAnyShippedForm.TestCase
