"""Deadlines as data (issue 16 §2–§3): made and closed by the workflows that own their
subjects, reminded by the scheduler's tick in one digest per person, listed in 「待办」 and by
``suiji deadlines list``.

Owns when a deadline is made (a campaign drawn: its start, each team's findings and report; an
approval requested; a finding submitted with a rectification deadline; a campaign reported: its
publication) and closed (the work done, or gone: decided, submitted, sent back, drawn again),
and the tick: the days open deadlines fall due on read in one query, the pure policy
(handlers.reminders) says which step is due on each, the deadlines behind it are read in one
more (plain rows; a tick with nothing due reads none), the policy says to whom, those are
**claimed** (``last_step`` moved on, only where it was behind, tagged with the tick's token)
and the digests queued in one INSERT, all in one transaction — so that each step goes out
once across restarts and several processes, and a deadline closed meanwhile is never
reminded.

An assignment's answer (「确认参加」/「无法参加」) keeps its own reminder
(bot.workflows.assignments.remind_unanswered: a card with the buttons to answer, once after
``assignments.remind_after_hours`` hours); its clock is the assignment row itself, which every
workflow that changes an assignment already keeps, so it is not copied here: 「待办」 and
``suiji deadlines list`` read the answers still awaited from the assignments (kind
``assignment_answer``, due the last day 「无法参加」 is accepted).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.calendar import (
    Overrides,
    overrides_of,
    uncovered_next_year,
    working_days_after,
)
from bot.base.texts import text
from bot.platforms.messages import Outgoing
from bot.workflows.step import Policy, Step
from handlers import reminders as rules
from handlers.commands import Command
from storage import assignments as assignments_db
from storage import audit
from storage import calendar as calendar_db
from storage import deadlines as db
from storage.engine import unit_of_work
from storage.findings import teams_of_campaign
from storage.models import (
    Approval,
    Assignment,
    AssignmentRole,
    Campaign,
    Deadline,
    DeadlineState,
    Finding,
    Penalty,
    Person,
    Report,
    Team,
)

Clock = Callable[[], dt.datetime]
Factory = async_sessionmaker[AsyncSession]

CAMPAIGN_START, FINDINGS_DUE, REPORT_DUE = "campaign_start", "findings_due", "report_due"
APPROVAL, RECTIFICATION, PUBLICATION = "approval", "rectification", "publication"
PENALTY_PUBLICATION = "penalty_publication"
KINDS = (
    CAMPAIGN_START,
    FINDINGS_DUE,
    REPORT_DUE,
    APPROVAL,
    RECTIFICATION,
    PUBLICATION,
    PENALTY_PUBLICATION,
)
DRAWN_KINDS = (CAMPAIGN_START, FINDINGS_DUE, REPORT_DUE)
ANSWER = "assignment_answer"  # read from the assignments, never a row here (see above)
BUTTONS = {
    CAMPAIGN_START: "fill",
    FINDINGS_DUE: "fill",
    REPORT_DUE: "progress",
    APPROVAL: "approve",
    RECTIFICATION: "progress",
}


def _new(
    step: Step,
    kind: str,
    subject: tuple[str, int],
    owner_id: int,
    due: tuple[dt.date, int | None],
    overrides: Overrides,
    *,
    campaign_id: int | None = None,
    team_id: int | None = None,
) -> Deadline:
    """A deadline due ``offset`` working days after ``base`` (offset None: on ``base``)."""
    base, offset = due
    reckoned = working_days_after(base, offset or 0, overrides)
    return Deadline(
        kind=kind,
        subject_kind=subject[0],
        subject_id=subject[1],
        campaign_id=campaign_id,
        team_id=team_id,
        owner_id=owner_id,
        due_on=reckoned.day,
        rule=f"{kind}:{offset if offset is not None else 'on'}",
        base_on=base if offset is not None else None,
        offset_days=offset,
        estimated=reckoned.estimated,
        state=DeadlineState.OPEN,
        created_at=step.now,
        escalation=0,
    )


async def load_overrides(session: AsyncSession) -> Overrides:
    """The calendar's imported years (bot.workflows.calendar, which imports this module, has
    the same for its own use)."""
    return overrides_of(await calendar_db.overrides(session))


# --- made and closed by the workflows that own them -----------------------------------------


async def campaign_drawn(step: Step, campaign: Campaign) -> None:
    """A draw (run again or not) made the teams: each leader's start and report, and each
    member's findings — the officers fill them in, so they are reminded, and their team
    leader only once they are late (a team with no member left: its leader)."""
    await db.close_of_campaign(step.session, campaign.id, DRAWN_KINDS, step.now, "redrawn")
    known = await load_overrides(step.session)
    days = step.policy.deadlines
    made = []
    for team in await teams_of_campaign(step.session, campaign.id):
        where = {"campaign_id": campaign.id, "team_id": team.id}
        subject, leader = ("team", team.id), team.leader_id
        members = [
            a.person_id
            for a, _ in await assignments_db.team_members(step.session, team.id)
            if a.role is AssignmentRole.MEMBER and a.state in assignments_db.ACTIVE
        ]
        for kind, owners, due in (
            (CAMPAIGN_START, [leader], (campaign.start_on, None)),
            (FINDINGS_DUE, members or [leader], (campaign.end_on, days.findings_days)),
            (REPORT_DUE, [leader], (campaign.end_on, days.report_days)),
        ):
            made += [_new(step, kind, subject, owner, due, known, **where) for owner in owners]
    db.add(step.session, made)


async def member_replaced(step: Step, team: Team, gone_id: int, substitute_id: int | None) -> None:
    """An officer taken off a team: their findings deadline passes to the substitute; with
    none, it goes — unless it was the team's last, which passes to the team leader."""
    team_open = await db.open_of_team(step.session, team.id, FINDINGS_DUE)
    mine = [d for d in team_open if d.owner_id == gone_id]
    others = len(team_open) - len(mine)
    heir = substitute_id if substitute_id is not None else None if others else team.leader_id
    for deadline in mine:
        if heir is None:
            deadline.state, deadline.closed_at = DeadlineState.CLOSED, step.now
            deadline.closed_why = "replaced"
        else:
            deadline.owner_id = heir


async def approval_requested(step: Step, approval: Approval) -> None:
    known = await load_overrides(step.session)
    due = (step.today, step.policy.deadlines.approval_days)
    db.add(
        step.session,
        [
            _new(step, APPROVAL, ("approval", approval.id), owner, due, known)
            for owner in approval.approver_ids
        ],
    )


async def approval_settled(step: Step, approval: Approval) -> None:
    why = "cancelled" if approval.decided_by_id is None else "decided"
    await _close(step, why, ("approval", approval.id))


async def _close(step: Step, why: str, subject: tuple[str, int], *kinds: str) -> None:
    await db.close(
        step.session, step.now, why, subject_kind=subject[0], subject_ids=[subject[1]], kinds=kinds
    )


async def report_submitted(step: Step, report: Report) -> None:
    await _close(step, "submitted", ("team", report.team_id), REPORT_DUE)


def rectify_by(answers: dict[str, Any]) -> dt.date | None:
    """The rectification deadline a finding's answers set, if any."""
    if answers.get("measure") != text("deadlines.ordered_measure"):
        return None
    try:
        return dt.date.fromisoformat(str(answers.get("rectify_by") or ""))
    except ValueError:
        return None


async def finding_submitted(
    step: Step, finding: Finding, answers: dict[str, Any], team_done: bool
) -> None:
    """A finding submitted: the team's findings deadline closes once all are in; a result that
    orders rectification by a date starts a deadline for the team leader to follow it up."""
    team = await step.session.get(Team, finding.team_id)
    if team is None:
        return
    if team_done:
        await _close(step, "done", ("team", team.id), CAMPAIGN_START, FINDINGS_DUE)
    day = rectify_by(answers)
    if day is not None:
        known = await load_overrides(step.session)
        where = {"campaign_id": finding.campaign_id, "team_id": team.id}
        subject = ("finding", finding.id)
        deadline = _new(step, RECTIFICATION, subject, team.leader_id, (day, None), known, **where)
        db.add(step.session, [deadline])


async def finding_reopened(step: Step, finding: Finding) -> None:
    """Sent back: its rectification deadline goes (submitting it again sets it anew)."""
    await _close(step, "reopened", ("finding", finding.id))


async def rectified(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「已整改 结果N 说明」: the team's leader records that a finding's ordered rectification
    was carried out; its deadline closes (audited) and is reminded no more."""
    if command.number is None:
        return [Outgoing.plain(text("deadlines.rectified_usage"))]
    found = await db.open_of(step.session, RECTIFICATION, "finding", command.number)
    if not found:
        return [Outgoing.plain(text("deadlines.rectified_none", id=command.number))]
    team = await step.session.get(Team, found[0].team_id) if found[0].team_id else None
    if person.id not in {d.owner_id for d in found} | {team.leader_id if team else None}:
        return [Outgoing.plain(text("deadlines.rectified_not_leader", id=command.number))]
    note = (command.rest or "")[:500]
    for d in found:
        d.state, d.closed_at, d.closed_why = DeadlineState.CLOSED, step.now, "rectified"
        await step.audit(
            "deadline:close",
            "deadlines",
            d.id,
            {"state": "open", "due_on": d.due_on.isoformat()},
            {"state": "closed", "why": "rectified", "note": note, "by": person.name},
        )
    due = found[0].due_on.isoformat()
    return [Outgoing.plain(text("deadlines.rectified_done", id=command.number, due=due))]


async def campaign_reported(step: Step, campaign: Campaign, leaders: Sequence[Person]) -> None:
    """Every report approved: the unit's leaders are to publish within so many working days
    of the campaign's **end** (DOMAIN.md: 20 after the check's end, not after the reports;
    closed by the publication workflow, issue 17)."""
    known = await load_overrides(step.session)
    due = (campaign.end_on, step.policy.deadlines.publication_days)
    subject = ("campaign", campaign.id)
    made = [
        _new(step, PUBLICATION, subject, p.id, due, known, campaign_id=campaign.id) for p in leaders
    ]
    db.add(step.session, made)


async def campaign_published(step: Step, campaign: Campaign) -> bool:
    """Its results published (issue 17): the publication deadline closes, as ``published``
    or, after its day, ``published_late`` (kept, never hidden). Whether it was late."""
    rule = (campaign.end_on, step.policy.deadlines.publication_days)
    return await _published(step, PUBLICATION, ("campaign", campaign.id), rule)


async def _published(
    step: Step, kind: str, subject: tuple[str, int], rule: tuple[dt.date, int]
) -> bool:
    """Close the publication's deadline; whether it was late — by its open deadline or, when
    none was made (a unit with no leader to own it), by the ``rule`` (base day, working days)
    itself: late is never missed for want of a row."""
    due = [d.due_on for d in await db.open_of(step.session, kind, *subject)]
    if not due:
        due = [working_days_after(*rule, await load_overrides(step.session)).day]
    late = step.today > min(due)
    await _close(step, "published_late" if late else "published", subject, kind)
    return late


async def penalty_recorded(step: Step, penalty: Penalty, owner: Person) -> Deadline:
    """A penalty decision recorded: whoever recorded it has so many working days after the
    decision day (not counted) to have it published (closed by bot.workflows.penalties). One
    that follows a campaign's finding belongs to that campaign too: it is listed with it, and
    escalates to the leaders of the unit that ran it."""
    known = await load_overrides(step.session)
    due = (penalty.decided_on, step.policy.deadlines.penalty_publication_days)
    finding = await step.session.get(Finding, penalty.finding_id) if penalty.finding_id else None
    subject, campaign_id = ("penalty", penalty.id), finding.campaign_id if finding else None
    made = _new(step, PENALTY_PUBLICATION, subject, owner.id, due, known, campaign_id=campaign_id)
    db.add(step.session, [made])
    return made


async def penalty_published(step: Step, penalty: Penalty) -> bool:
    """Its publication approved: the deadline closes, late or not (kept). Whether late."""
    rule = (penalty.decided_on, step.policy.deadlines.penalty_publication_days)
    return await _published(step, PENALTY_PUBLICATION, ("penalty", penalty.id), rule)


async def campaign_unreported(step: Step, campaign: Campaign) -> None:
    await _close(step, "unreported", ("campaign", campaign.id), PUBLICATION)


async def recount_estimated(session: AsyncSession) -> int:
    """After a year is imported: estimated days counted again; how many changed."""
    known = await load_overrides(session)
    changed = 0
    for d in await db.estimated_open(session):
        assert d.base_on is not None
        reckoned = working_days_after(d.base_on, d.offset_days or 0, known)
        if (reckoned.day, reckoned.estimated) != (d.due_on, d.estimated):
            d.due_on, d.estimated = reckoned.day, reckoned.estimated
            changed += 1
    return changed


# --- the tick ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """What a tick would send: each person's digest items and why."""

    person: Person
    items: list[rules.Item]
    steps: list[tuple[int, int, int]]  # (deadline id, step, level)


def _chain(
    d: db.Brief,
    people: dict[int, Person],
    unit_leaders: dict[int, tuple[int, ...]],
    reachable: set[int],
) -> tuple[tuple[int, ...], ...]:
    """Whom to tell at each level, only those the bot can reach (``unit_leaders``: reachable
    already)."""
    unit = d.unit_id if d.unit_id is not None else people[d.owner_id].unit_id  # no campaign
    return (
        (d.owner_id,) if d.owner_id in reachable else (),
        (d.team_leader_id,) if d.team_leader_id in reachable else (),
        unit_leaders.get(unit, ()),
    )


def item_of(d: db.Brief, owner: str, days_left: int, viewer: int) -> rules.Item:
    return rules.Item(
        id=d.id,
        kind=d.kind,
        campaign=d.campaign,
        team=d.team,
        due_on=d.due_on,
        estimated=d.estimated,
        days_left=days_left,
        owner=owner,
        mine=d.owner_id == viewer,
        button=BUTTONS.get(d.kind, ""),
        subject_id=d.subject_id,
    )


def _items(
    rows: Sequence[db.Row], today: dt.date, known: Overrides, viewer: int
) -> list[rules.Item]:
    return [
        item_of(db.brief(row), row[1].name, rules.days_left(row[0].due_on, today, known), viewer)
        for row in rows
    ]


def answer_by(policy: Policy, start: dt.date) -> dt.date:
    """The last day an assignment can be answered either way: 「无法参加」 closes
    ``decline_closes_days_before_start`` days before the start (0: on it)."""
    return start - dt.timedelta(days=policy.decline_closes_days_before_start + 1)


def _answer(
    policy: Policy, row: tuple[Assignment, Person, Campaign], today: dt.date, known: Overrides
) -> tuple[rules.Item, Person]:
    """An awaited answer as an item, and who owes it."""
    a, person, campaign = row
    due = answer_by(policy, campaign.start_on)
    item = rules.Item(
        id=a.id,
        kind=ANSWER,
        campaign=campaign.name,
        team=a.team_number,
        due_on=due,
        estimated=False,
        days_left=rules.days_left(due, today, known),
        owner=person.name,
        subject_id=a.id,
    )
    return item, person


async def plan(
    session: AsyncSession, policy: Policy, now: dt.datetime
) -> tuple[list[Planned], list[rules.Due]]:
    """Who would be sent what at ``now`` (nothing is written): the preview and the tick. Reads
    only the deadlines with a step due (by the days open deadlines fall on: a few dozen
    answers of the pure policy, not one per deadline); quiet, it reads no deadline at all."""
    known = await load_overrides(session)
    today = now.astimezone(policy.tz).date()
    window = rules.window(await db.open_days(session), now, policy.deadlines, policy.tz, known)
    if window.empty:
        return [], []
    rows = await db.open_behind(session, window.steps, window.start_steps, rules.NO_OVERDUE)
    if not rows:
        return [], []
    leaders = await db.leaders_by_unit(session)
    wanted = {d.owner_id for d in rows} | {d.team_leader_id for d in rows if d.team_leader_id}
    people = await db.people(session, wanted)
    everyone = {p.id: p for ps in leaders.values() for p in ps} | people
    reachable = {p.id for p in everyone.values() if policy.address(p) is not None}
    unit_leaders = {u: tuple(p.id for p in ps if p.id in reachable) for u, ps in leaders.items()}
    opened = [
        rules.Open(d.id, d.kind, d.due_on, d.last_step, _chain(d, people, unit_leaders, reachable))
        for d in rows
    ]
    due = rules.due_reminders(opened, now, policy.deadlines, policy.tz, known)
    by_id = {d.id: d for d in rows}
    left: dict[dt.date, int] = {}  # days left, by due day: the same for every deadline that day
    planned: dict[int, Planned] = {}
    for found in due:
        d = by_id[found.deadline_id]
        if d.due_on not in left:
            left[d.due_on] = rules.days_left(d.due_on, today, known)
        owner = everyone[d.owner_id].name
        for pid in found.recipients:
            entry = planned.setdefault(pid, Planned(everyone[pid], [], []))
            entry.items.append(item_of(d, owner, left[d.due_on], pid))
            entry.steps.append((d.id, found.step, found.level))
    return list(planned.values()), due


async def remind_due(factory: Factory, policy: Policy, clock: Clock) -> int:
    """One tick: claim every due (deadline, step) and queue one digest per person, in one
    transaction. How many digests were queued."""
    now = clock()
    async with unit_of_work(factory) as session:
        await db.close_passed(
            session, [CAMPAIGN_START], now.astimezone(policy.tz).date(), now, "started"
        )
        planned, due = await plan(session, policy, now)
        if not due:
            return 0
        token = uuid.uuid4().hex
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for found in due:
            groups[(found.step, found.level)].append(found.deadline_id)
        for (step_no, level), ids in sorted(groups.items()):
            await db.claim(session, ids, step_no, level, token, now)
        mine = await db.claimed(session, token)
        mail = []
        for entry in planned:
            items = [i for i in entry.items if i.id in mine]
            if items:
                mail.append((entry.person, rules.digest(entry.person.name, items)))
        await Step(session, policy, now, "scheduler").send_all(mail)
        return len(mail)


async def ask_for_calendar(factory: Factory, policy: Policy, clock: Clock) -> int:
    """From 1 November, while next year's working days are not known (no package release nor
    import covers it), the admins are asked once a week to import it: the ask is a deadline
    row per year whose ``last_step`` is the ISO week last asked in, checked and moved under the
    audit head's lock, so that several processes ticking at once ask once. Closed once the year
    is covered. How many admins were sent the message."""
    now = clock()
    local = now.astimezone(policy.tz)
    async with factory() as session:
        known = await load_overrides(session)
        year = uncovered_next_year(local.date(), known)
        asked = await db.calendar_year(session, year or local.year + 1)
    if year is None:
        if asked is not None:
            async with unit_of_work(factory) as session:
                await db.close(
                    session, now, "imported", subject_kind="year", subject_ids=[asked.subject_id],
                    kinds=[db.CALENDAR_YEAR],
                )  # fmt: skip
        return 0
    iso = local.isocalendar()
    week = iso.year * 100 + iso.week
    if not rules.allowed(local, policy.deadlines, known) or (
        asked is not None and (asked.last_step or 0) >= week
    ):
        return 0
    async with unit_of_work(factory) as session:
        await audit.lock_head(session)
        asked = await db.calendar_year(session, year)
        if asked is not None and (asked.last_step or 0) >= week:
            return 0  # another process asked this week, while we were reading
        admins = await assignments_db.admins(session)
        if not admins:
            return 0
        if asked is None:
            asked = Deadline(
                kind=db.CALENDAR_YEAR, subject_kind="year", subject_id=year,
                owner_id=admins[0].id, due_on=dt.date(year, 1, 1) - dt.timedelta(days=1),
                rule=f"{db.CALENDAR_YEAR}:weekly", estimated=False, state=DeadlineState.OPEN,
                created_at=now, escalation=0,
            )  # fmt: skip
            db.add(session, [asked])
        asked.last_step, asked.reminded_at = week, now
        step = Step(session, policy, now, "scheduler")
        told = [a for a in admins if policy.address(a) is not None]
        for admin in told:
            step.send(admin, Outgoing.plain(text("deadlines.calendar_missing", year=year)))
        return len(told)


# --- 「待办」 and the command line -------------------------------------------------------------


async def todo(step: Step, person: Person) -> list[Outgoing]:
    """「待办」: my open deadlines, soonest first; a leader also sees the overdue deadlines of
    their unit's campaigns, and a team leader their team's."""
    known = await load_overrides(step.session)
    rows = await db.open_rows(step.session, owner_ids=[person.id])
    answers = await assignments_db.awaiting_answer(step.session, step.today, person_id=person.id)
    mine = _items(rows, step.today, known, person.id)
    mine += [_answer(step.policy, row, step.today, known)[0] for row in answers]
    mine.sort(key=lambda item: item.due_on)
    others: list[rules.Item] = []
    led = await db.teams_led_by(step.session, person.id)
    if person.is_leader or led:
        rows = await db.open_rows(
            step.session,
            team_ids=led,
            unit_id=person.unit_id if person.is_leader else None,
            due_before=step.today,
        )
        theirs = [row for row in rows if row[1].id != person.id]
        others = _items(theirs, step.today, known, person.id)
    return [rules.todo(person.name, mine, [i for i in others if i.overdue])]


async def listing(
    factory: Factory,
    policy: Policy,
    now: dt.datetime,
    *,
    campaign_id: int | None = None,
    overdue: bool = False,
) -> list[dict[str, Any]]:
    """``suiji deadlines list``: open deadlines and the assignment answers still awaited,
    soonest first, as plain data."""
    today = now.astimezone(policy.tz).date()
    async with factory() as session:
        known = await load_overrides(session)
        rows = await db.open_rows(
            session, campaign_id=campaign_id, due_before=today if overdue else None
        )
        answers = await assignments_db.awaiting_answer(session, today, campaign_id=campaign_id)
    found = []
    for d, owner, campaign, team in rows:
        left = rules.days_left(d.due_on, today, known)
        item = item_of(db.brief((d, owner, campaign, team)), owner.name, left, owner.id)
        found.append(
            _listed(policy, item, owner, d.campaign_id, f"{d.subject_kind}:")
            | {"rule": d.rule, "escalation": d.escalation, "last_step": d.last_step}
            | {"reminded": d.last_step is not None}
        )
    for row in answers:
        item, owner = _answer(policy, row, today, known)
        if not overdue or item.due_on < today:
            rule = f"{ANSWER}:{policy.decline_closes_days_before_start}"
            found.append(
                _listed(policy, item, owner, row[2].id, "assignment:")
                | {"id": None, "rule": rule, "escalation": 0, "last_step": None}
                | {"reminded": row[0].reminded_at is not None}
            )
    return sorted(found, key=lambda r: str(r["due_on"]))


def _listed(
    policy: Policy, item: rules.Item, owner: Person, campaign_id: int | None, subject: str
) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "campaign_id": campaign_id,
        "campaign": item.campaign,
        "team": item.team,
        "subject": f"{subject}{item.subject_id}",
        "subject_id": item.subject_id,
        "owner": owner.name,
        "owner_reachable": policy.address(owner) is not None,
        "due_on": item.due_on.isoformat(),
        "estimated": item.estimated,
        "days_left": item.days_left,
        "overdue": item.overdue,
    }


async def answers_to_remind(
    session: AsyncSession, policy: Policy, at: dt.datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The assignment answers that remind_unanswered would remind at ``at``, as (who, item):
    awaited, never reminded, sent more than ``remind_after_hours`` before, and ``at`` a
    working day out of quiet hours."""
    local = at.astimezone(policy.tz)
    known = await load_overrides(session)
    if not rules.allowed(local, policy.deadlines, known):
        return []
    sent_before = at - dt.timedelta(hours=policy.remind_after_hours)
    # The same choice as the reminder's own (storage.assignments.unanswered), then as listed.
    due = set(await assignments_db.unanswered(session, sent_before, local.date()))
    found = []
    for row in await assignments_db.awaiting_answer(session, local.date()):
        if row[0].id not in due:
            continue
        item, person = _answer(policy, row, local.date(), known)
        found.append((person.name, _previewed(item, after_hours=policy.remind_after_hours)))
    return found


def _previewed(item: rules.Item, **why: Any) -> dict[str, Any]:
    """An item as the dry run lists it, with why it goes (its step and level, or for an
    assignment's answer the hours after which it is reminded)."""
    return {
        "id": item.id,
        "kind": item.kind,
        "campaign": item.campaign,
        "team": item.team,
        "due_on": item.due_on.isoformat(),
        "estimated": item.estimated,
        "days_left": item.days_left,
        "as_owner": item.mine,
        **why,
    }


async def preview(factory: Factory, policy: Policy, at: dt.datetime) -> list[dict[str, Any]]:
    """``suiji reminders preview``: who would get what at ``at``, and why; nothing written."""
    async with factory() as session:
        planned, due = await plan(session, policy, at)
        answers = await answers_to_remind(session, policy, at)
    steps = {f.deadline_id: f for f in due}
    found: list[dict[str, Any]] = [
        {
            "person": entry.person.name,
            "items": [
                _previewed(item, step=steps[item.id].step, level=steps[item.id].level)
                for item in entry.items
            ],
        }
        for entry in planned
    ]
    # The assignments' own reminders (bot.workflows.assignments.remind_unanswered) at ``at``
    # too: the same dry run shows everything the bot would send then.
    for name, item in answers:
        entry = next((e for e in found if e["person"] == name), None)
        if entry is None:
            entry = {"person": name, "items": []}
            found.append(entry)
        entry["items"].append(item)
    unreachable = [f.deadline_id for f in due if not f.recipients]
    if unreachable:
        found.append({"person": "", "items": [{"id": i, "unreachable": True} for i in unreachable]})
    return found
