"""The form engine: definitions and their checks, conditions, reading answers, and the draft's
moves — pure, no database or chat."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bot.base.texts import text
from bot.forms import catalog, session
from bot.forms.answers import AnswerProblem, Context, parse
from bot.forms.definition import Form, FormError, form_from_json, parse_form
from bot.forms.engine import holds, missing, prune, required, shown

CONTEXT = Context(
    today=dt.date(2026, 12, 10), start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31)
)
WAGES = catalog.find("RS-JC-003")
assert WAGES is not None


def problems(source: str) -> list[tuple[int, str]]:
    with pytest.raises(FormError) as caught:
        parse_form(source, "x.toml", standard=catalog.standard())
    return [(p.line, p.key) for p in caught.value.problems]


# --- definitions -----------------------------------------------------------------------------


def test_every_shipped_definition_is_valid_and_named_by_its_item() -> None:
    assert catalog.check(catalog.SHIPPED) == []
    assert "RS-JC-003" in catalog.codes()


def test_every_form_ends_with_the_standard_result() -> None:
    ids = [q.id for q in WAGES.questions]
    assert ids[-6:] == [
        "checked_on",
        "check_method",
        "result_category",
        "measure",
        "problems",
        "rectify_by",
    ]
    assert all(q.standard for q in WAGES.questions[-6:])
    assert not any(q.standard for q in WAGES.questions[:-6])


def test_a_definitions_problems_name_their_lines() -> None:
    source = """item = "RS-JC-099"
title = "t"

[[questions]]
id = "a"
kind = "essay"
text = "?"

[[questions]]
id = "b"
kind = "single"
text = "?"

[[questions]]
id = "c"
kind = "yesno"
text = "?"
when = { question = "d", is = true }

[[questions]]
id = "d"
kind = "yesno"
text = "?"

[[questions]]
id = "d"
kind = "number"
text = "?"
min = 5
max = 1
"""
    found = problems(source)
    assert (6, "unknown_kind") in found
    assert (9, "no_options") in found  # a choice without options: its block's header line
    assert (18, "condition_on_later") in found
    assert (26, "duplicate_id") in found
    assert (29, "min_over_max") in found


def test_a_condition_on_a_missing_question_or_an_unknown_option_is_found() -> None:
    source = """item = "X"
title = "t"
[[questions]]
id = "a"
kind = "single"
text = "?"
options = ["甲", "乙"]
[[questions]]
id = "b"
kind = "text"
text = "?"
when = { question = "a", is = "丙" }
[[questions]]
id = "c"
kind = "text"
text = "?"
when = { question = "zz", answered = true }
[[questions]]
id = "e"
kind = "text"
text = "?"
when = { question = "a", gt = 3 }
"""
    found = [key for _, key in problems(source)]
    assert {"condition_option", "condition_on_missing", "condition_kind"} <= set(found)


def test_a_form_may_not_reuse_a_standard_question_id() -> None:
    source = 'item = "X"\ntitle = "t"\n[[questions]]\nid = "measure"\nkind = "text"\ntext = "?"\n'
    assert ("duplicate_id") in [key for _, key in problems(source)]


def test_bad_toml_names_its_line() -> None:
    assert problems('item = "X"\ntitle = \n') == [(2, "bad_toml")]


def test_every_problem_has_a_chinese_message() -> None:
    source = (
        'item = "X"\ntitle = "t"\nfoo = 1\n[[questions]]\nid = "A b"\nkind = "text"\ntext = ""\n'
    )
    with pytest.raises(FormError) as caught:
        parse_form(source, "x.toml")
    for p in caught.value.problems:
        assert text(f"forms.{p.key}", **p.values)


def test_a_frozen_form_reads_back_the_same_with_the_same_hash() -> None:
    again = form_from_json(json.loads(WAGES.canonical()))
    assert again == WAGES and again.sha256 == WAGES.sha256


def test_a_site_form_wins_over_the_shipped_one(tmp_path: Path) -> None:
    shipped = (catalog.SHIPPED / "RS-JC-003.toml").read_text("utf-8")
    (tmp_path / "RS-JC-003.toml").write_text(shipped.replace("工资支付情况检查记录", "本地表"))
    site = catalog.find("RS-JC-003", tmp_path)
    assert site is not None and site.title == "本地表" and site.sha256 != WAGES.sha256


def test_a_file_named_for_another_item_is_refused(tmp_path: Path) -> None:
    shipped = (catalog.SHIPPED / "RS-JC-003.toml").read_text("utf-8")
    (tmp_path / "RS-JC-004.toml").write_text(shipped)
    assert [p.key for p in catalog.check(tmp_path)] == ["item_mismatch"]


# --- conditions ------------------------------------------------------------------------------


def test_a_branch_is_shown_only_while_its_condition_holds() -> None:
    ids = [q.id for q in shown(WAGES, {"paid_in_full": True})]
    assert "owed_people" not in ids
    ids = [q.id for q in shown(WAGES, {"paid_in_full": False})]
    assert {"owed_people", "owed_amount", "owed_months"} <= set(ids)


def test_answers_of_a_hidden_branch_are_dropped() -> None:
    answers = {"paid_in_full": True, "owed_people": 3}
    assert prune(WAGES, answers) == {"paid_in_full": True}


def test_the_problems_text_is_required_only_for_a_problem_category() -> None:
    problems_q = WAGES.question("problems")
    assert not required(problems_q, {"result_category": "未发现问题"})
    assert required(problems_q, {"result_category": "发现问题待后续处理"})


def test_conditions_compare_numbers_and_choices() -> None:
    form = parse_form(
        """item = "X"
title = "t"
[[questions]]
id = "n"
kind = "number"
text = "?"
[[questions]]
id = "m"
kind = "multiple"
text = "?"
options = ["甲", "乙"]
[[questions]]
id = "big"
kind = "text"
text = "?"
when = { all = [{ question = "n", ge = 10 }, { question = "m", has = "乙" }] }
""",
        "x.toml",
    )
    big = form.question("big")
    assert big.when is not None
    assert holds(big.when, {"n": 10, "m": ["乙"]})
    assert not holds(big.when, {"n": "9.5", "m": ["乙"]})
    assert not holds(big.when, {"n": 12})


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "typed", "value"),
    [
        ("paid_in_full", "否", False),
        ("paid_in_full", "没有。", False),
        ("paid_in_full", "是的", True),
        ("paid_in_full", "1", True),
        ("owed_people", "3人", 3),
        ("owed_people", "三", 3),
        ("owed_people", "一百零五", 105),
        ("owed_people", " 1,200 ", 1200),
        ("owed_amount", "12345.60元", "12345.6"),
        ("pay_cycle", "1", "按月支付"),
        ("pay_cycle", "按月支付", "按月支付"),
        ("pay_cycle", "未约定", "未约定或不固定"),
        ("migrant_measures", "1、3", ["开设农民工工资专用账户", "总包代发工资"]),
        ("migrant_measures", "3 1 3", ["开设农民工工资专用账户", "总包代发工资"]),
        ("checked_on", "12月5日", "2026-12-05"),
        ("checked_on", "2026年12月5日", "2026-12-05"),
        ("checked_on", "2026/12/5", "2026-12-05"),
        ("checked_on", "今天", "2026-12-10"),
        ("checked_on", "昨天", "2026-12-09"),
    ],
)
def test_answers_are_read_as_people_type_them(question: str, typed: str, value: Any) -> None:
    assert parse(WAGES.question(question), typed, CONTEXT) == value


@pytest.mark.parametrize(
    ("question", "typed", "reason"),
    [
        ("paid_in_full", "也许", "yes_or_no"),
        ("owed_people", "0", "number_too_small"),
        ("owed_people", "2.5", "whole_number"),
        ("owed_people", "三四个", "not_a_number"),
        ("owed_people", "约3人", "not_a_number"),
        ("pay_cycle", "9", "option_number"),
        ("pay_cycle", "年薪", "not_an_option"),
        ("checked_on", "明天", "date_too_late"),
        ("checked_on", "11月30日", "date_too_early"),
        ("checked_on", "12月32日", "not_a_date"),
        ("checked_on", "下周", "not_a_date"),
        ("owed_people", "   ", "empty"),
    ],
)
def test_a_bad_answer_names_its_reason(question: str, typed: str, reason: str) -> None:
    with pytest.raises(AnswerProblem) as caught:
        parse(WAGES.question(question), typed, CONTEXT)
    assert caught.value.key == reason
    assert text(f"forms.{reason}", **caught.value.values)


def test_a_long_answer_over_its_cap_is_refused_with_the_count() -> None:
    with pytest.raises(AnswerProblem) as caught:
        parse(WAGES.question("problems"), "字" * 2001, CONTEXT)
    assert caught.value.values == {"limit": 2000, "length": 2001}


# --- the draft's moves -----------------------------------------------------------------------


def walk(form: Form, *moves: tuple[str, Any]) -> session.Shown:
    shown_now = session.start(form)
    for move, arg in moves:
        draft = shown_now.draft
        if move == "answer":
            assert shown_now.question is not None
            value = parse(shown_now.question, arg, CONTEXT) if isinstance(arg, str) else arg
            shown_now = session.answer(form, draft, value)
        elif move == "edit":
            shown_now = session.edit(form, draft, arg)
        else:
            shown_now = getattr(session, move)(form, draft)
    return shown_now


def test_a_branch_is_asked_after_its_condition_is_met() -> None:
    now = walk(WAGES, ("answer", "12"), ("answer", "是"), ("answer", "1"), ("answer", "否"))
    assert now.question is not None and now.question.id == "owed_people"


def test_back_then_a_changed_answer_drops_the_branch() -> None:
    now = walk(
        WAGES,
        ("answer", "12"),
        ("answer", "是"),
        ("answer", "1"),
        ("answer", "否"),
        ("answer", "3"),
        ("back", None),
        ("back", None),
    )
    assert now.question is not None and now.question.id == "paid_in_full"
    now = session.answer(WAGES, now.draft, True)
    assert "owed_people" not in now.draft.answers
    assert now.question is not None and now.question.id == "payslip"


def test_skip_is_for_optional_questions_only() -> None:
    now = walk(WAGES, ("skip", None))
    assert now.note == "cannot_skip" and now.question is not None
    assert now.question.id == "employees"


def test_edit_asks_again_what_depends_on_the_changed_answer() -> None:
    now = walk(
        WAGES,
        ("answer", "12"),
        ("answer", "是"),
        ("answer", "1"),
        ("answer", "否"),
        ("answer", "3"),
        ("answer", "500"),
        ("answer", "2"),
        ("answer", "是"),
        ("answer", "否"),
    )
    assert now.question is not None and now.question.id == "evidence"
    # 修改 the pay cycle: nothing depends on it, so back to where the draft stood.
    number = [q.id for q in shown(WAGES, now.draft.answers)].index("pay_cycle") + 1
    now = session.edit(WAGES, now.draft, number)
    assert now.question is not None and now.question.id == "pay_cycle"
    now = session.answer(WAGES, now.draft, "按周、日或小时支付")
    assert now.question is not None and now.question.id == "evidence"


def test_edit_of_a_number_rechecks_its_dependents_and_keep_keeps_them() -> None:
    form = parse_form(
        """item = "X"
title = "t"
[[questions]]
id = "n"
kind = "number"
text = "?"
[[questions]]
id = "detail"
kind = "text"
text = "?"
when = { question = "n", gt = 0 }
[[questions]]
id = "last"
kind = "text"
text = "?"
""",
        "x.toml",
    )
    now = walk(form, ("answer", "3"), ("answer", "三个人"), ("answer", "完"))
    assert now.question is None  # the review
    now = session.edit(form, now.draft, 1)
    now = session.answer(form, now.draft, 5)
    assert now.question is not None and now.question.id == "detail"  # asked again
    now = session.keep(form, now.draft)
    assert now.question is None and now.draft.answers["detail"] == "三个人"


def test_submit_lists_what_is_missing_and_asks_the_first() -> None:
    now = walk(WAGES, ("answer", "12"))
    now = session.submit(WAGES, now.draft)
    assert not now.submitted and now.note == "missing"
    assert now.question is not None and now.question.id == "payroll_kept"
    assert {q.id for q in now.missing} >= {"payroll_kept", "checked_on", "result_category"}


def test_photos_move_on_when_full_or_done() -> None:
    form = parse_form(
        'item = "X"\ntitle = "t"\n[[questions]]\nid = "p"\nkind = "photos"\ntext = "?"\n'
        'min_count = 1\nmax_count = 2\n[[questions]]\nid = "z"\nkind = "text"\ntext = "?"\n',
        "x.toml",
    )
    now = session.start(form)
    assert session.photos_done(form, now.draft).note == "photos_short"
    now = session.add_photo(form, now.draft, "p", "a" * 64)
    assert now.question is not None and now.question.id == "p" and now.note == "photo_added"
    assert session.add_photo(form, now.draft, "p", "a" * 64).note == "photo_known"
    done = session.photos_done(form, now.draft)
    assert done.question is not None and done.question.id == "z"
    full = session.add_photo(form, now.draft, "p", "b" * 64)
    assert full.question is not None and full.question.id == "z"
    assert full.draft.answers["p"] == ["a" * 64, "b" * 64]


def test_a_draft_survives_its_json_round_trip() -> None:
    now = walk(WAGES, ("answer", "12"), ("answer", "否"), ("back", None))
    assert session.Draft.from_json(json.loads(json.dumps(now.draft.to_json()))) == now.draft


# --- a state machine: random moves, restarts and edits ---------------------------------------

TYPED = {
    "yesno": st.sampled_from(["是", "否", "也许"]),
    "single": st.sampled_from(["1", "2", "3", "9", "其他"]),
    "multiple": st.sampled_from(["1", "1、2", "2 3", "7"]),
    "number": st.sampled_from(["0", "3", "12人", "2.5", "三", "abc", "1000"]),
    "date": st.sampled_from(["12月5日", "今天", "明天", "2026-11-01", "x"]),
    "text": st.sampled_from(["好", "", "x" * 300]),
    "longtext": st.sampled_from(["有问题", "x" * 2100]),
}


class FillingAForm(RuleBasedStateMachine):
    """Random answers (good and bad), back, skip, edit, keep, photos, pause and resume (the
    draft stored as JSON and read back, as a restart does), and submit. Invariants: the draft
    holds exactly what the accepted answers say (replayed on a model), no answer of a question
    not shown survives, and a submission leaves no required question empty."""

    def __init__(self) -> None:
        super().__init__()
        self.form = WAGES
        self.now = session.start(self.form)
        self.accepted: dict[str, Any] = {}
        self.submitted: session.Shown | None = None

    def _moved(self, shown_now: session.Shown) -> None:
        self.now = shown_now
        self.accepted = prune(self.form, self.accepted)

    @precondition(lambda self: self.now.question is not None and self.submitted is None)
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        q = self.now.question
        assert q is not None
        if q.kind == "photos":
            sha = data.draw(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])) * 64
            before = list(self.now.draft.answers.get(q.id, []))
            self._moved(session.add_photo(self.form, self.now.draft, q.id, sha))
            if sha not in before and len(before) < q.max_count:
                self.accepted[q.id] = [*before, sha]
            return
        typed = data.draw(TYPED[q.kind])
        try:
            value = parse(q, typed, CONTEXT)
        except AnswerProblem:
            return  # asked again: nothing changes
        self.accepted[q.id] = value
        self._moved(session.answer(self.form, self.now.draft, value))

    @precondition(lambda self: self.submitted is None)
    @rule()
    def back(self) -> None:
        self._moved(session.back(self.form, self.now.draft))

    @precondition(lambda self: self.submitted is None)
    @rule()
    def skip(self) -> None:
        q = self.now.question
        moved = session.skip(self.form, self.now.draft)
        if q is not None and moved.note != "cannot_skip":
            self.accepted.pop(q.id, None)
        self._moved(moved)

    @precondition(lambda self: self.submitted is None)
    @rule()
    def keep(self) -> None:
        self._moved(session.keep(self.form, self.now.draft))

    @precondition(lambda self: self.submitted is None)
    @rule()
    def photos_done(self) -> None:
        q = self.now.question
        moved = session.photos_done(self.form, self.now.draft)
        if q is not None and q.kind == "photos" and q.id not in moved.draft.answers:
            self.accepted.pop(q.id, None)
        self._moved(moved)

    @precondition(lambda self: self.submitted is None)
    @rule(number=st.integers(min_value=0, max_value=25))
    def edit(self, number: int) -> None:
        self._moved(session.edit(self.form, self.now.draft, number))

    @precondition(lambda self: self.submitted is None)
    @rule(data=st.data())
    def on_the_page(self, data: st.DataObject) -> None:
        """The page saves several shown questions at once; an empty field clears one."""
        page = [q for q in shown(self.form, self.now.draft.answers) if q.kind != "photos"]
        chosen = data.draw(st.lists(st.sampled_from(page), max_size=4, unique_by=lambda q: q.id))
        changes: dict[str, Any] = {}
        for q in chosen:
            typed = data.draw(st.one_of(st.just(""), TYPED[q.kind]))
            if not typed.strip():
                changes[q.id] = None
                continue
            try:
                changes[q.id] = parse(q, typed, CONTEXT)
            except AnswerProblem:
                continue  # named on the page, kept out of the draft
        for question_id, value in changes.items():
            if value is None:
                self.accepted.pop(question_id, None)
            else:
                self.accepted[question_id] = value
        self._moved(session.fill(self.form, self.now.draft, changes))

    @precondition(lambda self: self.submitted is None)
    @rule(data=st.data())
    def photo_taken_back_on_the_page(self, data: st.DataObject) -> None:
        held = [
            (q, sha)
            for q, v in self.now.draft.answers.items()
            if isinstance(v, list)
            for sha in v
            if len(sha) == 64
        ]
        if not held:
            return
        question_id, sha = data.draw(st.sampled_from(held))
        left = [x for x in self.accepted[question_id] if x != sha]
        if left:
            self.accepted[question_id] = left
        else:
            del self.accepted[question_id]
        self._moved(session.remove_photo(self.form, self.now.draft, question_id, sha))

    @rule()
    def pause_and_resume(self) -> None:
        stored = json.loads(json.dumps(self.now.draft.to_json()))
        resumed = session.start(self.form, session.Draft.from_json(stored))
        if self.submitted is None:
            assert resumed.question == self.now.question
        self.now = resumed

    @precondition(lambda self: self.submitted is None)
    @rule()
    def submit(self) -> None:
        moved = session.submit(self.form, self.now.draft)
        if moved.submitted:
            self.submitted = moved
        self._moved(moved)

    @invariant()
    def the_draft_holds_exactly_the_accepted_answers(self) -> None:
        assert dict(self.now.draft.answers) == self.accepted

    @invariant()
    def no_answer_of_a_question_not_shown_survives(self) -> None:
        ids = {q.id for q in shown(self.form, self.now.draft.answers)}
        assert set(self.now.draft.answers) <= ids

    @invariant()
    def a_submission_leaves_nothing_required_empty(self) -> None:
        if self.submitted is not None:
            answers = self.submitted.draft.answers
            assert missing(self.form, answers) == []
            for q in shown(self.form, answers):
                if q.kind == "photos" and required(q, answers):
                    assert len(answers[q.id]) >= q.min_count


FillingAForm.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_filling_a_form = FillingAForm.TestCase


def test_decimals_are_kept_exactly_and_exponents_are_not_numbers() -> None:
    assert parse(WAGES.question("owed_amount"), "0.10", CONTEXT) == "0.1"
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")
    with pytest.raises(AnswerProblem):
        parse(WAGES.question("owed_amount"), "1e3", CONTEXT)


def test_a_multiple_choice_option_that_could_not_be_typed_is_refused() -> None:
    source = """item = "X"
title = "t"
[[questions]]
id = "m"
kind = "multiple"
text = "?"
options = ["甲、乙", "丙"]
"""
    assert [key for _, key in problems(source)] == ["option_separator"]


def test_an_age_may_be_typed_with_its_unit() -> None:
    form = parse_form(
        'item = "X"\ntitle = "t"\n[[questions]]\nid = "age"\nkind = "number"\ntext = "?"\n'
        'unit = "岁"\ninteger = true\n',
        "x.toml",
    )
    assert parse(form.question("age"), "15周岁", CONTEXT) == 15
