"""Findings in chat: what the words typed inside a form mean, and the messages that ask one
question, show the review and say what happened. Pure: the caller supplies the form, the draft
and who and what it is about."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.base.texts import render, table, text
from bot.forms.answers import AnswerProblem, fold
from bot.forms.definition import CHOICE_KINDS, Form, Question
from bot.forms.engine import required, shown
from bot.forms.session import Shown, answered
from bot.platforms.messages import MAX_CHOICE_OPTIONS, Button, Choice, Outgoing

MAX_BUTTONS = 6  # WeCom's button card holds six
# A choice card's key: the finding, the question's number as asked and the question's id, so
# that a card submitted after the form moved on (or from another finding) is known as stale.
_CARD_KEY = re.compile(r"^form:(\d{1,12}):(\d{1,3}):([a-z][a-z0-9_]{0,39})$")


@dataclass(frozen=True)
class Word:
    """A word that steers the form (``name``: back, skip, pause, cancel, help, submit, keep,
    done, review, confirm, deny, edit), with the question number 「修改 3」 gives."""

    name: str
    number: int | None = None


@functools.cache
def _form_words() -> tuple[dict[str, str], tuple[str, ...], re.Pattern[str]]:
    words = table("forms/_words.toml")["form"]
    steering = {name: ws for name, ws in words.items() if isinstance(ws, list)}
    steering.pop("all_items")  # read when choosing the item, not inside a form
    whole = {fold(w): name for name, ws in steering.items() for w in ws}
    edits = tuple(fold(w) for w in words["edit"])
    template = words["button"]
    pattern = re.escape(template).replace(re.escape("{number}"), r"(\d{1,3})")
    pattern = pattern.replace(re.escape("{answer}"), r"(.+)")
    return whole, edits, re.compile(rf"^{pattern}$", re.DOTALL)


CONFIRMING = ("confirm", "deny")  # read only while the bot asks to confirm a cancel


def form_word(message: str, *, confirming: bool = False) -> Word | None:
    """The steering word a message is, or None (then it is an answer). 「是」「否」 confirm or
    deny a cancel only while that is asked; otherwise they answer the question."""
    whole, edits, _ = _form_words()
    folded = fold(message)
    name = whole.get(folded)
    if name is not None and name != "edit" and (name in CONFIRMING) == confirming:
        return Word(name)
    for word in sorted(edits, key=len, reverse=True):
        rest = folded.removeprefix(word)
        if rest != folded and rest.isdigit() and len(rest) <= 3:
            return Word("edit", int(rest))
    return None


def all_items(message: str) -> bool:
    """「全部」「全部事项」…: every item of the campaign, one after the other."""
    return fold(message) in {fold(w) for w in table("forms/_words.toml")["form"]["all_items"]}


def button_key(number: int, answer: str) -> str:
    return str(table("forms/_words.toml")["form"]["button"]).format(number=number, answer=answer)


def pressed(message: str) -> tuple[int, str] | None:
    """(question number, answer) of a choice button's words, or None."""
    found = _form_words()[2].match(message.strip())
    return (int(found.group(1)), found.group(2)) if found else None


@dataclass(frozen=True)
class CardQuestion:
    """The question a choice card asked, as its key names it."""

    finding: int
    number: int
    question: str


def card_key(finding_id: int, number: int, question_id: str) -> str:
    return f"form:{finding_id}:{number}:{question_id}"


def card_question(key: str) -> CardQuestion | None:
    """The question a submitted choice card asked, or None for a key that is not one of ours."""
    found = _CARD_KEY.match(key)
    return CardQuestion(int(found[1]), int(found[2]), found[3]) if found else None


def question_number(form: Form, answers: Mapping[str, Any], question: Question | None) -> int:
    """The question's number as asked now (0 for none: the review)."""
    if question is None:
        return 0
    return [x.id for x in shown(form, answers)].index(question.id) + 1


def ticked(
    question: Question, key: str, fields: Mapping[str, Any], answers: Mapping[str, Any]
) -> list[str]:
    """The numbers of the options ticked on the choice card named ``key``, as typing them
    would give them; none (to skip) only where the question may be left (else
    ``none_ticked``). Option ids are the options' numbers: anything else, or another
    question's choices, is what that card cannot have sent (``card_option``)."""
    ids = fields.get(key, [])
    numbers = {str(n) for n in range(1, len(question.options) + 1)}
    if (
        set(fields) - {key}
        or not isinstance(ids, list)
        or not all(isinstance(i, str) and i in numbers for i in ids)
        or len(set(ids)) != len(ids)
    ):
        raise AnswerProblem("card_option")
    if not ids and required(question, answers):
        raise AnswerProblem("none_ticked")
    return list(ids)


def stale_card_note(card: CardQuestion | None, finding_id: int) -> str:
    """Why a submitted choice card is not taken as the answer to the question asked now."""
    if card is None or card.finding != finding_id:
        return text("filling.other_card")
    return text("filling.stale_card", number=card.number)


def shown_answer(question: Question, value: Any) -> str:
    if isinstance(value, bool):
        return text("filling.yes" if value else "filling.no")
    if question.kind == "photos":
        return text("filling.photos", count=len(value))
    if isinstance(value, list):
        return text("filling.joined", values=[str(v) for v in value])
    unit = question.unit if question.kind == "number" and question.unit else ""
    return f"{value}{unit}"


@dataclass(frozen=True)
class About:
    """What a form is being filled for: its title line and the finding's number."""

    title: str  # 「工资支付情况检查记录 · 某某公司」
    employer: str
    finding_id: int
    link: str = ""  # the same form as a page, when there is one


def question_message(
    form: Form, now: Shown, about: About, *, note: str = "", error: str = ""
) -> Outgoing:
    """The question ``now`` asks (or the review when it asks none)."""
    q = now.question
    if q is None:
        return review_message(form, now, about, note=note)
    answers = now.draft.answers
    questions = shown(form, answers)
    number = question_number(form, answers, q)
    previous = shown_answer(q, answers[q.id]) if answered(q, answers) else None
    body = render(
        "chat/form_question.md.j2",
        q=q,
        number=number,
        total=len(questions),
        required=required(q, answers),
        previous=previous,
        note=note,
        error=error,
    ).strip()
    buttons = _buttons(q, number, answers)
    if buttons:
        return Outgoing("card", body, title=about.title, buttons=buttons, repeatable=True)
    choice = _choice(q, number, answers, about.finding_id)
    if choice is not None:
        return Outgoing("choice", body, title=about.title, repeatable=True, choice=choice)
    return Outgoing("markdown", body, title=about.title, repeatable=True)


def _buttons(q: Question, number: int, answers: Mapping[str, Any]) -> tuple[Button, ...]:
    if q.kind == "yesno":
        choices = [text("filling.label_yes"), text("filling.label_no")]
    elif q.kind == "single":
        choices = list(q.options)
    else:
        return ()
    controls = [text("filling.label_back")] if number > 1 else []
    if not required(q, answers):
        controls.append(text("filling.label_skip"))
    if len(choices) + len(controls) > MAX_BUTTONS:
        return ()  # typed instead: the message lists the options with their numbers
    return (
        *(Button(button_key(number, c), c) for c in choices),
        *(Button(c, c) for c in controls),
    )


def _choice(q: Question, number: int, answers: Mapping[str, Any], finding_id: int) -> Choice | None:
    """The card to tick a choice on, for one with more options than buttons hold (or several
    to choose); None past what a card holds: then it is typed only."""
    if q.kind not in CHOICE_KINDS or not 1 <= len(q.options) <= MAX_CHOICE_OPTIONS:
        return None
    before = answers[q.id] if answered(q, answers) else None
    chosen = before if isinstance(before, list) else [before]
    return Choice(
        card_key(finding_id, number, q.id),
        text("filling.card_heading", number=number, question=q.text),
        text("filling.card_hint", multiple=q.kind == "multiple", skip=not required(q, answers)),
        q.options,
        multiple=q.kind == "multiple",
        checked=tuple(n for n, option in enumerate(q.options, 1) if option in chosen),
        submit=text("filling.label_submit"),
    )


def review_message(form: Form, now: Shown, about: About, *, note: str = "") -> Outgoing:
    answers = now.draft.answers
    rows = []
    lacking = []
    for number, q in enumerate(shown(form, answers), 1):
        if answered(q, answers):
            answer = shown_answer(q, answers[q.id])
        elif q.id in now.draft.skipped:
            answer = text("filling.skipped")
        else:
            answer = text("filling.not_answered")
            if required(q, answers):
                lacking.append(str(number))
        rows.append({"number": number, "text": q.text, "answer": answer})
    body = render(
        "chat/form_review.md.j2",
        title=form.title,
        employer=about.employer,
        rows=rows,
        missing=lacking,
        note=note,
        link=about.link,
    ).strip()
    buttons = (Button(text("filling.label_submit"), text("filling.label_submit")),)
    return Outgoing.card(about.title, body, buttons)
