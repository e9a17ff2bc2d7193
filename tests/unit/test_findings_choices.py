"""Choice questions in chat: which are buttons, which a card to tick options on (WeCom's vote
card) and which are typed; the card's key, option ids and pre-ticked answer; reading a
submitted card back, refusing what the card cannot have sent; and how each platform renders
the question. Pure: no database, no HTTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from bot.base.texts import text
from bot.forms import catalog, session
from bot.forms.answers import AnswerProblem, choose
from bot.forms.definition import Form, Question
from bot.platforms import dingtalk, wecom
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.platforms.messages import Choice, InboundKind, Outgoing
from handlers import findings as say

NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
WAGES = catalog.find("RS-JC-003")
assert WAGES is not None
ABOUT = say.About("工资支付情况检查记录 · 某某公司", "某某公司", 41)
# Everything before the standard result's category, answered: the category is asked next.
BEFORE_CATEGORY = {
    "employees": 12,
    "payroll_kept": True,
    "pay_cycle": "按月支付",
    "paid_in_full": True,
    "payslip": True,
    "construction": False,
    "checked_on": "2026-03-02",
    "check_method": "实地检查",
}
CODEC = wecom.WeComCodec("token", new_secrets()["encoding_aes_key"], "ww1")


def asking(answers: dict[str, Any], question: str | None = None, form: Form = WAGES) -> Any:
    """What is shown with these answers (at ``question``, as 「修改」 would go back to it)."""
    draft = session.Draft(answers, frozenset({"evidence"}), revisit=question)
    now = session.start(form, draft)
    assert question is None or (now.question is not None and now.question.id == question)
    return now


def message(answers: dict[str, Any], question: str | None = None, form: Form = WAGES) -> Outgoing:
    return say.question_message(form, asking(answers, question, form), ABOUT)


def one_question(q: Question) -> Form:
    return Form("X-1", "表", (q,))


# --- which questions get which card ----------------------------------------------------------


def test_a_single_choice_with_more_options_than_buttons_is_a_choice_card() -> None:
    shown = message(BEFORE_CATEGORY)
    category = WAGES.question("result_category")
    assert shown.kind == "choice" and shown.choice is not None and not shown.buttons
    choice = shown.choice
    assert choice.options == category.options and len(choice.options) == 10
    assert not choice.multiple and choice.checked == ()
    number = say.question_number(WAGES, BEFORE_CATEGORY, category)
    assert choice.key == say.card_key(41, number, "result_category")
    assert choice.heading == text("filling.card_heading", number=number, question="检查结果")
    assert "回复序号" in choice.hint and "跳过" not in choice.hint  # required
    assert choice.submit == text("filling.label_submit")
    # The words still ask it, options numbered for typing, as for any typed question.
    assert f"第{number}题" in shown.text and "10. 已注销、被吊销、被撤销或迁出" in shown.text
    assert shown.title == ABOUT.title and shown.repeatable


def test_single_choices_that_fit_six_buttons_and_yes_no_stay_buttons() -> None:
    pay_cycle = message({"employees": 12, "payroll_kept": True})
    assert pay_cycle.kind == "card" and pay_cycle.choice is None
    assert [b.label for b in pay_cycle.buttons][-1] == text("filling.label_back")
    assert pay_cycle.buttons[0].key == say.button_key(3, "按月支付")
    yes_no = message({"employees": 12})
    assert yes_no.kind == "card" and len(yes_no.buttons) == 3


def test_every_multiple_choice_is_a_card_to_tick_several_on() -> None:
    answers = {**BEFORE_CATEGORY, "construction": True}
    del answers["checked_on"], answers["check_method"]
    shown = message(answers)
    assert shown.choice is not None and shown.choice.multiple
    assert shown.choice.options[0] == "开设农民工工资专用账户"
    few = Question("q", "multiple", "哪些？", options=("甲", "乙"), optional=True)
    small = message({}, form=one_question(few))
    assert small.choice is not None and small.choice.multiple  # even two options
    assert "跳过" in small.choice.hint  # may be left: typed 「跳过」 says so


def test_more_options_than_a_card_holds_stay_typed() -> None:
    many = Question("q", "single", "哪一个？", options=tuple(f"选项{n}" for n in range(21)))
    shown = message({}, form=one_question(many))
    assert shown.kind == "markdown" and shown.choice is None
    assert "21. 选项20" in shown.text
    twenty = dataclasses.replace(many, options=many.options[:20])
    assert message({}, form=one_question(twenty)).kind == "choice"


def test_an_answer_given_before_is_ticked_when_the_question_is_asked_again() -> None:
    answers = {
        **BEFORE_CATEGORY,
        "construction": True,
        "migrant_measures": ["实行实名制管理", "设置维权信息告示牌"],
        "result_category": "未发现问题",
    }
    again = message(answers, "migrant_measures")
    assert again.choice is not None and again.choice.checked == (2, 5)
    assert "原来的答案：实行实名制管理、设置维权信息告示牌" in again.text
    single = message(answers, "result_category")
    assert single.choice is not None and single.choice.checked == (1,)


@pytest.mark.parametrize("multiple", [False, True])
@pytest.mark.parametrize("skip", [False, True])
def test_the_card_hint_fits_under_wecoms_title_and_says_typing_works(
    multiple: bool, skip: bool
) -> None:
    hint = text("filling.card_hint", multiple=multiple, skip=skip)
    assert len(hint) <= 44  # WeCom's main_title.desc
    assert "回复序号" in hint and ("跳过" in hint) == skip


# --- the card's key, and what a submitted card means ------------------------------------------


def test_a_card_key_names_the_finding_the_number_and_the_question() -> None:
    key = say.card_key(41, 12, "result_category")
    assert say.card_question(key) == say.CardQuestion(41, 12, "result_category")
    assert len(key.encode()) <= 128


@pytest.mark.parametrize(
    "key",
    [
        "",
        "form:41:12",
        "form:x:12:q",
        "form:41:12:Result",
        "第12题：是",
        "form:41:1234:q",
        "a" * 2000,
    ],
)
def test_a_key_that_is_not_a_choice_cards_is_no_card(key: str) -> None:
    assert say.card_question(key) is None


def test_stale_and_foreign_cards_are_told_apart() -> None:
    assert "第 3 题" in say.stale_card_note(say.CardQuestion(41, 3, "q"), 41)
    foreign = text("filling.other_card")
    assert say.stale_card_note(say.CardQuestion(7, 3, "q"), 41) == foreign
    assert say.stale_card_note(None, 41) == foreign


CATEGORY = WAGES.question("result_category")
MEASURES = WAGES.question("migrant_measures")
KEY = "form:41:15:result_category"


@pytest.mark.parametrize(
    "question, ids, value",
    [
        (CATEGORY, ["2"], "发现问题已责令改正"),
        (CATEGORY, ["10"], "已注销、被吊销、被撤销或迁出"),
        (MEASURES, ["5", "1"], ["开设农民工工资专用账户", "设置维权信息告示牌"]),
    ],
)
def test_ticked_ids_read_as_typing_the_options_numbers(
    question: Question, ids: list[str], value: Any
) -> None:
    numbers = say.ticked(question, KEY, {KEY: ids}, {})
    assert choose(question, numbers) == value


@pytest.mark.parametrize(
    "fields",
    [
        {KEY: ["0"]},
        {KEY: ["11"]},
        {KEY: ["02"]},
        {KEY: ["２"]},  # a full-width digit: not an id the card has
        {KEY: ["未发现问题"]},  # an option's words are no id either
        {KEY: ["1", "1"]},
        {KEY: "1"},
        {KEY: ["1"], "form:41:14:check_method": ["1"]},
        {"form:41:14:check_method": ["1"]},
    ],
)
def test_what_the_card_cannot_have_sent_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(AnswerProblem) as refused:
        say.ticked(CATEGORY, KEY, fields, {})
    assert refused.value.key == "card_option"
    assert text("forms.card_option")


def test_two_ticked_on_a_single_choice_are_one_too_many() -> None:
    with pytest.raises(AnswerProblem) as refused:
        choose(CATEGORY, say.ticked(CATEGORY, KEY, {KEY: ["1", "2"]}, {}))
    assert refused.value.key == "one_option"


def test_nothing_ticked_skips_only_a_question_that_may_be_left() -> None:
    for empty in ({}, {KEY: []}):
        with pytest.raises(AnswerProblem) as refused:
            say.ticked(CATEGORY, KEY, empty, {})
        assert refused.value.key == "none_ticked"
    optional = Question("q", "multiple", "哪些？", options=("甲", "乙"), optional=True)
    assert say.ticked(optional, KEY, {KEY: []}, {}) == []


# --- on each platform ------------------------------------------------------------------------


def test_wecom_sends_a_choice_as_a_vote_card() -> None:
    choice = Choice(
        "form:41:3:q",
        "第3题：" + "很长的问题" * 10,
        "勾选后点「提交」",
        ("甲", "乙", "丙"),
        multiple=True,
        checked=(1, 3),
        submit="提交",
    )
    shown = Outgoing("choice", "第3题 …", title="表 · 单位", repeatable=True, choice=choice)
    body = wecom.render("lisi", 7, shown, "m8")
    assert body["msgtype"] == "template_card" and body["enable_duplicate_check"] == 0
    assert body["template_card"] == {
        "card_type": "vote_interaction",
        "main_title": {"title": choice.heading[:36], "desc": "勾选后点「提交」"},
        "task_id": "suiji-m8",
        "checkbox": {
            "question_key": "form:41:3:q",
            "mode": 1,
            "option_list": [
                {"id": "1", "text": "甲", "is_checked": True},
                {"id": "2", "text": "乙", "is_checked": False},
                {"id": "3", "text": "丙", "is_checked": True},
            ],
        },
        "submit_button": {"text": "提交", "key": "form:41:3:q"},
    }
    single = dataclasses.replace(shown, choice=dataclasses.replace(choice, multiple=False))
    assert wecom.render("lisi", 7, single, "m9")["template_card"]["checkbox"]["mode"] == 0


def test_the_words_of_a_choice_round_trip_through_the_outbox_json() -> None:
    shown = message(BEFORE_CATEGORY)
    assert Outgoing.from_json(shown.to_json()) == shown
    assert "choice" not in Outgoing.plain("好").to_json()


def test_dingtalk_has_no_card_to_tick_on_and_sends_the_words_to_type_from() -> None:
    shown = message(BEFORE_CATEGORY)
    assert dingtalk.render(shown) == (
        "sampleMarkdown",
        {"title": ABOUT.title, "text": shown.text},
    )


def test_a_submitted_vote_card_is_a_form_naming_the_key_and_the_ticked_ids() -> None:
    for ids in (["2"], ["1", "3"], []):
        inner = FakeWeCom.click_xml(
            "lisi", KEY, "suiji-m8", 1700000000, "rc", "vote_interaction", {KEY: ids}
        )
        sealed, signature = CODEC.seal(inner, "1700000000", "9")
        opened = CODEC.open(signature, "1700000000", "9", sealed.encode())
        inbound = wecom.to_inbound(opened, NOW)
        assert inbound is not None and inbound.kind is InboundKind.FORM
        assert (inbound.action, inbound.fields) == (KEY, {KEY: ids})
        assert (inbound.card, inbound.reply_token) == ("m8", "rc")
