"""「进度」 (O5): where each finding of a campaign stands — for a team's leader their team, for
the leaders every team — and the same standing for ``suiji campaign show``.

Who sees what. A team's leader (an assignment as leader, still on the team) sees their own team,
employers named. A leader (``Person.is_leader``) sees every team of every campaign: the unit's
leaders their unit's campaigns, and — the bureau's leadership deciding every unit's plan (see
bot/workflows/plans) — the other units' too; in a confidential campaign they read the employers
of teams they do not lead as 「第N家」 (handlers.progress). Anyone else registered is told that
「进度」 is for leaders; someone with no role at all gets the stranger's reply.

「进度」 alone shows the drawn campaigns whose inspections have not ended (or, when there are
several, lists them to choose from); 「进度 抽查N」 any drawn campaign, ended ones too;
「进度 任务N」 the team of one's own task as its leader (the 「进度」 button of the team card).

Read only: nothing here changes a row or takes a lock. The words are handlers.progress.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.base.times import utc_iso
from bot.platforms.messages import Outgoing
from bot.workflows import campaigns, deadlines
from bot.workflows.step import Step
from handlers import commands
from handlers import progress as say
from handlers.commands import Command
from handlers.reminders import NO_OVERDUE, days_left
from storage import assignments as assignment_db
from storage import campaigns as campaign_db
from storage import deadlines as deadline_db
from storage import findings as findings_db
from storage.campaigns import people_by_id
from storage.models import (
    Assignment,
    AssignmentRole,
    Campaign,
    CampaignState,
    Finding,
    Person,
)

LED_LATELY = dt.timedelta(days=366)  # who led a team this long ago still counts as a leader
UNDRAWN = (CampaignState.DRAFT, CampaignState.COMMITTED)


def _plain(words: str) -> Outgoing:
    return Outgoing("text", words, repeatable=True)


# --- the standing ------------------------------------------------------------------------------


async def standing(session: AsyncSession, campaign: Campaign) -> say.CampaignStanding:
    """Every employer × item of the campaign's current teams, in team and draw order."""
    teams = await findings_db.teams_of_campaign(session, campaign.id)
    findings = await findings_db.findings_of_campaign(session, campaign.id)
    found = {(f.team_id, f.entity_id, f.item_code): f for f in findings}
    people = {t.leader_id for t in teams} | {
        i for f in findings for i in (f.holder_id, f.submitted_by_id) if i is not None
    }
    names = {i: p.name for i, p in (await people_by_id(session, list(people))).items()}
    codes = [item["code"] for item in campaign.items]
    standings = []
    for team in teams:
        employers = tuple(
            say.EmployerStanding(
                e.name, e.uscc, tuple(_cell(found.get((team.id, e.id, c)), names) for c in codes)
            )
            for e in await assignment_db.team_employers(session, team.id)
        )
        standings.append(say.TeamStanding(team.number, names.get(team.leader_id, ""), employers))
    return say.CampaignStanding(
        campaign.id,
        campaign.name,
        campaign.start_on,
        campaign.end_on,
        tuple(item["name"] for item in campaign.items),
        campaign.confidential,
        tuple(standings),
    )


async def with_dues(
    session: AsyncSession, now: say.CampaignStanding, today: dt.date
) -> say.CampaignStanding:
    """The standing with the campaign's open deadlines: per team (or the campaign's own) the
    soonest of each kind, with its working days left as of ``today``."""
    known = await deadlines.load_overrides(session)
    soonest: dict[tuple[int | None, str], say.Due] = {}
    for kind, team, due_on, estimated in await deadline_db.open_of_campaign(session, now.id):
        days = days_left(due_on, today, known)
        if days < 0 and kind in NO_OVERDUE:  # a start that has come is no longer ahead
            continue
        soonest.setdefault((team, kind), say.Due(team, kind, due_on, days, estimated))
    return dataclasses.replace(now, dues=tuple(soonest.values()))


def _cell(finding: Finding | None, names: dict[int, str]) -> say.Cell:
    if finding is None:
        return say.Cell("empty")
    held = finding.holder_id is not None
    return say.Cell(
        finding.state.value,
        finding.id,
        names.get(finding.holder_id or 0, ""),
        finding.held_since if held else None,
        names.get(finding.submitted_by_id or 0, ""),
        finding.submitted_at,
        finding.reopened,
    )


# --- 「进度」 in chat -----------------------------------------------------------------------------


async def progress(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「进度」, 「进度 抽查N」, 「进度 任务N」 (see the module docstring)."""
    if command.number is None:
        return await _in_progress(step, person)
    match commands.refers_to(command):
        case "campaign":
            return await _campaign(step, person, command.number)
        case "task":
            return await _task(step, person, command.number)
    return [_plain(text("progress.usage"))]


async def _led(
    step: Step, person: Person, ended_after: dt.date
) -> list[tuple[Assignment, Campaign]]:
    """The teams this person leads, in campaigns ending on or after ``ended_after``."""
    return [
        (a, c)
        for a, c in await assignment_db.assignments_of_person(step.session, person.id, ended_after)
        if a.role is AssignmentRole.LEADER
        and a.state in assignment_db.ACTIVE
        and a.team_id is not None
    ]


async def _outsider(step: Step, person: Person) -> Outgoing | None:
    """The reply to someone who neither is a leader nor led a team lately; None for a leader."""
    if person.is_leader or await _led(step, person, step.today - LED_LATELY):
        return None
    if person.is_officer or person.is_admin or person.is_witness:
        return _plain(text("progress.leaders_only"))
    return commands.stranger_reply()


async def _in_progress(step: Step, person: Person) -> list[Outgoing]:
    """The drawn campaigns not over that this person may look at: the one, or a list."""
    refused = await _outsider(step, person)
    if refused is not None:
        return [refused]
    shown: dict[int, tuple[Campaign, list[Assignment]]] = {}
    for a, c in await _led(step, person, step.today):
        if c.state is CampaignState.DRAWN:
            shown.setdefault(c.id, (c, []))[1].append(a)
    if person.is_leader:
        for c in await campaign_db.drawn_not_over(step.session, step.today):
            shown.setdefault(c.id, (c, []))
    if not shown:
        return [_plain(text("progress.none_running"))]
    if len(shown) == 1:
        [(campaign, mine)] = shown.values()
        return await _show(step, person, campaign, mine)
    rows = []
    for campaign, mine in sorted(shown.values(), key=lambda cm: (cm[0].start_on, cm[0].id)):
        now = await standing(step.session, campaign)
        if person.is_leader:
            rows.append(_running(now, None, now.counts))
            continue
        for team in now.teams:
            if team.number in {a.team_number for a in mine}:
                rows.append(_running(now, team.number, team.counts))
    return [say.choose_reply(rows)]


def _running(c: say.CampaignStanding, team: int | None, counts: say.Counts) -> say.Running:
    return say.Running(c.id, c.name, c.start, c.end, team, counts)


async def _campaign(step: Step, person: Person, number: int) -> list[Outgoing]:
    """「进度 抽查N」: any drawn campaign a leader may see, or one whose team the asker leads."""
    campaign = await step.session.get(Campaign, number) if number else None
    mine = []
    if campaign is not None:
        mine = [a for a, c in await _led(step, person, campaign.end_on) if c.id == campaign.id]
    if campaign is None or not (person.is_leader or mine):
        refused = await _outsider(step, person)
        return [refused or _plain(text("progress.not_found", id=number))]
    if campaign.state in UNDRAWN:
        return [_plain(text("progress.not_drawn", id=campaign.id))]
    return await _show(step, person, campaign, mine)


async def _task(step: Step, person: Person, number: int) -> list[Outgoing]:
    """「进度 任务N」: the team of the asker's own task as its leader."""
    a = await assignment_db.assignment(step.session, number) if number else None
    if a is None or a.person_id != person.id:
        return [_plain(text("assign.not_yours", id=number))]
    if a.role is not AssignmentRole.LEADER:
        return [_plain(text("progress.member_task", id=a.id))]
    campaign = await step.session.get(Campaign, a.campaign_id)
    if a.state not in assignment_db.ACTIVE or a.team_id is None or campaign is None:
        return [_plain(text("assign.gone", id=a.id, state=a.state.value))]
    now = await with_dues(step.session, await standing(step.session, campaign), step.today)
    tz = step.policy.tz
    return [say.team_reply(now, t, step.today, tz) for t in now.teams if t.number == a.team_number]


async def _show(
    step: Step, person: Person, campaign: Campaign, mine: list[Assignment]
) -> list[Outgoing]:
    """A leader's view of the campaign, or a team leader's of each team they lead in it."""
    now = await with_dues(step.session, await standing(step.session, campaign), step.today)
    led = frozenset(a.team_number for a in mine)
    tz = step.policy.tz
    if person.is_leader:
        return [say.unit_reply(now, led, step.today, tz)]
    return [say.team_reply(now, t, step.today, tz) for t in now.teams if t.number in led]


# --- for `suiji campaign show` -----------------------------------------------------------------


async def show_campaign(
    factory: async_sessionmaker[AsyncSession], campaign_id: int
) -> dict[str, Any]:
    """The campaign as ``campaigns.show_campaign`` gives it, each team's employers with their
    findings (one per item: state, finding, holder and since when, who submitted and when;
    times in UTC) and each team with its counts."""
    view = await campaigns.show_campaign(factory, campaign_id)
    async with factory() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        now = await standing(session, campaign)
    teams = {t.number: t for t in now.teams}
    for shown in view["teams"]:
        team = teams.get(shown["number"])
        if team is None:  # drawn again meanwhile: shown as it was read
            continue
        cells = {e.uscc: e.cells for e in team.employers}
        for employer in shown["employers"]:
            found = cells.get(employer["uscc"], ())
            employer["findings"] = [
                _cell_json(item, cell) for item, cell in zip(campaign.items, found, strict=False)
            ]
        shown["findings"] = {
            "submitted": team.counts.submitted,
            "draft": team.counts.draft,
            "empty": team.counts.empty,
            "total": team.counts.total,
        }
    return view


def _cell_json(item: dict[str, Any], cell: say.Cell) -> dict[str, Any]:
    return {
        "item": item["code"],
        "item_name": item["name"],
        "state": cell.state,
        "finding": cell.finding,
        "holder": cell.holder or None,
        "held_since": utc_iso(cell.held_since) if cell.held_since else None,
        "submitted_by": cell.submitted_by or None,
        "submitted_at": utc_iso(cell.submitted_at) if cell.submitted_at else None,
        "reopened": cell.reopened,
    }
