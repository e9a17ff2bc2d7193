"""A finding on its page (issue 14 §4): the same draft as in chat, any question at once.

Owns who may see a finding's page (officers of its team, leader included, once it exists: a
finding is begun on or after the campaign's start), what the page holds (the form frozen into
the finding, every question shown with its answer, whether it may be edited now and, if not,
why), and the page's moves: answers saved as given (each read exactly as chat reads it, so an
answer refused in chat is refused here with the same words), a photo uploaded, a photo taken
back, and submitting. The holder rule is chat's (bot.workflows.findings.hold): whoever saves
holds the draft, and a teammate filling it in chat meanwhile is told on the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.base.texts import text
from bot.forms import session
from bot.forms.answers import AnswerProblem, Context, choose, parse
from bot.forms.definition import Form, form_from_json
from bot.forms.engine import required, shown
from bot.workflows import findings
from bot.workflows.step import Forbidden, Step
from storage import findings as db
from storage.models import Campaign, Entity, Finding, FindingPhoto, Person, PhotoState


@dataclass(frozen=True)
class Page:
    """What the page shows. ``editable`` False comes with ``notice``: submitted, or held by a
    teammate now."""

    finding: Finding
    form: Form
    draft: session.Draft
    employer: str
    item: str
    editable: bool
    notice: str = ""


@dataclass
class Outcome:
    """What a save did: the answers refused (question id → reason, with what was typed, kept
    on the page so nothing is lost), the note to show, whether it was submitted."""

    errors: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str | list[str]] = field(default_factory=dict)
    note: str = ""
    submitted: bool = False
    refused: bool = False  # nothing was done: the note says why
    done: str = "saved"  # what went through: saved | submitted | photos | removed


async def _team_finding(step: Step, person: Person, finding_id: int, lock: bool) -> Finding:
    finding = await db.finding(step.session, finding_id, lock=lock)
    if finding is None or await findings.assignment_on(step, person, finding.team_id) is None:
        raise Forbidden(finding_id)
    return finding


async def page(step: Step, person: Person, finding_id: int) -> Page:
    """The page of a finding of the person's team; Forbidden for anyone else."""
    finding = await _team_finding(step, person, finding_id, lock=False)
    return await _page(step, person, finding)


async def _page(step: Step, person: Person, finding: Finding) -> Page:
    entity = await step.session.get(Entity, finding.entity_id)
    campaign = await step.session.get(Campaign, finding.campaign_id)
    assert entity is not None and campaign is not None
    form = form_from_json(finding.form)
    draft = session.start(form, session.Draft.from_json(finding.draft)).draft
    refusal = await findings.refusal(step, person, finding)
    return Page(
        finding,
        form,
        draft,
        entity.name,
        findings.item_name(campaign, finding.item_code),
        editable=refusal is None,
        notice=refusal or "",
    )


async def _editable(step: Step, person: Person, finding_id: int) -> tuple[Finding, str | None]:
    """The finding, locked, held by the person now; or the reason it cannot be edited."""
    finding = await _team_finding(step, person, finding_id, lock=True)
    refused = await findings.hold(step, person, finding)
    return finding, refused.text if refused is not None else None


async def save(
    step: Step,
    person: Person,
    finding_id: int,
    on_page: Sequence[str],
    fields: Mapping[str, str | list[str]],
    submit: bool,
) -> Outcome:
    """Answers from the page: ``on_page`` the questions it showed (one left empty is
    cleared), ``fields`` what was entered, by question id. Each answer is read alone; those
    that read are kept, the others named. Submitting needs none refused and none missing."""
    finding, refused = await _editable(step, person, finding_id)
    if refused is not None:
        return Outcome(note=refused, refused=True)
    form = form_from_json(finding.form)
    draft = session.Draft.from_json(finding.draft)
    campaign = await step.session.get(Campaign, finding.campaign_id)
    assert campaign is not None
    context = Context(step.today, campaign.start_on, campaign.end_on)
    outcome = Outcome()
    changes: dict[str, Any] = {}
    asked = {q.id: q for q in form.questions if q.kind != "photos"}
    for question_id in dict.fromkeys(on_page):
        q = asked.get(question_id)
        if q is None:
            continue
        given = fields.get(question_id, "")
        values = [given] if isinstance(given, str) else list(given)
        values = [v.strip() for v in values if v.strip()]
        try:
            if not values:
                changes[q.id] = None
            elif q.kind == "multiple":
                changes[q.id] = choose(q, values)
            else:
                changes[q.id] = parse(q, values[0], context)
        except AnswerProblem as problem:
            outcome.errors[q.id] = text(f"forms.{problem.key}", **problem.values)
            outcome.typed[q.id] = given
    changed = {k: v for k, v in changes.items() if draft.answers.get(k) != v}
    moved = session.fill(form, draft, changed)
    visible = {q.id for q in shown(form, moved.draft.answers)}
    outcome.errors = {k: v for k, v in outcome.errors.items() if k in visible}
    finding.answered_by = {
        **finding.answered_by,
        **{k: person.id for k, v in changed.items() if v is not None and k in visible},
    }
    finding.draft, finding.touched_at = moved.draft.to_json(), step.now
    if not submit:
        outcome.note = text("page.saved") if not outcome.errors else text("page.some_refused")
        return outcome
    if outcome.errors:
        outcome.note = text("page.fix_first")
        return outcome
    done = session.submit(form, moved.draft)
    if not done.submitted:
        names = [q.text for q in done.missing]
        outcome.note = text("page.missing", names=names)
        outcome.errors = {q.id: text("page.required") for q in done.missing}
        return outcome
    outcome.note = await findings.freeze(step, person, finding, form, dict(done.draft.answers))
    outcome.submitted, outcome.done = True, "submitted"
    return outcome


async def add_photos(
    step: Step,
    person: Person,
    finding_id: int,
    question_id: str,
    stored: Sequence[tuple[str, int, str]],
) -> Outcome:
    """Photos uploaded on the page, already checked and in the file store (sha256, size,
    type): into the finding as chat's are, audited one by one. What to tell the officer."""
    finding, refused = await _editable(step, person, finding_id)
    if refused is not None:
        return Outcome(note=refused, refused=True)
    form = form_from_json(finding.form)
    draft = session.Draft.from_json(finding.draft)
    q = next((x for x in shown(form, draft.answers) if x.id == question_id), None)
    if q is None or q.kind != "photos":
        return Outcome(note=text("filling.photo_not_expected"), refused=True)
    room = q.max_count - len(draft.answers.get(q.id, []))
    if len(stored) > room:
        return Outcome(note=text("filling.photos_full", limit=q.max_count), refused=True)
    for sha256, size, content_type in stored:
        photo = FindingPhoto(
            finding_id=finding.id,
            question_id=q.id,
            person_id=person.id,
            platform="page",
            source="upload",
            state=PhotoState.PENDING,
            attempts=0,
            next_attempt_at=step.now,
            created_at=step.now,
        )
        step.session.add(photo)
        await findings.photo_stored(step, photo, sha256, size, content_type)
    return Outcome(note=text("page.done_photos"), done="photos")


async def remove_photo(
    step: Step, person: Person, finding_id: int, question_id: str, sha256: str
) -> Outcome:
    finding, refused = await _editable(step, person, finding_id)
    if refused is not None:
        return Outcome(note=refused, refused=True)
    form = form_from_json(finding.form)
    moved = session.remove_photo(form, session.Draft.from_json(finding.draft), question_id, sha256)
    finding.draft, finding.touched_at = moved.draft.to_json(), step.now
    removed: dict[str, object] = {"question": question_id, "sha256": sha256}
    await step.audit("finding:photo_removed", "findings", finding.id, removed, None)
    return Outcome(note=text("page.done_removed"), done="removed")


async def photo_of(step: Step, person: Person, finding_id: int, sha256: str) -> bool:
    """Whether the photo is one of this finding's (submitted or draft), for its team only."""
    finding = await _team_finding(step, person, finding_id, lock=False)
    return any(
        sha256 in value
        for value in finding.draft.get("answers", {}).values()
        if isinstance(value, list)
    )


def questions(form: Form, answers: Mapping[str, Any]) -> list[tuple[int, Any, bool]]:
    """The page's questions: (number, question, required now), numbered as the chat's review
    numbers them."""
    return [(n, q, required(q, answers)) for n, q in enumerate(shown(form, answers), 1)]
