"""Team reports end to end: every finding of a team submitted → its leader is told, drafts the
report, adds a conclusion and submits it → a unit leader rejects it with a comment → the leader
sends a finding back, fixes it and submits again → approved, frozen → every team approved: the
campaign is reported; the audit log holds every step. And what may not happen: a report before
the findings are in, a second submission while one waits, a finding sent back after approval,
two leaders deciding at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from click.testing import Result
from sqlalchemy import select

from bot.forms import catalog
from bot.platforms import fakes
from bot.workflows import approvals, findings, reports
from bot.workflows.step import Step
from handlers.commands import Command
from storage import assignments as assignment_db
from storage.engine import unit_of_work
from storage.models import (
    Approval,
    AuditEntry,
    Campaign,
    Finding,
    FindingState,
    Person,
    Report,
    ReportState,
    Team,
)
from tests.e2e.pages import Browser
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_assignments import team
from tests.e2e.test_cli import run
from tests.e2e.test_findings import Factory, reply, started
from tests.helpers import load_sample

pytestmark = pytest.mark.db


@pytest.fixture(params=["wecom", "dingtalk"])
async def bot(
    request: Any, factory: Factory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    pace = {"SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200"}
    async with phones(request.param, database_url, pages=True, **pace) as built:
        yield built


def answers_for(problem: bool, today: dt.date) -> dict[str, Any]:
    """The standard result of a finding: no problem, or one ordered put right."""
    if not problem:
        return {"checked_on": today.isoformat(), "check_method": "书面检查",
                "result_category": "未发现问题"}  # fmt: skip
    return {
        "checked_on": today.isoformat(),
        "check_method": "实地检查",
        "result_category": "发现问题已责令改正",
        "measure": "责令改正",
        "problems": "拖欠 3 名职工工资",
        "rectify_by": (today + dt.timedelta(days=15)).isoformat(),
    }


async def submit_findings(
    p: Phones,
    campaign_id: int,
    number: int,
    *,
    leave_out: int = 0,
    problem_at: int = 0,
    clock: Callable[[], dt.datetime] = utc_now,
) -> list[int]:
    """Every finding of team ``number`` filled and submitted by its first member at
    ``clock``'s time, as the form's submission does (the last ``leave_out`` left unsubmitted);
    ids in order."""
    ids = []
    async with unit_of_work(p.factory) as session:
        t = (
            await session.execute(
                select(Team).where(Team.campaign_id == campaign_id, Team.number == number)
            )
        ).scalar_one()
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        members = await assignment_db.team_members(session, t.id)
        officer = members[-1][1]
        step = Step(session, p.policy, clock(), officer.name)
        pairs = [
            (e, i)
            for e in await assignment_db.team_employers(session, t.id)
            for i in campaign.items
        ]
        for index, (entity, item) in enumerate(pairs):
            form = catalog.find(item["code"], None)
            assert form is not None
            answers = answers_for(index == problem_at, step.today)
            found = (
                await session.execute(
                    select(Finding).where(
                        Finding.team_id == t.id,
                        Finding.entity_id == entity.id,
                        Finding.item_code == item["code"],
                    )
                )
            ).scalar()
            if found is None:
                found = Finding(
                    campaign_id=campaign_id, team_id=t.id, entity_id=entity.id,
                    item_code=item["code"], state=FindingState.DRAFT, form=form.to_json(),
                    form_sha256=form.sha256, draft={"answers": answers}, answered_by={},
                    holder_id=officer.id, held_since=step.now, touched_at=step.now,
                    started_by_id=officer.id, started_at=step.now, reopened=0,
                )  # fmt: skip
                session.add(found)
                await session.flush()
            ids.append(found.id)
            if index >= len(pairs) - leave_out or found.state is FindingState.SUBMITTED:
                continue
            found.draft = {"answers": answers}
            await findings.freeze(step, officer, found, form, answers)
    await p.settled()
    return ids


async def audit_actions(p: Phones) -> list[str]:
    async with p.factory() as session:
        rows = await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))
        return list(rows.scalars())


async def pending_approval(p: Phones, report_id: int) -> Approval:
    async with p.factory() as session:
        found = (
            await session.execute(
                select(Approval).where(Approval.kind == "report", Approval.subject_id == report_id)
                .order_by(Approval.id.desc())
            )
        ).scalars().first()  # fmt: skip
        assert found is not None
        return found


async def accounts(p: Phones, ids: list[int]) -> list[str]:
    return [await p.account(i) for i in ids]


async def the_report(p: Phones, report_id: int | None = None) -> Report:
    async with p.factory() as session:
        query = select(Report).order_by(Report.id)
        if report_id is not None:
            query = query.where(Report.id == report_id)
        found = (await session.execute(query)).scalars().first()
        assert found is not None
        return found


async def test_a_team_report_is_drafted_rejected_fixed_approved_and_the_campaign_reported(
    bot: Phones, tmp_path: Path, database_url: str
) -> None:
    async def suiji(*args: str) -> Result:
        return await asyncio.to_thread(run, *args, env={"SUIJI_DATABASE__URL": database_url})

    campaign_id = await started(bot)
    leader, _ = await team(bot, campaign_id, 1)
    ids = await submit_findings(bot, campaign_id, 1, leave_out=1, problem_at=0)
    said = await reply(bot, leader, "生成检查报告")
    assert "还有 1 份检查结果没有提交" in said.text

    # The last one in: the leader is told and offered the report.
    before = len(bot.inbox(leader))
    await submit_findings(bot, campaign_id, 1, problem_at=0)
    ready = await bot.wait_for(leader, "已全部提交")
    assert bot.inbox(leader).index(ready) >= before
    assert any(b["label"] == "生成检查报告" for b in ready.buttons)
    drafted = await reply(bot, leader, "生成检查报告", press=True)
    assert "报告草稿已按检查结果生成" in drafted.text and "发现问题 1 家" in drafted.text
    assert "/h5/reports/" in drafted.text
    said = await reply(bot, leader, "报告结论 本次抽查发现 1 家单位拖欠工资")
    assert "结论已保存" in said.text and "拖欠工资" in said.text
    # Or on the report's page, which the summary links.
    async with Browser(bot, leader) as phone:
        shown = await phone.open(re.search(r"\((http://[^)]+/h5/reports/\d+)\)", said.text)[1])
        assert shown.status == 200 and 'name="conclusion"' in shown.text
        words = "本次抽查发现 1 家单位拖欠工资，已责令限期改正。"
        saved = await phone.post(shown.url, {"csrf": shown.csrf, "conclusion": words})
        assert "结论已保存" in saved.text
        forged = await phone.post(shown.url, {"conclusion": "改掉"})
        assert forged.status == 403
    assert (await the_report(bot)).conclusion == words

    report = await the_report(bot)
    said = await reply(bot, leader, "提交审批", press=True)
    assert f"报告{report.id}已提交审批" in said.text
    again = await reply(bot, leader, "提交审批")
    assert "正在审批中" in again.text
    approval = await pending_approval(bot, report.id)
    leader_person = (await the_team(bot, campaign_id, 1)).leader_id
    assert leader_person not in approval.approver_ids  # nobody approves their own team's
    first, second = await accounts(bot, approval.approver_ids[:2])
    card = await bot.wait_for(first, "检查报告")
    assert "第1组" in card.text

    # Rejected with a comment: back to the leader, who may now send a finding back.
    said = await reply(bot, first, f"驳回 审批{approval.id} 问题单位的整改期限要写清楚")
    assert "已驳回" in said.text
    await bot.wait_for(leader, "整改期限要写清楚")
    assert (await the_report(bot)).state is ReportState.REJECTED
    said = await reply(bot, leader, f"退回 结果{ids[0]} 补充整改期限")
    assert "已退回" in said.text
    await submit_findings(bot, campaign_id, 1, problem_at=0)
    await reply(bot, leader, "生成检查报告")
    said = await reply(bot, leader, "提交审批")
    assert "已第 2 次提交审批" in said.text
    approval = await pending_approval(bot, report.id)

    # Two leaders decide at once: one decision.
    both = await asyncio.gather(
        bot.say(first, f"同意 审批{approval.id}"), bot.say(second, f"同意 审批{approval.id}")
    )
    assert both == [200, 200]
    await bot.wait_for(leader, "已由")
    await bot.settled()
    report = await the_report(bot, report.id)
    assert report.state is ReportState.APPROVED and report.content_sha256
    assert report.content_sha256 == reports.content_sha256(report.content, report.conclusion)
    async with bot.factory() as session:
        decided = await session.get(Approval, approval.id)
    assert decided is not None and decided.decided_by_id is not None
    # The Word document: every employer, result and measure; the approver signs it.
    sheet = tmp_path / "报告.docx"
    exported = await suiji("report", "export", str(campaign_id), "--team", "1", str(sheet))
    assert exported.exit_code == 0, exported.output
    words = docx_text(sheet)
    for employer in report.content["employers"]:
        assert employer["name"] in words and employer["uscc"] in words
    assert "发现问题已责令改正" in words and "责令改正" in words and "未发现问题" in words
    assert "草稿" not in words and "拖欠工资" in words
    async with bot.factory() as session:
        approver = await session.get(Person, decided.decided_by_id)
    assert approver is not None and f"审批人：{approver.name}" in words

    # The report as a page, behind the login: the team leader and its deciders read it; a
    # member of another team gets the pages' 403.
    link = f"{bot.policy.public_url}/h5/reports/{report.id}"
    async with Browser(bot, first) as phone:
        shown = await phone.open(link)
        assert shown.status == 200 and "执法检查报告" in shown.text and "已批准" in shown.text
        assert 'name="conclusion"' not in shown.text
    _, others = await team(bot, campaign_id, 2)
    async with Browser(bot, await bot.account(others[0].person_id)) as phone:
        assert (await phone.open(link)).status == 403

    # Frozen: its findings stay as they are.
    said = await reply(bot, leader, f"退回 结果{ids[1]} 再看看")
    assert "不能退回" in said.text

    # The other teams' reports approved too: the campaign is reported, its leaders told.
    for number in (2, 3):
        await approve_team(bot, campaign_id, number)
    async with bot.factory() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
    assert campaign.reported_on == dt.datetime.now(bot.policy.tz).date()
    await bot.wait_for(first, "转入公示阶段")
    shown = await suiji("campaign", "show", str(campaign_id))
    assert f"检查报告已全部批准（{campaign.reported_on}）" in shown.output, shown.output
    as_json = json.loads(
        (await suiji("campaign", "show", str(campaign_id), "--format", "json")).output
    )
    assert as_json["state"] == "reported"

    actions = await audit_actions(bot)
    for action in (
        "report:draft",
        "report:conclusion",
        "report:submit",
        "approval:request",
        "report:reject",
        "finding:reopen",
        "report:approve",
        "campaign:reported",
    ):
        assert action in actions, action
    async with bot.factory() as session:
        approved = (
            await session.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "report:approve", AuditEntry.subject_key == str(report.id)
                )
            )
        ).scalars().first()  # fmt: skip
    assert approved is not None and approved.after is not None
    assert json.loads(approved.after)["content_sha256"] == report.content_sha256


def docx_text(path: Path) -> str:
    """Every word of a .docx, as python-docx reads it: paragraphs and table cells."""
    document = docx.Document(str(path))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


async def the_team(p: Phones, campaign_id: int, number: int) -> Team:
    async with p.factory() as session:
        return (
            await session.execute(
                select(Team).where(Team.campaign_id == campaign_id, Team.number == number)
            )
        ).scalar_one()


async def approve_team(p: Phones, campaign_id: int, number: int) -> None:
    """Team ``number``'s findings in, its report drafted, submitted and approved."""
    await submit_findings(p, campaign_id, number)
    await approve_report(p, await submit_report(p, campaign_id, number))


async def submit_report(
    p: Phones, campaign_id: int, number: int, clock: Callable[[], dt.datetime] = utc_now
) -> Approval:
    """Team ``number``'s report (its findings in) drafted and submitted by its leader at
    ``clock``'s time: the approval it waits on."""
    t = await the_team(p, campaign_id, number)
    async with unit_of_work(p.factory) as session:
        leader = await session.get(Person, t.leader_id)
        assert leader is not None
        step = Step(session, p.policy, clock(), leader.name)
        await reports.generate(step, leader, Command("generate_report"))
        await reports.submit(step, leader, Command("submit_report"))
    report = await the_report_of_team(p, t.id)
    return await pending_approval(p, report.id)


async def approve_report(
    p: Phones, approval: Approval, clock: Callable[[], dt.datetime] = utc_now
) -> None:
    """The report's first approver approves it at ``clock``'s time."""
    async with unit_of_work(p.factory) as session:
        decider = await session.get(Person, approval.approver_ids[0])
        assert decider is not None
        step = Step(session, p.policy, clock(), decider.name)
        await approvals.decide(step, approval, decider, True, "")
    await p.settled()


async def the_report_of_team(p: Phones, team_id: int) -> Report:
    async with p.factory() as session:
        return (await session.execute(select(Report).where(Report.team_id == team_id))).scalar_one()


async def test_only_a_team_leader_drafts_and_nothing_before_every_finding_is_in(
    bot: Phones, tmp_path: Path, database_url: str
) -> None:
    campaign_id = await started(bot)
    leader, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    said = await reply(bot, officer, "生成检查报告")
    assert "只有检查组组长" in said.text
    said = await reply(bot, leader, "提交审批")
    assert "还没有报告草稿" in said.text
    said = await reply(bot, leader, "生成检查报告")
    assert "份检查结果没有提交" in said.text and "未填" in said.text
    async with bot.factory() as session:
        assert (await session.execute(select(Report))).scalars().first() is None
    env = {"SUIJI_DATABASE__URL": database_url}
    out = tmp_path / "r.docx"
    none = await asyncio.to_thread(
        run, "report", "export", str(campaign_id), "--team", "1", str(out), env=env
    )
    assert none.exit_code == 1 and "还没有检查报告" in none.output and not out.exists()
    wrong = await asyncio.to_thread(
        run, "report", "export", str(campaign_id), "--team", "9", str(out), env=env
    )
    assert wrong.exit_code == 1 and "没有第9组" in wrong.output


async def test_a_draft_exports_marked_as_one(
    bot: Phones, tmp_path: Path, database_url: str
) -> None:
    campaign_id = await started(bot)
    leader, _ = await team(bot, campaign_id, 1)
    await submit_findings(bot, campaign_id, 1)
    await reply(bot, leader, "生成检查报告")
    out = tmp_path / "草稿.docx"
    env = {"SUIJI_DATABASE__URL": database_url}
    done = await asyncio.to_thread(
        run, "report", "export", str(campaign_id), "--team", "1", str(out), env=env
    )
    assert done.exit_code == 0, done.output
    words = docx_text(out)
    assert "草稿" in words and "审批人：__________" in words
