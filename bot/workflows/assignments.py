"""Assignments in chat (D4, D5; O3, O4): sent when a draw runs, confirmed or declined, and
substituted in draw order when someone is excused (an approved absence or a recusal).

Owns the order of each step and its locks: a person's events are already serialized by the
dispatcher; every substitution also locks the campaign row first, before anything is audited,
so two declines in one team at the same moment get two different substitutes and lock order is
the same everywhere (person, campaign, audit head). The choice of substitute is
handlers.substitution; the words are handlers.assignments; the rows are storage.assignments.
Whenever an assignment stops waiting for its answer (confirmed, declined, excused, voided), the
cards that asked for it are closed with the outcome, whichever way the answer came.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.platforms.messages import Button, Outgoing
from bot.registry.fields import labels
from bot.workflows import approvals, deadlines
from bot.workflows.step import Policy, Step
from handlers import assignments as say
from handlers.commands import Command, Task
from handlers.reminders import allowed
from handlers.substitution import Candidate, next_substitute, shortfall
from storage import assignments as db
from storage import findings as findings_db
from storage.engine import unit_of_work
from storage.models import (
    AbsenceApprover,
    Approval,
    Assignment,
    AssignmentRole,
    AssignmentState,
    Campaign,
    DrawnOfficer,
    Entity,
    Person,
    Recusal,
    Team,
)

ABSENCE = "absence"
REASON_TOPIC = "decline_reason"
OPEN = (AssignmentState.NOTIFIED, AssignmentState.CONFIRMED)
RECENT_DAYS = 31  # 「我的任务」 shows campaigns ended up to a month ago
MAX_TASKS = 10  # a chat message has room for about this many
Clock = Callable[[], dt.datetime]


# --- views -----------------------------------------------------------------------------------


async def _team_view(
    step: Step, campaign: Campaign, team_number: int, team_id: int | None
) -> say.TeamView:
    session = step.session
    members: list[say.Member] = []
    employers: list[say.Employer] = []
    leader, short_by = "", 0
    if team_id is not None:
        team = await db.team(session, team_id)
        assert team is not None
        short_by = team.short_by
        for a, person in await db.team_members(session, team_id):
            if a.state is AssignmentState.CANCELLED:
                continue
            if a.role is AssignmentRole.LEADER:
                leader = person.name
            else:
                members.append(
                    say.Member(
                        person.name, a.state.value, a.position or 0, a.replaces_id is not None
                    )
                )
        states = {
            (f.entity_id, f.item_code): f.state.value
            for f in await findings_db.findings_of_team(session, team_id)
        }
        employers = [
            say.Employer(
                e.name,
                e.address,
                e.uscc,
                # Once filling is open; before, the lines would only lengthen the message.
                tuple((i["name"], states.get((e.id, i["code"]), "empty")) for i in campaign.items)
                if step.today >= campaign.start_on
                else (),
            )
            for e in await db.team_employers(session, team_id)
        ]
    methods = labels("check_method")
    return say.TeamView(
        campaign.id,
        campaign.name,
        campaign.start_on.isoformat(),
        campaign.end_on.isoformat(),
        tuple(i["name"] for i in campaign.items),
        tuple(methods.get(m, m) for m in campaign.methods),
        campaign.purpose,
        campaign.confidential,
        team_number,
        leader,
        tuple(members),
        tuple(employers),
        short_by,
    )


async def _view(step: Step, a: Assignment, campaign: Campaign) -> say.AssignmentView:
    person = await step.session.get(Person, a.person_id)
    assert person is not None
    replaces = ""
    if a.replaces_id is not None:
        before = await step.session.get(Assignment, a.replaces_id)
        replaced = await step.session.get(Person, before.person_id) if before else None
        replaces = replaced.name if replaced else ""
    return say.AssignmentView(
        a.id,
        person.name,
        a.role.value,
        a.state.value,
        a.position,
        replaces,
        await _team_view(step, campaign, a.team_number, a.team_id),
    )


async def _campaign(step: Step, campaign_id: int) -> Campaign:
    campaign = await step.session.get(Campaign, campaign_id)
    assert campaign is not None
    return campaign


async def _settle_cards(step: Step, a: Assignment) -> None:
    """The cards that asked this person to confirm or decline: closed, with where it stands."""
    await step.close_cards(say.subject(a.id), say.card_closed(a.state.value))


# --- when a draw runs ------------------------------------------------------------------------


async def withdraw_all(step: Step, campaign: Campaign) -> None:
    """Before a draw is run again: its assignments are cancelled and everyone told."""
    withdrawn = []
    for a in await db.assignments_of_campaign(step.session, campaign.id):
        if a.state is AssignmentState.CANCELLED:
            continue
        withdrawn.append((a, a.state is not AssignmentState.REPLACED))
        a.state, a.team_id = AssignmentState.CANCELLED, None
    await step.session.flush()  # every row first; the audit head (in cancel_pending) last
    for a, was_on_team in withdrawn:
        await approvals.cancel_pending(step, ABSENCE, a.id)
        await _settle_cards(step, a)
        person = await step.session.get(Person, a.person_id)
        if person is not None and was_on_team:
            step.send(person, Outgoing.plain(text("assign.cancelled", campaign=campaign.name)))


async def assign_drawn(step: Step, campaign: Campaign) -> None:
    """After a draw run: an assignment for each leader and drawn member, and their messages,
    in the transaction of the run."""
    session = step.session
    teams = list(
        (
            await session.execute(
                select(Team).where(Team.campaign_id == campaign.id).order_by(Team.number)
            )
        ).scalars()
    )
    made: list[Assignment] = []
    for team in teams:
        made.append(_new(campaign, team, team.leader_id, AssignmentRole.LEADER, None, step.now))
        drawn = await session.execute(
            select(DrawnOfficer)
            .where(DrawnOfficer.team_id == team.id)
            .order_by(DrawnOfficer.position)
        )
        for place in drawn.scalars():
            made.append(
                _new(
                    campaign, team, place.person_id, AssignmentRole.MEMBER, place.position, step.now
                )
            )
    session.add_all(made)
    await session.flush()
    for a in made:
        await _send_assignment(step, a, campaign)


async def _send_assignment(step: Step, a: Assignment, campaign: Campaign) -> None:
    """A leader's team overview, or a member's task and the card to answer it."""
    person = await step.session.get(Person, a.person_id)
    assert person is not None
    view = await _view(step, a, campaign)
    if a.role is AssignmentRole.LEADER:
        step.send(person, say.team_overview(view))
    else:
        step.send(person, *say.assignment_messages(view))


def _new(
    campaign: Campaign,
    team: Team,
    person_id: int,
    role: AssignmentRole,
    position: int | None,
    now: dt.datetime,
    replaces: int | None = None,
) -> Assignment:
    return Assignment(
        campaign_id=campaign.id,
        team_id=team.id,
        team_number=team.number,
        person_id=person_id,
        role=role,
        state=AssignmentState.NOTIFIED,
        position=position,
        replaces_id=replaces,
        created_at=now,
    )


async def notify_again(step: Step, campaign: Campaign) -> int:
    """Send every leader their team and every member still to answer their assignment, once
    more (after an upgrade, or a dead letter); the reminder timer starts over. How many
    people were sent something."""
    sent = 0
    for a in await db.assignments_of_campaign(step.session, campaign.id):
        wanted = a.role is AssignmentRole.LEADER or a.state is AssignmentState.NOTIFIED
        if a.team_id is None or a.state not in db.ACTIVE or not wanted:
            continue
        await _send_assignment(step, a, campaign)
        if a.role is AssignmentRole.MEMBER:
            a.reminded_at = None
        sent += 1
    await step.audit("campaign:notify", "campaigns", campaign.id, None, {"people": sent})
    return sent


async def _locked(step: Step, assignment_id: int) -> tuple[Assignment, Campaign]:
    """The assignment and its campaign, locked campaign first, then the row, as every step
    that may substitute locks them; read again, since it may have changed meanwhile."""
    first = await db.assignment(step.session, assignment_id)
    assert first is not None
    campaign = await db.lock_campaign(step.session, first.campaign_id)
    a = await db.assignment(step.session, assignment_id, lock=True)
    assert a is not None and campaign is not None
    return a, campaign


async def _recent(step: Step, person: Person) -> list[tuple[Assignment, Campaign]]:
    """The person's assignments in campaigns that ended at most ``RECENT_DAYS`` ago."""
    since = step.today - dt.timedelta(days=RECENT_DAYS)
    return await db.assignments_of_person(step.session, person.id, since)


# --- picking the assignment a message is about ------------------------------------------------


async def _pick(
    step: Step, person: Person, number: int | None, states: Sequence[AssignmentState]
) -> tuple[Assignment, Campaign] | Outgoing:
    """The assignment a command is about: the one numbered (it must be this person's), or
    the only one in ``states``; otherwise the reply that says what is missing."""
    if number is not None:  # any of theirs, however old or voided: the reply says which
        found = await db.assignment(step.session, number)
        if found is None or found.person_id != person.id:
            return Outgoing.plain(text("assign.not_yours", id=number))
        return found, await _campaign(step, found.campaign_id)
    mine = await _recent(step, person)
    candidates = [(a, c) for a, c in mine if a.state in states and a.role is AssignmentRole.MEMBER]
    if not candidates:
        return Outgoing.plain(text("assign.no_open_task"))
    if len(candidates) > 1:
        return Outgoing.plain(text("assign.which_task", numbers=[a.id for a, _ in candidates]))
    return candidates[0]


# --- confirm -------------------------------------------------------------------------------


async def confirm(step: Step, person: Person, command: Command) -> list[Outgoing]:
    waiting = (AssignmentState.NOTIFIED, AssignmentState.DECLINED)
    picked = await _pick(step, person, command.number, waiting)
    if isinstance(picked, Outgoing):
        return [picked]
    a, campaign = picked
    if a.state is AssignmentState.CONFIRMED:
        return [Outgoing.plain(text("assign.already_confirmed", id=a.id))]
    if a.state in (AssignmentState.REPLACED, AssignmentState.CANCELLED):
        return [Outgoing.plain(text("assign.gone", id=a.id, state=a.state.value))]
    a, _ = await _locked(step, a.id)
    if a.state not in waiting:  # changed while waiting for the lock
        return [Outgoing.plain(text("assign.gone", id=a.id, state=a.state.value))]
    withdrawn = a.state is AssignmentState.DECLINED
    before = a.state.value
    a.state, a.answered_at = AssignmentState.CONFIRMED, step.now
    if withdrawn:
        await approvals.cancel_pending(step, ABSENCE, a.id)
    await step.audit(
        "assignment:confirm", "assignments", a.id, {"state": before}, {"state": "confirmed"}
    )
    await _settle_cards(step, a)
    if a.role is AssignmentRole.MEMBER and a.team_id is not None:
        leader = await _leader(step, a.team_id)
        if leader is not None:
            step.send(
                leader,
                Outgoing.plain(
                    text("assign.leader_confirmed", team=a.team_number, officer=person.name)
                ),
            )
    if withdrawn:
        return [Outgoing.plain(text("assign.confirm_withdraws", id=a.id))]
    return [Outgoing.plain(text("assign.confirmed", campaign=campaign.name))]


async def _leader(step: Step, team_id: int) -> Person | None:
    team = await db.team(step.session, team_id)
    return await step.session.get(Person, team.leader_id) if team else None


# --- 「无法参加」 ---------------------------------------------------------------------------


def decline_window_closed(policy: Policy, start: dt.date, today: dt.date) -> bool:
    """Declines close ``decline_closes_days_before_start`` days before the start (0: on it)."""
    return today >= start - dt.timedelta(days=policy.decline_closes_days_before_start)


async def decline(step: Step, person: Person, command: Command) -> list[Outgoing]:
    picked = await _pick(step, person, command.number, OPEN)
    if isinstance(picked, Outgoing):
        return [picked]
    a, campaign = picked
    if a.role is AssignmentRole.LEADER:
        return [Outgoing.plain(text("assign.leader_cannot_decline"))]
    if a.state is AssignmentState.DECLINED:
        return [Outgoing.plain(text("assign.already_declined", id=a.id))]
    if a.state not in OPEN:
        return [Outgoing.plain(text("assign.gone", id=a.id, state=a.state.value))]
    if decline_window_closed(step.policy, campaign.start_on, step.today):
        deadline = campaign.start_on - dt.timedelta(
            days=step.policy.decline_closes_days_before_start
        )
        return [Outgoing.plain(text("assign.window_closed", id=a.id, deadline=deadline))]
    if not command.rest:
        await db.set_conversation(
            step.session,
            person.id,
            REASON_TOPIC,
            {
                "assignment": a.id,
                "state": a.state.value,
                # The card pressed, if any: closed with the press's own handle later.
                "pressed": step.pressed and step.pressed.to_json(),
            },
            step.now + step.policy.conversation_timeout,
        )
        return [Outgoing.plain(text("assign.ask_reason"))]
    return await _submit_decline(step, person, a.id, command.rest)


async def reason_given(
    step: Step, person: Person, data: dict[str, Any], reason: str
) -> list[Outgoing]:
    """The reason the bot asked for after a bare 「无法参加」."""
    await db.end_conversation(step.session, person.id)
    asked_about = await db.assignment(step.session, int(data["assignment"]))
    if asked_about is None or asked_about.state.value != data.get("state"):
        return [Outgoing.plain(text("assign.question_stale"))]  # it changed since the question
    return await decline(step, person, Command("decline", asked_about.id, reason))


async def _submit_decline(
    step: Step, person: Person, assignment_id: int, reason: str
) -> list[Outgoing]:
    a, campaign = await _locked(step, assignment_id)
    if a.state not in OPEN:  # changed while waiting for the lock
        return [Outgoing.plain(text("assign.gone", id=a.id, state=a.state.value))]
    role, approvers = "", list[Person]()
    if campaign.absence_approver is not AbsenceApprover.AUTO:
        role, approvers = await _absence_approvers(step, campaign, a, person)
        if not approvers:  # nobody registered could decide: say so, change nothing
            return [Outgoing.plain(text("assign.no_approver"))]
    before = a.state.value
    a.state, a.reason, a.answered_at = AssignmentState.DECLINED, reason[:500], step.now
    await step.audit(
        "assignment:decline",
        "assignments",
        a.id,
        {"state": before},
        {"state": "declined", "reason": a.reason, "policy": campaign.absence_approver.value},
    )
    if campaign.absence_approver is AbsenceApprover.AUTO:
        await excuse(step, campaign, a, a.reason)  # closes the cards, with the final state
        return []
    await _settle_cards(step, a)
    await approvals.request(
        step,
        kind=ABSENCE,
        subject_id=a.id,
        role=role,
        approvers=approvers,
        requested_by=person,
        reason=a.reason,
    )
    return [
        Outgoing.plain(
            text(
                "assign.declined_waiting",
                id=a.id,
                approver=text("assign.approver_label", role=role),
            )
        )
    ]


async def _absence_approvers(
    step: Step, campaign: Campaign, a: Assignment, officer: Person
) -> tuple[str, list[Person]]:
    if campaign.absence_approver is AbsenceApprover.TEAM_LEADER and a.team_id is not None:
        leader = await _leader(step, a.team_id)
        if leader is not None and step.policy.address(leader):
            return "team_leader", [leader]
    # The unit's leaders; failing them the bureau's; failing those the registry's admins.
    for role, people in (
        ("unit_leader", await db.leaders(step.session, campaign.unit_id)),
        ("leader", await db.leaders(step.session)),
        ("admin", await db.admins(step.session)),
    ):
        # Only people the bot can reach: a request nobody receives would wait for ever.
        found = [p for p in people if p.id != officer.id and step.policy.address(p)]
        if found:
            return role, found
    return "admin", []


async def _describe_absence(step: Step, approval: Approval) -> tuple[str, str]:
    a = await db.assignment(step.session, approval.subject_id)
    assert a is not None
    campaign = await _campaign(step, a.campaign_id)
    person = await step.session.get(Person, a.person_id)
    return text("approve.absence_title"), text(
        "approve.absence_summary",
        name=person.name if person else "",
        campaign=campaign.name,
        team=a.team_number,
        start=campaign.start_on.isoformat(),
        end=campaign.end_on.isoformat(),
    )


async def _apply_absence(step: Step, approval: Approval, decider: Person, approve: bool) -> None:
    a, campaign = await _locked(step, approval.subject_id)
    if a.state is not AssignmentState.DECLINED:
        return
    officer = await step.session.get(Person, a.person_id)
    assert officer is not None
    if approve:
        await excuse(step, campaign, a, a.reason or "")
        return
    # Back to waiting for a confirmation; the card below asks for it, so no reminder follows.
    a.state, a.reminded_at = AssignmentState.NOTIFIED, step.now
    step.send(
        officer,
        Outgoing.card(
            text("assign.card_title", id=a.id),
            text(
                "assign.decline_rejected",
                id=a.id,
                by=decider.name,
                comment=approval.comment or "",
            ),
            (Button(text("assign.key_confirm", id=a.id), text("assign.label_confirm")),),
            say.subject(a.id),
        ),
    )


async def _lock_absence(step: Step, approval: Approval) -> None:
    a = await db.assignment(step.session, approval.subject_id)
    if a is not None:
        await db.lock_campaign(step.session, a.campaign_id)


approvals.register(ABSENCE, approvals.Kind(_describe_absence, _apply_absence, _lock_absence))


# --- substitution (递补) -------------------------------------------------------------------


async def excuse(step: Step, campaign: Campaign, a: Assignment, reason: str) -> None:
    """Take ``a`` off its team and give the place to the next officer in draw order; if the
    reserve is used up, flag the team and alert the unit's leaders. The caller holds the
    campaign lock."""
    session = step.session
    officer = await session.get(Person, a.person_id)
    assert officer is not None and a.team_id is not None
    team = await db.team(session, a.team_id, lock=True)
    assert team is not None
    before = a.state.value
    a.state, a.reason, a.answered_at = AssignmentState.REPLACED, reason[:500], step.now
    await session.flush()
    if step.today > campaign.end_on:  # an absence approved after the end: nobody to send
        await step.audit(
            "assignment:replace",
            "assignments",
            a.id,
            {"state": before, "officer": officer.name, "position": a.position},
            {"state": "replaced", "reason": a.reason, "team": team.number, "substitute": None},
        )
        await _settle_cards(step, a)
        step.send(officer, Outgoing.plain(text("assign.excused_after_end", campaign=campaign.name)))
        return
    employers = frozenset(e.id for e in await db.team_employers(session, team.id))
    reserve = await db.reserve(session, campaign.id)
    ids = [pid for _, pid in reserve]
    certified = await db.drawable_ids(session, campaign.end_on)
    busy = await db.busy_ids(session, campaign.start_on, campaign.end_on, campaign.id)
    recused = await db.recused_entities(session, ids)
    chosen = next_substitute(
        (
            Candidate(position, pid, pid in certified, pid in busy, frozenset(recused.get(pid, ())))
            for position, pid in reserve
        ),
        employers,
    )
    leader = await session.get(Person, team.leader_id)
    substitute: Person | None = None
    if chosen is not None:
        substitute = await session.get(Person, chosen.person_id)
        assert substitute is not None
        new = _new(
            campaign, team, chosen.person_id, AssignmentRole.MEMBER, chosen.position, step.now, a.id
        )
        session.add(new)
        await session.flush()
        step.send(substitute, *say.assignment_messages(await _view(step, new, campaign)))
    await deadlines.member_replaced(
        step, team, officer.id, substitute.id if substitute is not None else None
    )
    active = [
        m
        for m, _ in await db.team_members(session, team.id)
        if m.role is AssignmentRole.MEMBER and m.state in db.ACTIVE
    ]
    team.short_by = shortfall(len(active), campaign.officers_per_team)
    await step.audit(
        "assignment:replace",
        "assignments",
        a.id,
        {"state": before, "officer": officer.name, "position": a.position},
        {
            "state": "replaced",
            "reason": a.reason,
            "team": team.number,
            "substitute": substitute.name if substitute else None,
            "substitute_position": chosen.position if chosen else None,
            "short_by": team.short_by,
        },
    )
    await _settle_cards(step, a)
    notices = say.excused_notices(
        campaign.name,
        team.number,
        officer.name,
        reason,
        substitute.name if substitute else None,
        chosen.position if chosen else None,
        team.short_by,
    )
    step.send(officer, notices.officer)
    if leader is not None:
        step.send(leader, notices.leader)
    if notices.unit is not None:
        for unit_leader in await db.leaders(session, campaign.unit_id):
            if leader is None or unit_leader.id != leader.id:
                step.send(unit_leader, notices.unit)


# --- 回避 -----------------------------------------------------------------------------------


async def recuse(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「回避 <企业名称或信用代码> <原因>」: record the declaration, and leave every team of this
    person's that inspects that employer."""
    teams = [
        (a, campaign, await db.team_employers(step.session, a.team_id))
        for a, campaign in await _recent(step, person)
        if a.state in db.ACTIVE and a.team_id is not None
    ]
    own = [e for _, _, employers in teams for e in employers]
    named = await _employer_named(step, own, command.rest)
    if isinstance(named, Outgoing):
        return [named]
    entity, reason = named
    affected = [(a, c) for a, c, employers in teams if entity.id in {e.id for e in employers}]
    # Campaigns first, in id order, before anything is audited (see the module docstring).
    for campaign_id in sorted({c.id for _, c in affected}):
        await db.lock_campaign(step.session, campaign_id)
    replies = []
    if await db.has_recusal(step.session, person.id, entity.id):
        replies.append(Outgoing.plain(text("assign.recusal_known", employer=entity.name)))
    else:
        step.session.add(
            Recusal(
                person_id=person.id,
                entity_id=entity.id,
                reason=reason[:500],
                declared_on=step.today,
            )
        )
        await step.audit(
            "recusal:declare",
            "recusals",
            f"{person.id}:{entity.uscc}",
            None,
            {"person": person.name, "uscc": entity.uscc, "reason": reason[:500], "via": "chat"},
        )
        replies.append(Outgoing.plain(text("assign.recusal_recorded", employer=entity.name)))
    for a, campaign in affected:
        a = await db.assignment(step.session, a.id, lock=True) or a
        if a.state not in db.ACTIVE:
            continue
        if step.today > campaign.end_on:  # over: who inspected stays on the record as it was
            replies.append(Outgoing.plain(text("assign.recusal_after_end", campaign=campaign.name)))
            continue
        if a.role is AssignmentRole.LEADER:
            replies.append(
                Outgoing.plain(
                    text("assign.recusal_leader", campaign=campaign.name, team=a.team_number)
                )
            )
            alert = Outgoing.plain(
                text(
                    "assign.leader_recused_alert",
                    campaign=campaign.name,
                    team=a.team_number,
                    leader=person.name,
                )
            )
            for unit_leader in await db.leaders(step.session, campaign.unit_id):
                if unit_leader.id != person.id:
                    step.send(unit_leader, alert)
            continue
        if a.state is AssignmentState.DECLINED:
            await approvals.cancel_pending(step, ABSENCE, a.id)
        replies.append(
            Outgoing.plain(
                text("assign.recusal_replaced", employer=entity.name, campaign=campaign.name)
            )
        )
        await excuse(
            step, campaign, a, text("assign.recusal_reason", employer=entity.name, reason=reason)
        )
    return replies


_USCC = re.compile(r"^[0-9A-Za-z]{18}(?=$|\s)")


async def _employer_named(
    step: Step, own: list[Entity], words: str
) -> tuple[Entity, str] | Outgoing:
    """(the employer, the reason) from 「<信用代码或名称> <原因>」; else the reply saying what is
    wrong. Names are compared with full-width forms folded, as the command itself was, and
    may hold blanks when they are employers of the person's own teams (``own``)."""
    words = words.strip()
    if not words:
        return Outgoing.plain(text("assign.recusal_usage"))
    if uscc := _USCC.match(words):
        entity = await db.entity_by_uscc(step.session, uscc.group(0))
        if entity is None:
            return Outgoing.plain(text("assign.recusal_no_employer", ref=uscc.group(0)))
        return _with_reason(entity, words[uscc.end() :])
    fold = functools.partial(unicodedata.normalize, "NFKC")
    starting = [e for e in own if words.startswith(fold(e.name))]
    if starting:
        entity = max(starting, key=lambda e: len(e.name))
        return _with_reason(entity, words[len(fold(entity.name)) :])
    first = words.split()[0] if words.split() else ""
    # Registered names mostly use full-width brackets; the command arrives with them folded.
    found = await db.entities_named(
        step.session, [first, first.replace("(", "（").replace(")", "）")]
    )
    if len({e.id for e in found}) > 1:
        return Outgoing.plain(text("assign.recusal_ambiguous", ref=first[:50]))
    if not found:
        return Outgoing.plain(text("assign.recusal_no_employer", ref=first[:50]))
    return _with_reason(found[0], words[len(first) :])


def _with_reason(entity: Entity, rest: str) -> tuple[Entity, str] | Outgoing:
    reason = rest.strip()
    if not reason:
        return Outgoing.plain(text("assign.recusal_usage"))
    return entity, reason


# --- 「我的任务」 and 「任务 N」 ----------------------------------------------------------------


async def my_tasks(step: Step, person: Person) -> list[Task]:
    tasks = []
    for a, campaign in (await _recent(step, person))[:MAX_TASKS]:
        employers = len(await db.team_employers(step.session, a.team_id)) if a.team_id else 0
        tasks.append(
            Task(
                a.id,
                campaign.name,
                campaign.start_on.isoformat(),
                campaign.end_on.isoformat(),
                a.team_number,
                a.role.value,
                a.state.value,
                a.position or 0,
                employers,
                a.replaces_id is not None,
            )
        )
    return tasks


async def task(step: Step, person: Person, number: int) -> list[Outgoing]:
    picked = await _pick(step, person, number, OPEN)
    if isinstance(picked, Outgoing):
        return [picked]
    a, campaign = picked
    return say.task_detail(await _view(step, a, campaign))


# --- the reminder timer ----------------------------------------------------------------------


async def remind_unanswered(
    factory: async_sessionmaker[AsyncSession], policy: Policy, clock: Clock
) -> int:
    """Remind, once, each member who has neither confirmed nor declined after
    ``remind_after_hours`` — like every reminder, only on a working day out of quiet hours
    (what falls due then goes at the next allowed tick). Safe with several processes: each
    reminder is claimed first."""
    now = clock()
    local = now.astimezone(policy.tz)
    today = local.date()
    async with factory() as session:
        if not allowed(local, policy.deadlines, await deadlines.load_overrides(session)):
            return 0
        due = await db.unanswered(
            session, now - dt.timedelta(hours=policy.remind_after_hours), today
        )
    sent = 0
    for assignment_id in due:
        async with unit_of_work(factory) as session:
            if not await db.claim_reminder(session, assignment_id, now):
                continue
            step = Step(session, policy, now, "scheduler")
            a = await db.assignment(session, assignment_id)
            assert a is not None
            person = await session.get(Person, a.person_id)
            assert person is not None
            step.send(
                person, say.reminder(await _view(step, a, await _campaign(step, a.campaign_id)))
            )
            sent += 1
    return sent
