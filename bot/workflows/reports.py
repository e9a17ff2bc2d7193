"""A team's inspection report (执法检查报告, DOMAIN.md O5): drafted from its findings, a
conclusion added by its leader, approved in chat, frozen, and the campaign then reported.

Owns the report's life: drafted (「生成检查报告」) only once every finding of the team is
submitted (which are not, named otherwise), its team leader's conclusion (「报告结论 …」),
submitted (「提交审批」) to the campaign's unit leaders through the approval engine — never to a
leader who is on the team itself (its own report is not theirs to approve; failing other unit
leaders, the bureau's leaders decide) — rejected with a comment back to the team leader, who may
send findings back (they are only frozen once the report is approved) and submit again, or
approved: then its content and hash are frozen and audited, nothing it rests on (its findings)
can change until a unit leader reopens it with a reason (「重开报告 N 原因」, audited), and when
every team's report of the campaign is approved the campaign is reported (its date recorded:
the publication clock starts) and its unit leaders told.

What a report says is ``content``: plain data (campaign, items and their legal basis, the team,
each employer with its results, a summary), drafted afresh from the findings until approval; the
page, the chat and the Word document (handlers.report_document) are all read from it.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.base.times import local_time
from bot.draw.record import canonical, sha256_text
from bot.forms.definition import form_from_json
from bot.forms.engine import required
from bot.platforms.messages import Button, Outgoing
from bot.workflows import approvals, deadlines
from bot.workflows.step import Forbidden, Step
from handlers.commands import Command
from storage import assignments as assignment_db
from storage import findings as finding_db
from storage import reports as db
from storage.campaigns import items_in_force
from storage.models import (
    Approval,
    AssignmentRole,
    AssignmentState,
    Campaign,
    FindingState,
    Person,
    Report,
    ReportState,
    Team,
    Unit,
)

KIND = "report"  # the approval engine's kind
OPEN = (ReportState.DRAFT, ReportState.REJECTED)  # the team leader may still change it
ACTIVE = (AssignmentState.NOTIFIED, AssignmentState.CONFIRMED)
# The standard result's questions (templates/forms/_standard.toml) a report is made of.
RESULT_QUESTIONS = ("checked_on", "check_method", "result_category", "measure", "problems")
PROBLEMS = "problems"  # required exactly when the result category says a problem was found


def content_sha256(content: dict[str, Any], conclusion: str | None) -> str:
    """What the audit log records of an approved report: its content and conclusion, as
    canonical JSON."""
    return sha256_text(canonical({"content": content, "conclusion": conclusion or ""}))


def _plain(words: str) -> Outgoing:
    return Outgoing("text", words)


# --- whose report --------------------------------------------------------------------------


async def _led_team(
    step: Step, person: Person, number: int | None
) -> tuple[Team, Campaign] | Outgoing:
    """The team ``person`` leads (by their task number when they lead several)."""
    led = [
        (a, c)
        for a, c in await assignment_db.assignments_of_person(
            step.session, person.id, step.today - dt.timedelta(days=366)
        )
        if a.role is AssignmentRole.LEADER and a.team_id is not None and a.state in ACTIVE
    ]
    if number is not None:
        led = [(a, c) for a, c in led if a.id == number or c.id == number]
    if not led:
        return _plain(text("report.not_a_team_leader"))
    if len(led) > 1:
        return _plain(text("report.which_team", numbers=[a.id for a, _ in led]))
    a, campaign = led[0]
    assert a.team_id is not None
    team = await assignment_db.team(step.session, a.team_id, lock=True)
    assert team is not None
    return team, campaign


async def missing(step: Step, team: Team, campaign: Campaign) -> list[str]:
    """Each employer × item of the team not yet submitted, as 「单位 · 事项（未填）」."""
    found = {
        (f.entity_id, f.item_code): f
        for f in await finding_db.findings_of_team(step.session, team.id)
    }
    lacking = []
    for entity in await assignment_db.team_employers(step.session, team.id):
        for item in campaign.items:
            f = found.get((entity.id, item["code"]))
            if f is None or f.state is not FindingState.SUBMITTED:
                state = "draft" if f is not None else "empty"
                lacking.append(
                    text("report.missing_one", employer=entity.name, item=item["name"], state=state)
                )
    return lacking


# --- the content -----------------------------------------------------------------------------


async def draft_content(step: Step, team: Team, campaign: Campaign) -> dict[str, Any]:
    """What the report says, from the team's submitted findings as they stand."""
    s = step.session
    unit = await s.get(Unit, campaign.unit_id)
    items = await items_in_force(s, [i["code"] for i in campaign.items], campaign.start_on)
    on_team = [(a, p) for a, p in await assignment_db.team_members(s, team.id) if a.state in ACTIVE]
    certificates = await db.certificates_of(s, [p.id for _, p in on_team])
    members = [
        {"name": p.name, "role": a.role.value, "certificate": certificates.get(p.id, "")}
        for a, p in on_team
    ]
    findings = {
        (f.entity_id, f.item_code): f for f in await finding_db.findings_of_team(s, team.id)
    }
    employers = []
    categories: collections.Counter[str] = collections.Counter()
    with_problems = 0
    for entity in await assignment_db.team_employers(s, team.id):
        results = []
        problem = False
        for item in campaign.items:
            f = findings.get((entity.id, item["code"]))
            answers = dict(f.draft.get("answers", {})) if f is not None else {}
            result = {q: answers.get(q) for q in RESULT_QUESTIONS}
            photos = [
                sha
                for q in (f.form.get("questions", []) if f is not None else [])
                if q.get("kind") == "photos"
                for sha in answers.get(q["id"], [])
            ]
            results.append(
                {
                    "item": item["code"],
                    "item_name": item["name"],
                    "finding": f.id if f is not None else None,
                    "answers_sha256": f.answers_sha256 if f is not None else None,
                    **result,
                    "rectify_by": answers.get("rectify_by"),
                    "photos": photos,
                }
            )
            if result["result_category"]:
                categories[str(result["result_category"])] += 1
            if f is not None:
                form = form_from_json(f.form)
                asked = [q for q in form.questions if q.id == PROBLEMS]
                problem = problem or any(required(q, answers) for q in asked)
        with_problems += problem
        employers.append(
            {
                "name": entity.name,
                "uscc": entity.uscc,
                "address": entity.address,
                "problem": problem,
                "results": results,
            }
        )
    return {
        "campaign": {
            "id": campaign.id,
            "name": campaign.name,
            "unit": unit.name if unit is not None else "",
            "start": campaign.start_on.isoformat(),
            "end": campaign.end_on.isoformat(),
            "purpose": campaign.purpose,
        },
        "items": [
            {
                "code": i["code"],
                "name": i["name"],
                "legal_basis": items[i["code"]].legal_basis if i["code"] in items else "",
            }
            for i in campaign.items
        ],
        "team": {"number": team.number, "members": members},
        "employers": employers,
        "summary": {
            "employers": len(employers),
            "with_problems": with_problems,
            "categories": dict(sorted(categories.items())),
        },
    }


def report_link(step: Step, report: Report) -> str:
    """The report as a page, when pages are set up; else ""."""
    base = step.policy.finding_page(0)
    return base.replace("/h5/findings/0", f"/h5/reports/{report.id}") if base else ""


def _summary_message(step: Step, report: Report, note: str) -> Outgoing:
    content = report.content
    body = text(
        "report.summary",
        note=note,
        id=report.id,
        campaign=content["campaign"]["name"],
        team=content["team"]["number"],
        employers=content["summary"]["employers"],
        problems=content["summary"]["with_problems"],
        categories=list(content["summary"]["categories"].items()),
        conclusion=report.conclusion or "",
        state=report.state.value,
        link=report_link(step, report),
    )
    title = text("report.title", team=content["team"]["number"])
    # Shown again and again as it changes (or not): WeCom's duplicate check must not drop it.
    if report.state in OPEN:
        label = text("report.label_submit")
        button = (Button(label, label),)
        return Outgoing("card", body, title=title, buttons=button, repeatable=True)
    return Outgoing("markdown", body, title=title, repeatable=True)


# --- the team leader's moves -----------------------------------------------------------------


def _settled(report: Report) -> str:
    """Why a report waiting for a decision, or approved, cannot be changed now."""
    if report.state is ReportState.PENDING:
        return text("report.already_pending", id=report.id)
    return text("report.already_approved", id=report.id)


async def generate(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「生成检查报告」: draft (or draft again) the team's report from its findings."""
    led = await _led_team(step, person, command.number)
    if isinstance(led, Outgoing):
        return [led]
    team, campaign = led
    report = await db.report_of_team(step.session, team.id, lock=True)
    if report is not None and report.state not in OPEN:
        return [_summary_message(step, report, _settled(report))]
    lacking = await missing(step, team, campaign)
    if lacking:
        return [_plain(text("report.findings_missing", count=len(lacking), lines=lacking))]
    content = await draft_content(step, team, campaign)
    if report is None:
        report = Report(
            campaign_id=campaign.id,
            team_id=team.id,
            state=ReportState.DRAFT,
            content=content,
            drafted_by_id=person.id,
            drafted_at=step.now,
            submissions=0,
        )
        step.session.add(report)
        await step.session.flush()
    else:
        report.content, report.drafted_by_id, report.drafted_at = content, person.id, step.now
    await step.audit(
        "report:draft",
        "reports",
        report.id,
        None,
        {"team": team.number, "campaign": campaign.id, "by": person.name},
    )
    return [_summary_message(step, report, text("report.drafted"))]


async def _own_open_report(
    step: Step, person: Person, number: int | None
) -> tuple[Report, Team, Campaign] | Outgoing:
    led = await _led_team(step, person, number)
    if isinstance(led, Outgoing):
        return led
    team, campaign = led
    report = await db.report_of_team(step.session, team.id, lock=True)
    if report is None:
        return _plain(text("report.none_yet"))
    if report.state not in OPEN:
        return _summary_message(step, report, _settled(report))
    return report, team, campaign


async def conclude(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「报告结论 …」: the team leader's conclusion, in their own words."""
    if not command.rest.strip():
        return [_plain(text("report.conclusion_usage"))]
    found = await _own_open_report(step, person, command.number)
    if isinstance(found, Outgoing):
        return [found]
    report, _, _ = found
    return [await set_conclusion(step, person, report, command.rest)]


async def set_conclusion(step: Step, person: Person, report: Report, words: str) -> Outgoing:
    """The conclusion, from chat or the report's page (an open report of theirs only)."""
    report.conclusion = words.strip()[: db.CONCLUSION_LIMIT] or None
    await step.audit(
        "report:conclusion", "reports", report.id, None, {"length": len(words), "by": person.name}
    )
    return _summary_message(step, report, text("report.conclusion_saved"))


async def submit(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「提交审批」: the report, drafted afresh, to the unit's leaders."""
    led = await _led_team(step, person, command.number)
    if isinstance(led, Outgoing):
        return [led]
    team, campaign = led
    report = await db.report_of_team(step.session, team.id, lock=True)
    if report is None:
        return [_plain(text("report.none_yet"))]
    if report.state is ReportState.PENDING:
        return [_plain(text("report.already_pending", id=report.id))]
    if report.state is ReportState.APPROVED:
        return [_summary_message(step, report, _settled(report))]
    lacking = await missing(step, team, campaign)
    if lacking:
        return [_plain(text("report.findings_missing", count=len(lacking), lines=lacking))]
    deciders = await approvers(step, team, campaign)
    if not deciders:
        return [_plain(text("report.no_approver"))]
    report.content = await draft_content(step, team, campaign)
    report.state, report.submitted_at = ReportState.PENDING, step.now
    report.submissions += 1
    request = await approvals.request(
        step,
        kind=KIND,
        subject_id=report.id,
        role="unit_leader",
        approvers=deciders,
        requested_by=person,
        reason=text("report.request_reason", conclusion=report.conclusion or ""),
    )
    report.approval_id = request.id
    await deadlines.report_submitted(step, report)
    await step.audit(
        "report:submit",
        "reports",
        report.id,
        None,
        {"approval": request.id, "submission": report.submissions, "by": person.name},
    )
    names = [p.name for p in deciders]
    return [_plain(text("report.submitted", id=report.id, names=names, times=report.submissions))]


async def approvers(step: Step, team: Team, campaign: Campaign) -> list[Person]:
    """The campaign's unit leaders, or failing them the bureau's, who are not on the team
    and whom the bot can reach. Nobody approves their own team's report."""
    on_team = {p.id for _, p in await assignment_db.team_members(step.session, team.id)}
    on_team.add(team.leader_id)
    for people in (
        await assignment_db.leaders(step.session, campaign.unit_id),
        await assignment_db.leaders(step.session),
    ):
        found = [p for p in people if p.id not in on_team and step.policy.address(p)]
        if found:
            return found
    return []


# --- the decision (the approval engine calls these) -----------------------------------------


async def _describe(step: Step, approval: Approval) -> tuple[str, str]:
    report = await step.session.get(Report, approval.subject_id)
    assert report is not None
    content = report.content
    summary = text(
        "report.approval_summary",
        campaign=content["campaign"]["name"],
        team=content["team"]["number"],
        employers=content["summary"]["employers"],
        problems=content["summary"]["with_problems"],
        link=report_link(step, report),
    )
    return text("report.approval_title"), summary


async def _lock(step: Step, approval: Approval) -> None:
    report = await step.session.get(Report, approval.subject_id)
    if report is not None:
        await assignment_db.lock_campaign(step.session, report.campaign_id)
        await db.report(step.session, report.id, lock=True)


async def _apply(step: Step, approval: Approval, decider: Person, approve: bool) -> None:
    report = await db.report(step.session, approval.subject_id, lock=True)
    assert report is not None
    team = await step.session.get(Team, report.team_id)
    leader = await step.session.get(Person, team.leader_id) if team is not None else None
    if not approve:
        report.state = ReportState.REJECTED
        await step.audit(
            "report:reject",
            "reports",
            report.id,
            {"state": "pending"},
            {"state": "rejected", "by": decider.name, "comment": approval.comment},
        )
        if leader is not None:
            step.send(
                leader,
                _plain(
                    text(
                        "report.rejected_notice",
                        id=report.id,
                        by=decider.name,
                        comment=approval.comment or "",
                    )
                ),
            )
        return
    report.state, report.approved_at = ReportState.APPROVED, step.now
    report.content_sha256 = content_sha256(report.content, report.conclusion)
    await step.audit(
        "report:approve",
        "reports",
        report.id,
        {"state": "pending"},
        {"state": "approved", "by": decider.name, "content_sha256": report.content_sha256},
    )
    if leader is not None:
        step.send(leader, _plain(text("report.approved_notice", id=report.id, by=decider.name)))
    await _close_campaign_if_done(step, report.campaign_id)


async def _close_campaign_if_done(step: Step, campaign_id: int) -> None:
    """Every team's report approved: the campaign is reported today, its leaders told."""
    campaign = await step.session.get(Campaign, campaign_id)
    assert campaign is not None
    teams = await finding_db.teams_of_campaign(step.session, campaign_id)
    reports = {r.team_id: r for r in await db.reports_of_campaign(step.session, campaign_id)}
    if campaign.reported_on is not None or not all(
        t.id in reports and reports[t.id].state is ReportState.APPROVED for t in teams
    ):
        return
    campaign.reported_on = step.today
    await step.audit(
        "campaign:reported",
        "campaigns",
        campaign.id,
        {"state": "drawn"},
        {"state": "reported", "reported_on": step.today.isoformat()},
    )
    notice = _plain(text("report.campaign_reported", name=campaign.name, teams=len(teams)))
    unit_leaders = await assignment_db.leaders(step.session, campaign.unit_id)
    await deadlines.campaign_reported(step, campaign, unit_leaders)
    for leader in unit_leaders:
        step.send(leader, notice)


approvals.register(KIND, approvals.Kind(_describe, _apply, _lock))


# --- afterwards -----------------------------------------------------------------------------


async def frozen(step: Step, team_id: int) -> Report | None:
    """The team's report, if it is approved or waiting for a decision: its findings stay as
    they are then."""
    report = await db.report_of_team(step.session, team_id)
    if report is not None and report.state in (ReportState.APPROVED, ReportState.PENDING):
        return report
    return None


async def reopen(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「重开报告 N 原因」: a unit leader (or the bureau's) reopens an approved report, so that
    what it rests on may change again; recorded with the reason."""
    number, reason = command.number, command.rest.strip()
    if number is None and (leading := re.match(r"(\d{1,9})\s+(.+)", reason, re.DOTALL)):
        number, reason = int(leading.group(1)), leading.group(2)  # 「重开报告 3 原因」
    if number is None or not reason:
        return [_plain(text("report.reopen_usage"))]
    report = await db.report(step.session, number, lock=True)
    if report is None:
        return [_plain(text("report.not_found", id=number))]
    campaign = await assignment_db.lock_campaign(step.session, report.campaign_id)
    assert campaign is not None
    if not person.is_leader or person.unit_id not in (None, campaign.unit_id):
        return [_plain(text("report.reopen_not_leader", id=report.id))]
    if report.state is not ReportState.APPROVED:
        return [_plain(text("report.reopen_not_approved", id=report.id))]
    reason = reason[:500]
    report.state, report.content_sha256, report.approved_at = ReportState.DRAFT, None, None
    await step.audit(
        "report:reopen",
        "reports",
        report.id,
        {"state": "approved"},
        {"state": "draft", "reason": reason, "by": person.name},
    )
    if campaign.reported_on is not None:
        await step.audit(
            "campaign:unreported",
            "campaigns",
            campaign.id,
            {"state": "reported", "reported_on": campaign.reported_on.isoformat()},
            {"state": "drawn"},
        )
        campaign.reported_on = None
        await deadlines.campaign_unreported(step, campaign)
    team = await step.session.get(Team, report.team_id)
    leader = await step.session.get(Person, team.leader_id) if team is not None else None
    if leader is not None and leader.id != person.id:
        notice = text("report.reopened_notice", id=report.id, by=person.name, reason=reason)
        step.send(leader, _plain(notice))
    return [_plain(text("report.reopened", id=report.id))]


async def all_submitted(step: Step, team_id: int, campaign: Campaign) -> bool:
    team = await step.session.get(Team, team_id)
    return team is not None and not await missing(step, team, campaign)


async def tell_leader_when_ready(step: Step, team_id: int, campaign: Campaign) -> None:
    """After a submission: once the team's findings are all in, its leader is told and
    offered 「生成检查报告」."""
    team = await step.session.get(Team, team_id)
    if team is None or await missing(step, team, campaign):
        return
    leader = await step.session.get(Person, team.leader_id)
    if leader is None:
        return
    label = text("report.label_generate")
    card = Outgoing.card(
        text("report.title", team=team.number),
        text("report.ready", team=team.number, campaign=campaign.name),
        (Button(label, label),),
    )
    step.send(leader, card)


def shown_time(step: Step, moment: dt.datetime | None) -> str:
    return local_time(moment, step.policy.tz) if moment else ""


# --- for the staff: the report as a document -------------------------------------------------


@dataclass(frozen=True)
class Filed:
    """A team's report as a document shows it: what it says, and who stands behind it."""

    report: Report
    leader: str
    approver: str
    approved_on: str  # the bureau's date, when approved


class NoReport(LookupError):
    """No such campaign, team, or no report drafted for the team yet (the key of the words)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


async def filed(
    factory: async_sessionmaker[AsyncSession], campaign_id: int, team_number: int, zone: str
) -> Filed:
    async with factory() as s:
        if await s.get(Campaign, campaign_id) is None:
            raise NoReport("campaign.no_campaign", id=campaign_id)
        teams = {t.number: t for t in await finding_db.teams_of_campaign(s, campaign_id)}
        team = teams.get(team_number)
        if team is None:
            raise NoReport("report.no_team", id=campaign_id, team=team_number)
        report = await db.report_of_team(s, team.id)
        if report is None:
            raise NoReport("report.no_report", id=campaign_id, team=team_number)
        leader = await s.get(Person, team.leader_id)
        approval = await s.get(Approval, report.approval_id) if report.approval_id else None
        approver = None
        if report.state is ReportState.APPROVED and approval and approval.decided_by_id:
            approver = await s.get(Person, approval.decided_by_id)
    approved_on = (
        report.approved_at.astimezone(zoneinfo.ZoneInfo(zone)).date().isoformat()
        if report.approved_at is not None and report.state is ReportState.APPROVED
        else ""
    )
    return Filed(
        report,
        leader.name if leader else "",
        approver.name if approver else "",
        approved_on,
    )


# --- the report as a page ------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    report: Report
    leader: str
    editable: bool  # the team leader, while the report is open: the conclusion may change


async def page(step: Step, person: Person, report_id: int) -> Page:
    """The report for its team leader, the leaders who decide it and the campaign's unit
    leaders (and the bureau's); Forbidden for anyone else, as for a report that is not."""
    report = await db.report(step.session, report_id)
    if report is None:
        raise Forbidden(report_id)
    team = await step.session.get(Team, report.team_id)
    campaign = await step.session.get(Campaign, report.campaign_id)
    assert team is not None and campaign is not None
    approval = await step.session.get(Approval, report.approval_id) if report.approval_id else None
    deciders = set(approval.approver_ids) if approval is not None else set()
    leads_unit = person.is_leader and person.unit_id in (None, campaign.unit_id)
    if person.id != team.leader_id and person.id not in deciders and not leads_unit:
        raise Forbidden(report_id)
    leader = await step.session.get(Person, team.leader_id)
    editable = person.id == team.leader_id and report.state in OPEN
    return Page(report, leader.name if leader else "", editable)


async def conclude_on_page(step: Step, person: Person, report_id: int, words: str) -> str:
    """The conclusion typed on the report's page: the note to show."""
    shown = await page(step, person, report_id)
    report = await db.report(step.session, report_id, lock=True)
    assert report is not None
    if not shown.editable:
        return _settled(report) if report.state not in OPEN else text("report.not_yours")
    await set_conclusion(step, person, report, words)
    return text("report.conclusion_saved")
