"""Penalty decisions (行政处罚决定, general procedure; issue 17 §1, §3): recorded from the command
line or a sheet, each opening a publication deadline of 7 working days after the decision day;
prepared for publication (the public row scanned for personal data), approved by a bureau
leader in chat through the approval engine as the results publication is, published (the
deadline closed, late ones marked late) or sent back to whoever recorded it with the comment;
and the 信用中国 (「双公示」) 行政处罚 export of the published ones.

A decision must name the spot-check finding it came from whenever its employer was checked in a
campaign (has a submitted finding): the decision is then the follow-up of that result (S6: what a
spot check finds is punished), and the link is what lets the results, the decision and the
credit grade be traced to each other. An employer never checked in a campaign (a complaint, a
report) has nothing to link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.platforms.messages import Outgoing
from bot.registry.importer import Problem, read_records
from bot.registry.kinds import Record
from bot.registry.penalties import COLUMNS, PENALTIES, export_row
from bot.registry.records import jsonable
from bot.registry.scan import scan_rows, scan_text
from bot.registry.uscc import normalize_uscc, uscc_problem
from bot.workflows import approvals, deadlines
from bot.workflows.publish import (
    Export,
    PublishError,
    ask_bureau_leaders,
    load_people,
    refusal,
)
from bot.workflows.step import Policy, Step
from storage import deadlines as deadline_db
from storage import penalties as db
from storage.campaigns import find_person
from storage.engine import unit_of_work
from storage.models import Approval, Deadline, Entity, Penalty, PenaltyState, Person

Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]
KIND = "penalty_publication"  # the approval engine's kind


class PenaltyError(Exception):
    """A decision that cannot be recorded or published; the message is ready for the user."""


@dataclass(frozen=True)
class Organ:
    """The deciding organ (处罚机关), also the data's source (数据来源单位)."""

    name: str
    uscc: str

    def checked(self) -> Organ:
        name, uscc = self.name.strip(), normalize_uscc(self.uscc)
        if not name or not uscc:
            raise PenaltyError(text("penalty.no_organ"))
        if uscc_problem(uscc) is not None:
            raise PenaltyError(text("penalty.bad_organ_uscc", value=uscc))
        return Organ(name, uscc)


Located = tuple[int, str, str]  # (row, field name or "", reason)
# The fields typed by staff that public_row publishes as they are.
PUBLISHED_TEXT = ("number", "violation", "facts", "legal_basis", "content")


async def _problems(
    session: AsyncSession, rows: Sequence[tuple[int, Record]], today: dt.date
) -> tuple[list[Located], dict[str, Entity]]:
    """What only the database and the clock can tell about decisions read well: the employer
    in the registry, the decision not in the future, its number not taken, its finding, and no
    personal data in what is published (a decision is not edited after: prepare's scan would
    refuse it for good, its deadline open)."""
    employers = await db.entities_by_uscc(session, [r["uscc"] for _, r in rows])
    people = await load_people(session)
    taken = await db.numbers_taken(session, [r["number"] for _, r in rows])
    findings = await db.submitted_findings(session, [e.id for e in employers.values()])
    found: list[Located] = []
    for row, record in rows:
        for name in PUBLISHED_TEXT:
            for hit in scan_text(str(record[name]), people):
                kind = text("publish.kind", value=hit.kind.value)
                found.append((row, name, text("penalty.personal", kind=kind, masked=hit.masked)))
        employer = employers.get(record["uscc"])
        if employer is None:
            found.append((row, "uscc", text("penalty.unknown_employer", uscc=record["uscc"])))
        if record["decided_on"] > today:
            day = record["decided_on"].isoformat()
            found.append((row, "decided_on", text("penalty.future", day=day, today=today)))
        if record["number"] in taken:
            found.append((row, "number", text("penalty.number_taken", number=record["number"])))
        if employer is None:
            continue
        ids = [f.id for f in findings[employer.id]]
        if record["finding"] is None and ids:
            found.append((row, "finding", text("penalty.finding_needed", ids=ids)))
        elif record["finding"] is not None and record["finding"] not in ids:
            reason = text("penalty.finding_not_theirs", id=record["finding"], ids=ids)
            found.append((row, "finding", reason))
    return found, employers


async def _record(
    step: Step, rows: Sequence[tuple[int, Record]], organ: Organ, employers: dict[str, Entity]
) -> list[tuple[Penalty, Deadline]]:
    recorder = await find_person(step.session, step.actor)
    assert recorder is not None, "the command line checked who acts"
    made = []
    for _, decision in rows:
        penalty = Penalty(
            number=decision["number"],
            entity_id=employers[decision["uscc"]].id,
            violation=decision["violation"],
            facts=decision["facts"],
            legal_basis=decision["legal_basis"],
            categories=list(decision["categories"]),
            content=decision["content"],
            amount=decision["amount"],
            decided_on=decision["decided_on"],
            organ=organ.name,
            organ_uscc=organ.uscc,
            finding_id=decision["finding"],
            state=PenaltyState.RECORDED,
            recorded_by=step.actor,
            recorded_at=step.now,
            late=False,
        )
        step.session.add(penalty)
        await step.session.flush()
        deadline = await deadlines.penalty_recorded(step, penalty, recorder)
        after = jsonable(dict(decision, organ=organ.name, organ_uscc=organ.uscc))
        after["due_on"] = deadline.due_on.isoformat()
        await step.audit("penalty:record", "penalties", penalty.id, None, after)
        made.append((penalty, deadline))
    return made


def _lines(found: Sequence[Located]) -> list[tuple[str, str]]:
    headers = PENALTIES.headers()
    return [(headers[f] if f else "", reason) for _, f, reason in found]


@dataclass(frozen=True)
class Recorded:
    penalty: Penalty
    deadline: Deadline  # of its publication
    employer: str  # its registered name


async def record(
    factory: Factory, decision: Record, organ: Organ, actor: str, clock: Clock, policy: Policy
) -> Recorded:
    """``suiji penalty record``: one decision (read by bot.registry.penalties.parse_record)."""
    organ = organ.checked()
    now = clock()
    async with unit_of_work(factory) as session:
        today = now.astimezone(policy.tz).date()
        found, employers = await _problems(session, [(0, decision)], today)
        if found:
            raise PenaltyError(text("penalty.refused", lines=_lines(found)))
        step = Step(session, policy, now, actor)
        ((made, deadline),) = await _record(step, [(0, decision)], organ, employers)
        return Recorded(made, deadline, employers[decision["uscc"]].name)


@dataclass
class Imported:
    problems: list[Problem]
    made: list[tuple[Penalty, Deadline]]


async def import_file(
    factory: Factory, path: Path, organ: Organ, actor: str, clock: Clock, policy: Policy
) -> Imported:
    """``suiji penalty import``: every row of the sheet checked as ``record`` checks one;
    any problem (named by file, row, column and reason) refuses the whole file."""
    organ = organ.checked()
    rows, problems = read_records(PENALTIES, path)
    if problems or not rows:
        return Imported(problems, [])
    now = clock()
    async with unit_of_work(factory) as session:
        found, employers = await _problems(session, rows, now.astimezone(policy.tz).date())
        if found:
            headers = PENALTIES.headers()
            located = [Problem(path.name, r, headers[f] if f else "", why) for r, f, why in found]
            return Imported(sorted(located, key=lambda p: p.row), [])
        step = Step(session, policy, now, actor)
        return Imported([], await _record(step, rows, organ, employers))


async def listing(factory: Factory, policy: Policy, clock: Clock) -> list[dict[str, Any]]:
    """``suiji penalty list``: every decision, by decision date and number, as plain data.
    ``late``: published after its day; ``overdue``: its day passed and not published yet."""
    today = clock().astimezone(policy.tz).date().isoformat()
    async with factory() as session:
        rows = await db.listing(session)
        due = await _due_days(session, [p.id for p, _ in rows])
    return [
        {
            "id": p.id,
            "number": p.number,
            "employer": e.name,
            "uscc": e.uscc,
            "violation": p.violation,
            "categories": list(p.categories),
            "amount": None if p.amount is None else f"{p.amount:f}",
            "decided_on": p.decided_on.isoformat(),
            "due_on": due.get(p.id),
            "state": p.state.value,
            "late": p.late,
            "overdue": p.state is not PenaltyState.PUBLISHED and today > due.get(p.id, today),
            "finding": p.finding_id,
            "recorded_by": p.recorded_by,
            "published_at": p.published_at.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M")
            if p.published_at
            else None,
        }
        for p, e in rows
    ]


async def _due_days(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    found = await deadline_db.of_subjects(session, deadlines.PENALTY_PUBLICATION, "penalty", ids)
    return {d.subject_id: d.due_on.isoformat() for d in found}


# --- publication: the same approval as the results' -----------------------------------------


def public_row(penalty: Penalty, employer: Entity) -> list[str]:
    """The decision as the 行政处罚 layout publishes it: exactly what leaves, nothing else."""
    return export_row(
        {
            "party": employer.name,
            "uscc": employer.uscc,
            "number": penalty.number,
            "violation": penalty.violation,
            "facts": penalty.facts,
            "legal_basis": penalty.legal_basis,
            "categories": penalty.categories,
            "content": penalty.content,
            "amount": penalty.amount,
            "decided_on": penalty.decided_on,
            "organ": penalty.organ,
            "organ_uscc": penalty.organ_uscc,
        }
    )


def headers() -> list[str]:
    return [text("penalty.column", name=c) for c in COLUMNS]


def _scanned(rows: Sequence[list[str]], employers: Sequence[str], people: Any) -> None:
    hits = scan_rows([headers(), *rows], people)
    if hits:
        raise PublishError(refusal(hits, employers, headers()))


async def prepare(
    factory: Factory, penalty_id: int, actor: str, clock: Clock, policy: Policy
) -> Penalty:
    """Prove the decision's public row holds no personal data, and ask the bureau's leaders
    to approve its publication in chat."""
    async with unit_of_work(factory) as session:
        penalty = await db.penalty(session, penalty_id, lock=True)
        if penalty is None:
            raise PublishError(text("penalty.not_found", id=penalty_id))
        if penalty.state is PenaltyState.PUBLISHED:
            raise PublishError(text("penalty.already_published", number=penalty.number))
        if penalty.state is PenaltyState.PENDING:
            raise PublishError(text("penalty.already_pending", number=penalty.number))
        employer = await session.get(Entity, penalty.entity_id)
        assert employer is not None
        _scanned([public_row(penalty, employer)], [employer.name], await load_people(session))
        step = Step(session, policy, clock(), actor)
        request = await ask_bureau_leaders(step, KIND, penalty.id)
        before = {"state": penalty.state.value}
        penalty.state, penalty.approval_id = PenaltyState.PENDING, request.id
        await step.audit(
            "penalty:prepare",
            "penalties",
            penalty.id,
            before,
            {"state": "pending", "approval": request.id},
        )
        return penalty


async def _subject(step: Step, approval: Approval) -> tuple[Penalty, Entity]:
    penalty = await step.session.get(Penalty, approval.subject_id)
    assert penalty is not None
    employer = await step.session.get(Entity, penalty.entity_id)
    assert employer is not None
    return penalty, employer


async def _describe(step: Step, approval: Approval) -> tuple[str, str]:
    # Unlike a draw's targets, the employer is no secret here: the decision has been served,
    # and the leader must see whom it names to approve making it public.
    penalty, employer = await _subject(step, approval)
    summary = text(
        "penalty.approval_summary",
        number=penalty.number,
        employer=employer.name,
        violation=penalty.violation,
        content=penalty.content,
        decided_on=penalty.decided_on.isoformat(),
    )
    return text("penalty.approval_title"), summary


async def _lock(step: Step, approval: Approval) -> None:
    await db.penalty(step.session, approval.subject_id, lock=True)


async def _apply(step: Step, approval: Approval, decider: Person, approve: bool) -> None:
    """Approved: published, its deadline closed (late or not). Rejected: back to whoever
    recorded it, with the comment, to change and prepare again."""
    penalty, _ = await _subject(step, approval)
    after: dict[str, object] = {"by": decider.name}
    if approve:
        penalty.state, penalty.published_at = PenaltyState.PUBLISHED, step.now
        penalty.late = await deadlines.penalty_published(step, penalty)
        after |= {"state": "published", "late": penalty.late}
        notice = text("penalty.published_notice", number=penalty.number, late=penalty.late)
    else:
        penalty.state = PenaltyState.REJECTED
        after |= {"state": "rejected", "comment": approval.comment}
        notice = text(
            "penalty.rejected_notice",
            id=penalty.id,
            number=penalty.number,
            by=decider.name,
            comment=approval.comment or "",
        )
    action = "penalty:publish" if approve else "penalty:reject"
    await step.audit(action, "penalties", penalty.id, {"state": "pending"}, after)
    recorder = await find_person(step.session, penalty.recorded_by)
    if recorder is not None and recorder.id != decider.id:
        step.send(recorder, Outgoing.plain(notice))


approvals.register(KIND, approvals.Kind(_describe, _apply, _lock))


async def export(factory: Factory) -> Export:
    """The published decisions in the 信用中国 行政处罚 layout, by decision date and number,
    scanned before anything is written."""
    async with factory() as session:
        published = await db.published_penalties(session)
        people = await load_people(session)
    rows = [public_row(p, e) for p, e in published]
    _scanned(rows, [e.name for _, e in published], people)
    return Export(headers(), rows)
