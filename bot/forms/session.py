"""Filling a form one question at a time: the draft and how each move changes it.

Pure: a :class:`Draft` and a move in, the next draft and what to show out. The same moves
serve the chat (「上一题」「跳过」「修改 3」「不变」「提交」, an answer) and the page (an
answer to any question), so a draft begun in one is finished in the other.

Where the officer is next is always derived, never remembered loosely: the first question of
the re-check queue (questions that depend on one just changed by 「修改 N」, asked again with
their answer shown, 「不变」 keeping it), else the question they went back to, else the first
shown question neither answered nor skipped, else the review. Answers to questions no longer
shown are dropped at every move (:func:`bot.forms.engine.prune`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.forms.definition import Form, Question
from bot.forms.engine import missing, prune, required, shown


@dataclass(frozen=True)
class Draft:
    answers: Mapping[str, Any] = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()
    current: str | None = None  # the question being asked; None at the review
    recheck: tuple[str, ...] = ()  # asked again after an earlier answer changed
    revisit: str | None = None  # a question gone back to (「上一题」, 「修改 N」)

    def to_json(self) -> dict[str, Any]:
        return {
            "answers": dict(self.answers),
            "skipped": sorted(self.skipped),
            "current": self.current,
            "recheck": list(self.recheck),
            "revisit": self.revisit,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Draft:
        return Draft(
            dict(data.get("answers", {})),
            frozenset(data.get("skipped", ())),
            data.get("current"),
            tuple(data.get("recheck", ())),
            data.get("revisit"),
        )


@dataclass(frozen=True)
class Shown:
    """What the officer sees after a move: the question asked (or None: the review), and a
    note on the move itself (``note`` names a message of templates/text/forms, or "")."""

    draft: Draft
    question: Question | None
    note: str = ""
    missing: tuple[Question, ...] = ()
    submitted: bool = False


def answered(question: Question, answers: Mapping[str, Any]) -> bool:
    if question.id not in answers:
        return False
    if question.kind == "photos":
        return len(answers[question.id]) >= max(question.min_count, 1)
    return True


def start(form: Form, draft: Draft | None = None) -> Shown:
    """Where a new or resumed draft stands."""
    return _settle(form, draft or Draft())


def answer(form: Form, draft: Draft, value: Any) -> Shown:
    """The current question answered with a value already read (see bot.forms.answers)."""
    q = _current(form, draft)
    if q is None:
        return _settle(form, draft, "no_question")
    answers = dict(draft.answers)
    changed = answers.get(q.id) != value
    answers[q.id] = value
    recheck = tuple(r for r in draft.recheck if r != q.id)
    if changed and draft.revisit == q.id and q.id in draft.answers:
        recheck = (*_dependents(form, q.id, answers), *recheck)
    moved = replace(
        draft,
        answers=answers,
        skipped=draft.skipped - {q.id},
        recheck=recheck,
        revisit=None if draft.revisit == q.id else draft.revisit,
    )
    return _settle(form, moved)


def keep(form: Form, draft: Draft) -> Shown:
    """「不变」: a question asked again keeps its answer."""
    q = _current(form, draft)
    if q is None or not answered(q, draft.answers):
        return _settle(form, draft, "nothing_to_keep")
    return _settle(form, _done_with(draft, q.id))


def skip(form: Form, draft: Draft) -> Shown:
    q = _current(form, draft)
    if q is None:
        return _settle(form, draft, "no_question")
    if required(q, draft.answers):
        return _settle(form, draft, "cannot_skip")
    answers = {k: v for k, v in draft.answers.items() if k != q.id}
    skipped = replace(_done_with(draft, q.id), answers=answers, skipped=draft.skipped | {q.id})
    return _settle(form, skipped)


def back(form: Form, draft: Draft) -> Shown:
    """「上一题」: the shown question before the current one (from the review: the last)."""
    questions = shown(form, draft.answers)
    q = _current(form, draft)
    index = len(questions) if q is None else [x.id for x in questions].index(q.id)
    if index == 0:
        return _settle(form, draft, "first_question")
    return _settle(form, replace(draft, revisit=questions[index - 1].id, recheck=()))


def edit(form: Form, draft: Draft, number: int) -> Shown:
    """「修改 N」: question N as numbered at the review, asked again."""
    questions = shown(form, draft.answers)
    if not 1 <= number <= len(questions):
        return _settle(form, draft, "no_such_number")
    return _settle(form, replace(draft, revisit=questions[number - 1].id, recheck=()))


def fill(form: Form, draft: Draft, changes: Mapping[str, Any]) -> Shown:
    """Answers given on the page, to any questions at once (None clears one). The page shows
    every question, so nothing is left to re-check or gone back to; where the chat goes on is
    derived afresh, and answers the new ones hide are dropped as at every move."""
    answers = dict(draft.answers)
    for question_id, value in changes.items():
        if value is None:
            answers.pop(question_id, None)
        else:
            answers[question_id] = value
    given = {q for q, value in changes.items() if value is not None}
    return _settle(form, Draft(answers, draft.skipped - given, draft.current))


def remove_photo(form: Form, draft: Draft, question_id: str, sha256: str) -> Shown:
    """A photo taken back on the page (it stays in the file store and the audit log)."""
    photos = [p for p in draft.answers.get(question_id, []) if p != sha256]
    answers = {k: v for k, v in draft.answers.items() if k != question_id}
    if photos:
        answers[question_id] = photos
    return _settle(form, replace(draft, answers=answers))


def add_photo(form: Form, draft: Draft, question_id: str, sha256: str) -> Shown:
    """A photo stored for a photo question (it may arrive after the officer moved on)."""
    q = next((x for x in shown(form, draft.answers) if x.id == question_id), None)
    if q is None or q.kind != "photos":
        return _settle(form, draft, "photo_not_expected")
    photos = list(draft.answers.get(q.id, []))
    if sha256 in photos:
        return _settle(form, draft, "photo_known")
    if len(photos) >= q.max_count:
        return _settle(form, draft, "photos_full")
    answers = {**draft.answers, q.id: [*photos, sha256]}
    moved = replace(draft, answers=answers, skipped=draft.skipped - {q.id})
    current = _current(form, draft)
    if current is not None and current.id == q.id and len(photos) + 1 < q.max_count:
        # Still on this question until the officer says it is complete (or it is full): the
        # draft remembers it as the question gone back to, so a resumed draft stays here too.
        return replace(_settle(form, replace(moved, revisit=q.id)), note="photo_added")
    if current is not None and current.id == q.id:
        moved = _done_with(moved, q.id)
    shown_next = _settle(form, moved)
    return replace(shown_next, note=shown_next.note or "photo_added")


def photos_done(form: Form, draft: Draft) -> Shown:
    """「完成」 on a photo question: move on if it holds enough photos (or may be skipped)."""
    q = _current(form, draft)
    if q is None or q.kind != "photos":
        return _settle(form, draft, "no_question")
    if answered(q, draft.answers):
        return _settle(form, _done_with(draft, q.id))
    if not required(q, draft.answers) and not draft.answers.get(q.id):
        return skip(form, draft)
    return _settle(form, draft, "photos_short")


def submit(form: Form, draft: Draft) -> Shown:
    lacking = tuple(q for q in missing(form, draft.answers) if not answered(q, draft.answers))
    lacking = lacking or tuple(
        q
        for q in shown(form, draft.answers)
        if q.kind == "photos" and q.id in draft.answers and not answered(q, draft.answers)
    )
    if lacking:
        moved = replace(draft, revisit=lacking[0].id, recheck=())
        return replace(_settle(form, moved, "missing"), missing=lacking)
    return Shown(replace(draft, current=None, recheck=(), revisit=None), None, submitted=True)


def _done_with(draft: Draft, question_id: str) -> Draft:
    """The draft once a question needs no more of the officer: off the re-check queue, and no
    longer the question gone back to."""
    return replace(
        draft,
        recheck=tuple(r for r in draft.recheck if r != question_id),
        revisit=None if draft.revisit == question_id else draft.revisit,
    )


def _current(form: Form, draft: Draft) -> Question | None:
    if draft.current is None:
        return None
    for q in shown(form, draft.answers):
        if q.id == draft.current:
            return q
    return None


def _settle(form: Form, draft: Draft, note: str = "") -> Shown:
    """Prune, then put the officer where the rules in the module docstring say."""
    answers = prune(form, draft.answers)
    questions = shown(form, answers)
    ids = [q.id for q in questions]
    skipped = frozenset(s for s in draft.skipped if s in ids)
    recheck = tuple(r for r in draft.recheck if r in ids and r in answers)
    revisit = draft.revisit if draft.revisit in ids else None
    target: str | None
    if recheck:
        target = recheck[0]
    elif revisit is not None:
        target = revisit
    else:
        target = next(
            (q.id for q in questions if not answered(q, answers) and q.id not in skipped), None
        )
    settled = Draft(answers, skipped, target, recheck, revisit)
    question = next((q for q in questions if q.id == target), None)
    return Shown(settled, question, note)


def _dependents(form: Form, changed: str, answers: Mapping[str, Any]) -> Sequence[str]:
    """Answered questions shown now whose condition looks at ``changed`` (or at one of
    them, and so on), in form order."""
    touched = {changed}
    found = []
    for q in form.questions:
        looks_at = {
            target
            for condition in (q.when, q.required_when)
            if condition is not None
            for target in condition.questions()
        }
        if looks_at & touched:
            touched.add(q.id)
            found.append(q.id)
    visible = {q.id for q in shown(form, answers)}
    return [q for q in found if q in visible and q in answers]
