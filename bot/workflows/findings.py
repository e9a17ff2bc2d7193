"""Findings in chat (D6, O5): an officer of a team fills, one question at a time, what the team
found at each employer for each item of the campaign.

Owns the life of a finding: opened on the campaign's start date by an officer of the team
(leader included), who then holds its draft — a teammate who opens it meanwhile is told who
is filling it and since when, and may take it over once it has lain untouched for
``findings_hold_minutes``; the form frozen into it when filling began; every answer stored as
it is given (a draft survives a restart and a change of device); submitted once, frozen and
audited with the answers' hash; reopened by the team's leader with a reason (audited). The
filling moves are bot.forms.session; the words are handlers.findings; the rows are
storage.findings. A finding is locked (its team first, when it is created) before its draft
changes, so two officers never interleave on it, across processes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.base.times import local_time
from bot.draw.record import canonical, sha256_text
from bot.forms import catalog, session
from bot.forms.answers import AnswerProblem, Context, choose, parse
from bot.forms.definition import Form, FormError, Question, form_from_json
from bot.platforms.messages import Outgoing
from bot.workflows import deadlines, reports
from bot.workflows.step import Step
from handlers import commands
from handlers import findings as say
from handlers.commands import Command
from storage import assignments as assignment_db
from storage import findings as db
from storage.campaigns import people_by_id
from storage.models import (
    Assignment,
    AssignmentState,
    Campaign,
    Entity,
    Finding,
    FindingPhoto,
    FindingState,
    Person,
    PhotoState,
    Team,
)

TOPIC = "form"  # filling a finding: {"finding": id, "queue": [[entity_id, item_code], …]}
PICK_TOPIC = "form_pick"  # choosing what to fill: {"assignment": id, "entity": id | None}
FILLING = (AssignmentState.NOTIFIED, AssignmentState.CONFIRMED, AssignmentState.DECLINED)


def answers_sha256(form: Form, answers: dict[str, Any]) -> str:
    """What an audit entry and a report cite for a submitted finding: the form's hash and the
    answers, as canonical JSON."""
    return sha256_text(canonical({"form_sha256": form.sha256, "answers": answers}))


def _plain(words: str) -> Outgoing:
    """A reply inside the forms: the same words may rightly come again (「取消」 asked twice),
    so WeCom's duplicate check must not drop them."""
    return Outgoing("text", words, repeatable=True)


async def _conversation(step: Step, person: Person, topic: str, data: dict[str, Any]) -> None:
    await assignment_db.set_conversation(
        step.session, person.id, topic, data, step.now + step.policy.form_timeout
    )


# --- choosing what to fill -------------------------------------------------------------------


async def fill(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「填写 任务N」 or the 「填写检查结果」 button: pick the employer and the item, then ask."""
    picked = await _assignment(step, person, command.number)
    if isinstance(picked, Outgoing):
        return [picked]
    a, campaign = picked
    if step.today < campaign.start_on:
        return [_plain(text("filling.not_started", start=campaign.start_on))]
    assert a.team_id is not None
    employers = await assignment_db.team_employers(step.session, a.team_id)
    if len(employers) == 1:
        return await _pick_item(step, person, a, campaign, employers[0])
    await _conversation(step, person, PICK_TOPIC, {"assignment": a.id, "entity": None})
    lines = [f"{i}. {e.name}" for i, e in enumerate(employers, 1)]
    return [_plain("\n".join([text("filling.pick_employer", count=len(lines)), *lines]))]


async def _assignment(
    step: Step, person: Person, number: int | None
) -> tuple[Assignment, Campaign] | Outgoing:
    mine = [
        (a, c)
        for a, c in await assignment_db.assignments_of_person(
            step.session, person.id, step.today - dt.timedelta(days=366)
        )
        if a.state in FILLING and a.team_id is not None
    ]
    if number is not None:
        found = [(a, c) for a, c in mine if a.id == number]
        return found[0] if found else _plain(text("filling.not_on_team", id=number))
    started = [(a, c) for a, c in mine if c.start_on <= step.today]
    if len(started) == 1:
        return started[0]
    if not started:
        return _plain(text("filling.no_task_to_fill"))
    return _plain(text("filling.which_task", numbers=[a.id for a, _ in started]))


async def pick_given(
    step: Step, person: Person, data: dict[str, Any], message: str
) -> list[Outgoing] | None:
    """The number answering 「请回复序号选择…」; None when the message is something else."""
    a = await assignment_db.assignment(step.session, int(data["assignment"]))
    if a is None or a.team_id is None or a.state not in FILLING:
        await assignment_db.end_conversation(step.session, person.id)
        return [_plain(text("assign.question_stale"))]
    campaign = await step.session.get(Campaign, a.campaign_id)
    assert campaign is not None
    employers = await assignment_db.team_employers(step.session, a.team_id)
    entity = next((e for e in employers if e.id == data.get("entity")), None)
    folded = message.strip()
    if entity is None:
        number = _number(folded, len(employers))
        if number is None:
            return None if commands.parse(message) else [_bad_pick(len(employers))]
        return await _pick_item(step, person, a, campaign, employers[number - 1])
    items = campaign.items
    if say.all_items(folded):
        queue = [[entity.id, i["code"]] for i in items]
        return await _open(step, person, a, campaign, entity, items[0]["code"], queue[1:])
    number = _number(folded, len(items))
    if number is None:
        return None if commands.parse(message) else [_bad_pick(len(items))]
    return await _open(step, person, a, campaign, entity, items[number - 1]["code"], [])


def _number(message: str, count: int) -> int | None:
    digits = message.strip().rstrip(".")
    if digits.isdigit() and 1 <= int(digits) <= count:
        return int(digits)
    return None


def _bad_pick(count: int) -> Outgoing:
    return _plain(text("filling.bad_pick", count=count))


async def _pick_item(
    step: Step, person: Person, a: Assignment, campaign: Campaign, entity: Entity
) -> list[Outgoing]:
    items = campaign.items
    if len(items) == 1:
        return await _open(step, person, a, campaign, entity, items[0]["code"], [])
    await _conversation(step, person, PICK_TOPIC, {"assignment": a.id, "entity": entity.id})
    lines = [f"{i}. {item['name']}" for i, item in enumerate(items, 1)]
    head = text("filling.pick_item", count=len(lines))
    return [_plain("\n".join([f"{entity.name}", head, *lines]))]


# --- opening a finding -----------------------------------------------------------------------


async def _open(
    step: Step,
    person: Person,
    a: Assignment,
    campaign: Campaign,
    entity: Entity,
    code: str,
    queue: list[list[Any]],
) -> list[Outgoing]:
    assert a.team_id is not None
    finding = await begin(step, person, campaign, a.team_id, entity, code)
    if finding is None:
        await assignment_db.end_conversation(step.session, person.id)
        return [_plain(text("filling.no_form", item=item_name(campaign, code)))]
    refused = await hold(step, person, finding)
    if refused is not None:
        await assignment_db.end_conversation(step.session, person.id)
        return [refused]
    await _conversation(step, person, TOPIC, {"finding": finding.id, "queue": queue})
    form = form_from_json(finding.form)
    now = session.start(form, session.Draft.from_json(finding.draft))
    finding.draft = now.draft.to_json()
    return [say.question_message(form, now, _about(step, form, entity, finding))]


async def begin(
    step: Step, person: Person, campaign: Campaign, team_id: int, entity: Entity, code: str
) -> Finding | None:
    """The team's finding for an employer and item, locked; begun now (its form frozen into
    it, audited) if it was not yet. None when the item has no form."""
    await assignment_db.team(step.session, team_id, lock=True)  # one creation at a time
    finding = await db.finding_for(step.session, team_id, entity.id, code, lock=True)
    if finding is not None:
        return finding
    try:
        form = catalog.find(code, step.policy.forms_site)
    except FormError:
        form = None
    if form is None:
        return None
    finding = Finding(
        campaign_id=campaign.id,
        team_id=team_id,
        entity_id=entity.id,
        item_code=code,
        state=FindingState.DRAFT,
        form=form.to_json(),
        form_sha256=form.sha256,
        draft=session.Draft().to_json(),
        answered_by={},
        holder_id=person.id,
        held_since=step.now,
        touched_at=step.now,
        started_by_id=person.id,
        started_at=step.now,
        reopened=0,
    )
    step.session.add(finding)
    await step.session.flush()
    await step.audit(
        "finding:start",
        "findings",
        finding.id,
        None,
        {"employer": entity.uscc, "item": code, "form_sha256": form.sha256, "by": person.name},
    )
    return finding


async def refusal(step: Step, person: Person, finding: Finding) -> str | None:
    """Why ``person`` cannot fill the finding now (submitted, or a teammate filled it
    lately), or None. Takes nothing."""
    if finding.state is FindingState.SUBMITTED:
        by = await step.session.get(Person, finding.submitted_by_id)
        assert finding.submitted_at is not None
        return text(
            "filling.already_submitted",
            id=finding.id,
            name=by.name if by else "",
            at=local_time(finding.submitted_at, step.policy.tz),
        )
    holder = finding.holder_id
    lately = finding.touched_at > step.now - step.policy.hold_time
    if holder is not None and holder != person.id and lately:
        other = await step.session.get(Person, holder)
        assert finding.held_since is not None
        return text(
            "filling.held",
            name=other.name if other else "",
            since=local_time(finding.held_since, step.policy.tz),
        )
    return None


async def hold(step: Step, person: Person, finding: Finding) -> Outgoing | None:
    """Take the draft for ``person`` (a teammate whose hold lapsed is told), or the reason
    they cannot."""
    refused = await refusal(step, person, finding)
    if refused is not None:
        return _plain(refused)
    holder = finding.holder_id
    if holder is not None and holder != person.id:
        before = await step.session.get(Person, holder)
        if before is not None:
            step.send(before, _plain(text("filling.taken_over", name=person.name)))
            await assignment_db.end_conversation(step.session, before.id)
    if holder != person.id:
        finding.holder_id, finding.held_since = person.id, step.now
    finding.touched_at = step.now
    return None


def item_name(campaign: Campaign, code: str) -> str:
    return next((i["name"] for i in campaign.items if i["code"] == code), code)


def _about(step: Step, form: Form, entity: Entity, finding: Finding) -> say.About:
    return say.About(
        text("filling.title", form=form.title, employer=entity.name),
        entity.name,
        finding.id,
        step.policy.finding_page(finding.id),
    )


async def resume(step: Step, person: Person) -> list[Outgoing]:
    """「继续」: back to the draft this person holds (the newest, if several)."""
    held = await db.held_by(step.session, person.id)
    if not held:
        return [_plain(text("filling.nothing_to_resume"))]
    finding = await db.finding(step.session, held[0].id, lock=True)
    assert finding is not None
    return await _show_again(step, person, finding, [])


async def _show_again(
    step: Step, person: Person, finding: Finding, queue: list[list[Any]], note: str = ""
) -> list[Outgoing]:
    await _conversation(step, person, TOPIC, {"finding": finding.id, "queue": queue})
    form = form_from_json(finding.form)
    now = session.start(form, session.Draft.from_json(finding.draft))
    about = await _about_of(step, form, finding)
    return [say.question_message(form, now, about, note=note)]


async def _about_of(step: Step, form: Form, finding: Finding) -> say.About:
    entity = await step.session.get(Entity, finding.entity_id)
    assert entity is not None
    return _about(step, form, entity, finding)


# --- filling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Filling:
    """The draft a message while a form is open is about, locked."""

    finding: Finding
    form: Form
    draft: session.Draft
    about: say.About
    queue: list[list[Any]]


async def _filling(step: Step, person: Person, data: dict[str, Any]) -> _Filling | Outgoing:
    """The draft the open form conversation names, or why it is no longer this person's."""
    finding = await db.finding(step.session, int(data["finding"]), lock=True)
    if finding is None or finding.state is not FindingState.DRAFT or finding.holder_id != person.id:
        await assignment_db.end_conversation(step.session, person.id)
        return _plain(text("assign.question_stale"))
    form = form_from_json(finding.form)
    about = await _about_of(step, form, finding)
    draft = session.Draft.from_json(finding.draft)
    return _Filling(finding, form, draft, about, list(data.get("queue", [])))


async def form_input(
    step: Step, person: Person, data: dict[str, Any], message: str
) -> list[Outgoing] | None:
    """A message while a form is open: a word that steers it, or an answer. None when it is
    neither but a command of its own (「我的任务」…), which the dispatcher then handles."""
    filling = await _filling(step, person, data)
    if isinstance(filling, Outgoing):
        return [filling]
    finding, form, draft, about = filling.finding, filling.form, filling.draft, filling.about
    queue = filling.queue
    word = say.form_word(message, confirming=bool(data.get("confirm_cancel")))
    if data.get("confirm_cancel"):
        await _conversation(step, person, TOPIC, {"finding": finding.id, "queue": queue})
        if word is not None and word.name == "confirm":
            return await _cancel(step, person, finding)
        return [say.question_message(form, session.start(form, draft), about)]
    if word is not None:
        return await _steer(step, person, finding, form, draft, about, word, queue)
    current = session.start(form, draft)
    q = current.question
    button = say.pressed(message)
    if button is not None:
        if button[0] != say.question_number(form, draft.answers, q):
            note = text("filling.stale_button", number=button[0])
            return [say.question_message(form, current, about, note=note)]
        message = button[1]
    if q is None:
        if commands.parse(message) is not None:
            return None
        return [say.question_message(form, current, about, note=text("filling.at_review"))]
    campaign = await step.session.get(Campaign, finding.campaign_id)
    assert campaign is not None
    try:
        value = parse(q, message, Context(step.today, campaign.start_on, campaign.end_on))
    except AnswerProblem as problem:
        if button is None and commands.parse(message) is not None:
            return None
        error = text(f"forms.{problem.key}", **problem.values)
        return [say.question_message(form, current, about, error=error)]
    moved = session.answer(form, draft, value)
    finding.answered_by = {**finding.answered_by, q.id: person.id}
    return await _after_move(step, person, finding, form, moved, about, queue)


async def choice_submitted(
    step: Step, person: Person, data: dict[str, Any], key: str, fields: dict[str, Any]
) -> list[Outgoing]:
    """The options ticked on a question's choice card and submitted (WeCom's vote card):
    the answer to that question, read as typing the options' numbers would be, if it is still
    the question asked; otherwise the question asked now, again, saying why."""
    filling = await _filling(step, person, data)
    if isinstance(filling, Outgoing):
        return [filling]
    finding, form, draft, about = filling.finding, filling.form, filling.draft, filling.about
    if data.get("confirm_cancel"):  # a submit is no 「确认取消」: the form goes on
        await _conversation(step, person, TOPIC, {"finding": finding.id, "queue": filling.queue})
    current = session.start(form, draft)
    q = current.question
    card = say.card_question(key)
    asked = (finding.id, say.question_number(form, draft.answers, q), q.id if q else "")
    if q is None or card is None or (card.finding, card.number, card.question) != asked:
        note = say.stale_card_note(card, finding.id)
        return [say.question_message(form, current, about, note=note)]
    try:
        numbers = say.ticked(q, key, fields, draft.answers)
        value = choose(q, numbers) if numbers else None
    except AnswerProblem as problem:
        error = text(f"forms.{problem.key}", **problem.values)
        return [say.question_message(form, current, about, error=error)]
    if value is None:  # nothing ticked on a question that may be left: as 「跳过」
        moved = session.skip(form, draft)
    else:
        moved = session.answer(form, draft, value)
        finding.answered_by = {**finding.answered_by, q.id: person.id}
    return await _after_move(step, person, finding, form, moved, about, filling.queue)


async def _steer(
    step: Step,
    person: Person,
    finding: Finding,
    form: Form,
    draft: session.Draft,
    about: say.About,
    word: say.Word,
    queue: list[list[Any]],
) -> list[Outgoing]:
    match word.name:
        case "back":
            moved = session.back(form, draft)
        case "skip":
            moved = session.skip(form, draft)
        case "keep":
            moved = session.keep(form, draft)
        case "done":
            moved = session.photos_done(form, draft)
        case "edit":
            moved = session.edit(form, draft, word.number or 0)
        case "submit":
            moved = session.submit(form, draft)
        case "review":
            moved = session.start(form, session.Draft(draft.answers, draft.skipped))
            return [say.review_message(form, moved, about)]
        case "help":
            help_text = text("filling.form_help", employer=about.employer, item=form.title)
            return [say.question_message(form, session.start(form, draft), about, note=help_text)]
        case "pause":
            await assignment_db.end_conversation(step.session, person.id)
            return [_plain(text("filling.paused", id=finding.id))]
        case "cancel":
            if finding.reopened:
                return [_plain(text("filling.cannot_cancel_reopened"))]
            data = {"finding": finding.id, "queue": queue, "confirm_cancel": True}
            await _conversation(step, person, TOPIC, data)
            return [_plain(text("filling.confirm_cancel"))]
        case _:
            moved = session.start(form, draft)
    return await _after_move(step, person, finding, form, moved, about, queue)


async def _after_move(
    step: Step,
    person: Person,
    finding: Finding,
    form: Form,
    moved: session.Shown,
    about: say.About,
    queue: list[list[Any]],
) -> list[Outgoing]:
    finding.draft = moved.draft.to_json()
    finding.touched_at = step.now
    if moved.submitted:
        return await _submit(step, person, finding, form, moved, queue)
    note = _note(form, moved)
    return [say.question_message(form, moved, about, note=note)]


def _note(form: Form, moved: session.Shown) -> str:
    match moved.note:
        case "" | "photo_added":
            return ""
        case "missing":
            return text("filling.missing", names=[q.text for q in moved.missing])
        case "photos_full":
            q = moved.question
            return text("filling.photos_full", limit=q.max_count if q else 0)
        case "photos_short":
            q = moved.question
            return text("filling.photos_short", count=q.min_count if q else 0)
    return text(f"filling.{moved.note}")


async def _submit(
    step: Step,
    person: Person,
    finding: Finding,
    form: Form,
    moved: session.Shown,
    queue: list[list[Any]],
) -> list[Outgoing]:
    done = _plain(await freeze(step, person, finding, form, dict(moved.draft.answers)))
    await assignment_db.end_conversation(step.session, person.id)
    if not queue:
        return [done]
    a = await assignment_on(step, person, finding.team_id)
    campaign = await step.session.get(Campaign, finding.campaign_id)
    if a is None or campaign is None:
        return [done]
    next_entity = await step.session.get(Entity, int(queue[0][0]))
    assert next_entity is not None
    following = await _open(step, person, a, campaign, next_entity, str(queue[0][1]), queue[1:])
    note = _plain(text("filling.next_in_queue", left=len(queue)))
    return [done, note, *following]


async def freeze(
    step: Step, person: Person, finding: Finding, form: Form, answers: dict[str, Any]
) -> str:
    """Submit a finding, in chat or on the page: frozen, audited with its answers' hash, and
    nobody's draft any more. What to tell the person who submitted it."""
    digest = answers_sha256(form, answers)
    finding.state, finding.submitted_by_id, finding.submitted_at = (
        FindingState.SUBMITTED,
        person.id,
        step.now,
    )
    finding.answers_sha256, finding.holder_id, finding.held_since = digest, None, None
    entity = await step.session.get(Entity, finding.entity_id)
    campaign = await step.session.get(Campaign, finding.campaign_id)
    assert entity is not None and campaign is not None
    await step.audit(
        "finding:submit",
        "findings",
        finding.id,
        None,
        {
            "employer": entity.uscc,
            "item": finding.item_code,
            "form_sha256": form.sha256,
            "answers_sha256": digest,
            "by": person.name,
        },
    )
    await reports.tell_leader_when_ready(step, finding.team_id, campaign)
    done = await reports.all_submitted(step, finding.team_id, campaign)
    await deadlines.finding_submitted(step, finding, answers, done)
    return text(
        "filling.submitted",
        employer=entity.name,
        item=item_name(campaign, finding.item_code),
        id=finding.id,
    )


async def assignment_on(step: Step, person: Person, team_id: int) -> Assignment | None:
    for a, _ in await assignment_db.assignments_of_person(
        step.session, person.id, step.today - dt.timedelta(days=366)
    ):
        if a.team_id == team_id and a.state in FILLING:
            return a
    return None


async def _cancel(step: Step, person: Person, finding: Finding) -> list[Outgoing]:
    await step.audit(
        "finding:cancel",
        "findings",
        finding.id,
        {"item": finding.item_code, "answers": len(finding.draft.get("answers", {}))},
        None,
    )
    await step.session.delete(finding)
    await assignment_db.end_conversation(step.session, person.id)
    return [_plain(text("filling.cancelled"))]


# --- the leader sends one back ---------------------------------------------------------------


async def reopen(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「退回 结果N 原因」: the team's leader reopens a submitted finding (audited)."""
    if command.number is None or not command.rest:
        return [_plain(text("filling.reopen_usage"))]
    finding = await db.finding(step.session, command.number, lock=True)
    if finding is None:
        return [_plain(text("filling.no_finding", id=command.number))]
    team = await step.session.get(Team, finding.team_id)
    if team is None or team.leader_id != person.id:
        return [_plain(text("filling.reopen_not_leader", id=finding.id))]
    if finding.state is not FindingState.SUBMITTED:
        return [_plain(text("filling.reopen_not_submitted", id=finding.id))]
    report = await reports.frozen(step, finding.team_id)
    if report is not None:
        return [_plain(text("report.findings_frozen", id=finding.id, report=report.id))]
    reason = command.rest[:500]
    submitter = await step.session.get(Person, finding.submitted_by_id)
    finding.state, finding.reopened = FindingState.DRAFT, finding.reopened + 1
    finding.touched_at = step.now
    await step.audit(
        "finding:reopen",
        "findings",
        finding.id,
        {"state": "submitted", "answers_sha256": finding.answers_sha256},
        {"state": "draft", "reason": reason, "by": person.name},
    )
    entity = await step.session.get(Entity, finding.entity_id)
    campaign = await step.session.get(Campaign, finding.campaign_id)
    assert entity is not None and campaign is not None
    item = item_name(campaign, finding.item_code)
    if submitter is not None and submitter.id != person.id:
        a = await assignment_on(step, submitter, finding.team_id)
        step.send(
            submitter,
            _plain(
                text(
                    "filling.reopened_notice",
                    id=finding.id,
                    employer=entity.name,
                    item=item,
                    by=person.name,
                    reason=reason,
                    task=a.id if a else 0,
                )
            ),
        )
    finding.holder_id = finding.held_since = None
    await deadlines.finding_reopened(step, finding)
    return [_plain(text("filling.reopened", id=finding.id, employer=entity.name, item=item))]


# --- for the staff: where every finding stands, and every answer ----------------------------


async def overview(
    factory: async_sessionmaker[AsyncSession], campaign_id: int, team_number: int | None = None
) -> list[dict[str, Any]]:
    """One row per (team, employer, item) of the campaign's current teams, in team and draw
    order: its state (empty | draft | submitted), who started, filled, holds and submitted it,
    when, and its answers (for an export). Times stay UTC here; callers show them locally."""
    async with factory() as s:
        campaign = await s.get(Campaign, campaign_id)
        if campaign is None:
            raise LookupError(campaign_id)
        teams = [
            t
            for t in await db.teams_of_campaign(s, campaign_id)
            if team_number is None or t.number == team_number
        ]
        findings = await db.findings_of_campaign(s, campaign_id)
        found = {(f.team_id, f.entity_id, f.item_code): f for f in findings}
        ids = {
            i
            for f in findings
            for i in (f.started_by_id, f.holder_id, f.submitted_by_id, *f.answered_by.values())
            if i is not None
        }
        names = {i: p.name for i, p in (await people_by_id(s, [int(i) for i in ids])).items()}
        rows = []
        for team in teams:
            for entity in await assignment_db.team_employers(s, team.id):
                for item in campaign.items:
                    finding = found.get((team.id, entity.id, item["code"]))
                    rows.append(_row(team, entity, item, finding, names))
    return rows


def _row(
    team: Team,
    entity: Entity,
    item: dict[str, Any],
    finding: Finding | None,
    names: dict[int, str],
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "team": team.number,
        "employer": entity.name,
        "uscc": entity.uscc,
        "item": item["code"],
        "item_name": item["name"],
        "finding": finding.id if finding else None,
        "state": finding.state.value if finding else "empty",
    }
    if finding is None:
        return row | {"filled_by": [], "answers": {}, "questions": []}
    fillers = sorted({names.get(int(p), "") for p in finding.answered_by.values()} - {""})
    return row | {
        "started_by": names.get(finding.started_by_id, ""),
        "started_at": finding.started_at.isoformat(),
        "holder": names.get(finding.holder_id, "") if finding.holder_id else None,
        "filled_by": fillers,
        "submitted_by": names.get(finding.submitted_by_id, "") if finding.submitted_by_id else None,
        "submitted_at": finding.submitted_at.isoformat() if finding.submitted_at else None,
        "form_sha256": finding.form_sha256,
        "answers_sha256": finding.answers_sha256,
        "reopened": finding.reopened,
        "answers": dict(finding.draft.get("answers", {})),
        "questions": [
            {"id": q["id"], "text": q["text"], "kind": q["kind"]} for q in finding.form["questions"]
        ],
    }


# --- evidence photos -------------------------------------------------------------------------


async def photo_sent(
    step: Step, person: Person, platform: str, source: str, waiting: dict[str, Any] | None
) -> list[Outgoing]:
    """A picture sent in chat: kept for the photo question being asked, to be downloaded in
    the background (never inside the callback); refused when no photo question is open."""
    finding = None
    if waiting is not None and "finding" in waiting:
        finding = await db.finding(step.session, int(waiting["finding"]), lock=True)
    if finding is None or finding.state is not FindingState.DRAFT:
        return [_plain(text("filling.photo_not_expected"))]
    form = form_from_json(finding.form)
    current = session.start(form, session.Draft.from_json(finding.draft)).question
    if current is None or current.kind != "photos":
        return [_plain(text("filling.photo_not_expected"))]
    stored = len(finding.draft.get("answers", {}).get(current.id, []))
    pending = await db.pending_photos(step.session, finding.id, current.id)
    if stored + pending >= current.max_count:
        return [_plain(text("filling.photos_full", limit=current.max_count))]
    step.session.add(
        FindingPhoto(
            finding_id=finding.id,
            question_id=current.id,
            person_id=person.id,
            platform=platform,
            source=source[:500],
            state=PhotoState.PENDING,
            attempts=0,
            next_attempt_at=step.now,
            created_at=step.now,
        )
    )
    finding.touched_at = step.now
    count = stored + pending + 1
    return [_plain(text("filling.photo_received", count=count, limit=current.max_count))]


async def photo_stored(
    step: Step, photo: FindingPhoto, sha256: str, size: int, content_type: str
) -> None:
    """A downloaded (or uploaded) picture, checked and in the file store: into the finding."""
    photo.state, photo.sha256, photo.size = PhotoState.STORED, sha256, size
    photo.content_type, photo.stored_at = content_type, step.now
    finding = await db.finding(step.session, photo.finding_id, lock=True)
    if finding is None or finding.state is not FindingState.DRAFT:
        return  # submitted or dropped meanwhile: kept in the store, not in the answers
    form = form_from_json(finding.form)
    moved = session.add_photo(
        form, session.Draft.from_json(finding.draft), photo.question_id, sha256
    )
    finding.draft = moved.draft.to_json()
    finding.answered_by = {**finding.answered_by, photo.question_id: photo.person_id}
    await step.audit(
        "finding:photo",
        "findings",
        finding.id,
        None,
        {"question": photo.question_id, "sha256": sha256, "size": size, "type": content_type},
    )


async def photo_failed(step: Step, photo: FindingPhoto, reason: str) -> None:
    """A picture that could not be had: the officer is told once, with the reason."""
    photo.state, photo.last_error = PhotoState.FAILED, reason[:2000]
    person = await step.session.get(Person, photo.person_id)
    if person is not None:
        step.send(person, _plain(text(failure_message(reason))))


def failure_message(reason: str) -> str:
    """Which message explains a failed picture: too big, not a picture, or could not fetch."""
    if reason.startswith("too_big"):
        return "filling.photo_too_big"
    if reason.startswith("not_image"):
        return "filling.photo_not_image"
    return "filling.photo_unavailable"


# --- the sandbox's shortcut ------------------------------------------------------------------


async def fill_with_samples(step: Step, person: Person) -> int:
    """For `suiji demo` only: every finding of the person's team not yet submitted is filled
    with sample answers — each typed answer read as chat reads it (the first option, 「是」,
    the smallest number allowed, today, a sample text; optional photos left out) — and
    submitted as them, audited as any submission. So a team's report can be tried without
    answering two dozen forms by hand. How many were submitted."""
    picked = await _assignment(step, person, None)
    if isinstance(picked, Outgoing):
        return 0
    a, campaign = picked
    assert a.team_id is not None
    context = Context(step.today, campaign.start_on, campaign.end_on)
    done = 0
    for entity in await assignment_db.team_employers(step.session, a.team_id):
        for item in campaign.items:
            finding = await begin(step, person, campaign, a.team_id, entity, item["code"])
            if finding is None or finding.state is FindingState.SUBMITTED:
                continue
            form = form_from_json(finding.form)
            now = session.start(form, session.Draft.from_json(finding.draft))
            for _ in range(len(form.questions) * 2):
                q = now.question
                if q is None:
                    break
                try:
                    value = parse(q, _sample(q), context)
                except AnswerProblem:
                    now = session.skip(form, now.draft)
                    continue
                now = session.answer(form, now.draft, value)
            submitted = session.submit(form, now.draft)
            if not submitted.submitted:
                continue  # a site form the samples cannot answer: left for a person
            finding.draft = submitted.draft.to_json()
            finding.answered_by = {q: person.id for q in submitted.draft.answers}
            await freeze(step, person, finding, form, dict(submitted.draft.answers))
            done += 1
    return done


def _sample(q: Question) -> str:
    if q.kind == "number":
        return str(q.min if q.min is not None else 0)
    if q.kind == "date":
        return text("sandbox.sample_today")
    if q.kind in ("text", "longtext"):
        return text("sandbox.sample_answer")
    if q.kind == "yesno":
        return text("filling.label_yes")
    return "1"  # a choice: its first option
