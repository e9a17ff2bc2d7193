"""The results publication end to end (issue 17 §1, §3): refused before the campaign is
reported; prepared from the approved reports (no officers, no free text), scanned, approved by
a bureau leader in chat → published, the publication deadline closed (late ones marked late);
rejected → back to the team leaders and the unit's leaders with the comment; exported for the
national enterprise credit publicity system; a planted ID number never reaches the public."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import Result
from sqlalchemy import select, update

from bot.workflows import approvals, publish
from bot.workflows.step import Step
from storage import publications as publication_db
from storage import reports as report_db
from storage.engine import unit_of_work
from storage.findings import teams_of_campaign
from storage.models import (
    Approval,
    AuditEntry,
    Campaign,
    Deadline,
    Person,
    Publication,
    PublicationState,
)
from tests.e2e import test_reports
from tests.e2e.phones import Phones, utc_now
from tests.e2e.test_cli import run
from tests.e2e.test_findings import reply, started
from tests.e2e.test_reports import approve_team
from tests.unit.test_personal import ID

pytestmark = pytest.mark.db
ADMIN = "陈红军"  # an admin of the sample registry


bot = test_reports.bot  # the same phones, both platforms


async def suiji(database_url: str, *args: str) -> Result:
    return await asyncio.to_thread(run, *args, env={"SUIJI_DATABASE__URL": database_url})


async def reported(p: Phones) -> int:
    """A campaign drawn, every team's findings in and report approved: reported."""
    campaign_id = await started(p)
    await reported_after_start(p, campaign_id)
    async with p.factory() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.reported_on is not None
    return campaign_id


async def prepared(p: Phones, campaign_id: int) -> Publication:
    return await publish.prepare(p.factory, campaign_id, ADMIN, utc_now, p.policy)


async def approved_in_chat(p: Phones, found: Publication) -> str:
    """A bureau leader approves the publication from the card they were sent; the card's text."""
    async with p.factory() as session:
        approval = await session.get(Approval, found.approval_id)
        assert approval is not None
    leader = await p.account(approval.approver_ids[0])
    card = await p.wait_for(leader, "抽查结果待公示")
    answered = await reply(p, leader, f"同意 审批{approval.id}")
    assert f"已同意审批{approval.id}" in answered.text, answered.text
    return card.text


async def the_publication(p: Phones, campaign_id: int) -> Publication:
    async with p.factory() as session:
        found = await publication_db.of_campaign(session, campaign_id)
        assert found is not None
        return found


async def publication_deadlines(p: Phones, campaign_id: int) -> list[Deadline]:
    async with p.factory() as session:
        rows = await session.execute(
            select(Deadline).where(
                Deadline.campaign_id == campaign_id, Deadline.kind == "publication"
            )
        )
        return list(rows.scalars())


async def officer_names(p: Phones) -> list[str]:
    async with p.factory() as session:
        return list((await session.execute(select(Person.name))).scalars())


async def test_refused_before_reported_then_approved_in_chat_published_and_exported(
    bot: Phones, database_url: str, tmp_path: Path
) -> None:
    campaign_id = await started(bot)
    said = await suiji(database_url, "publish", "prepare", str(campaign_id), "--as", ADMIN)
    assert said.exit_code == 1 and "还没有全部检查报告获批" in said.output, said.output
    early = await suiji(
        database_url, "publish", "export", "results", str(campaign_id), str(tmp_path / "r.csv")
    )
    assert early.exit_code == 1 and "还没有公示" in early.output
    async with bot.factory() as session:
        assert await publication_db.of_campaign(session, campaign_id) is None

    await reported_after_start(bot, campaign_id)
    # Prepared as `suiji publish prepare` does, with the phones' platform (the command reads
    # it from suiji.toml).
    await prepared(bot, campaign_id)
    found = await the_publication(bot, campaign_id)
    assert found.state is PublicationState.PENDING and found.approval_id is not None
    # Only the named columns: no officer, no free text, no address.
    names = await officer_names(bot)
    for row in found.rows:
        assert set(row) == set(publish.COLUMNS)
        assert not any(name in value for value in row.values() for name in names)
        assert "拖欠" not in " ".join(row.values())
    assert any("发现问题已责令改正" in r["result_category"] for r in found.rows)

    # A bureau leader approves it in chat.
    card = await approved_in_chat(bot, found)
    assert "不含检查人员和问题描述" in card
    found = await the_publication(bot, campaign_id)
    assert found.state is PublicationState.PUBLISHED and found.published_at is not None
    assert found.late is False
    closed = await publication_deadlines(bot, campaign_id)
    assert closed and all(d.state.value == "closed" for d in closed)
    assert {d.closed_why for d in closed} == {"published"}
    async with bot.factory() as session:
        entry = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == "publication:publish")
            )
        ).scalar_one()
    assert entry.after is not None and found.content_sha256 in entry.after
    again = await suiji(database_url, "publish", "prepare", str(campaign_id), "--as", ADMIN)
    assert again.exit_code == 1 and "已经公示" in again.output

    # The export for other systems: one row per employer, the national layout's columns.
    sheet = tmp_path / "results.csv"
    done = await suiji(database_url, "publish", "export", "results", str(campaign_id), str(sheet))
    assert done.exit_code == 0, done.output
    with sheet.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["名称", "统一社会信用代码", "抽查类型", "抽查机关", "抽查日期", "抽查结果"]
    assert len(lines) == 1 + len(found.rows)
    assert {(r[0], r[1], r[5]) for r in lines[1:]} == {
        (r["name"], r["uscc"], r["result_category"]) for r in found.rows
    }
    book = tmp_path / "results.xlsx"
    done = await suiji(database_url, "publish", "export", "results", str(campaign_id), str(book))
    assert done.exit_code == 0, done.output
    cells = list(openpyxl.load_workbook(book).active.iter_rows(values_only=True))
    assert list(cells[0]) == lines[0] and len(cells) == len(lines)

    # Something personal in the published rows (planted behind the workflow's back): the export
    # refuses, names the place, and writes nothing.
    planted = [dict(found.rows[0], result_category=f"见 {ID}"), *found.rows[1:]]
    async with unit_of_work(bot.factory) as session:
        await session.execute(
            update(Publication).where(Publication.id == found.id).values(rows=planted)
        )
    refused = tmp_path / "refused.csv"
    said = await suiji(database_url, "publish", "export", "results", str(campaign_id), str(refused))
    assert said.exit_code == 1 and "身份证号" in said.output
    assert f"第 1 条（{found.rows[0]['name']}）「抽查结果」" in said.output
    assert ID not in said.output and not refused.exists()


async def reported_after_start(p: Phones, campaign_id: int) -> None:
    async with p.factory() as session:
        numbers = [t.number for t in await teams_of_campaign(session, campaign_id)]
    for number in numbers:
        await approve_team(p, campaign_id, number)


async def approved_at(p: Phones, approval_id: int, at: dt.datetime) -> None:
    """The request approved by its first approver at ``at`` (a later day, say)."""
    async with unit_of_work(p.factory) as session:
        approval = await session.get(Approval, approval_id)
        assert approval is not None
        decider = await session.get(Person, approval.approver_ids[0])
        assert decider is not None
        step = Step(session, p.policy, at, decider.name)
        await approvals.decide(step, approval, decider, True, "")


async def test_published_after_the_deadline_is_marked_late_not_hidden(bot: Phones) -> None:
    campaign_id = await reported(bot)
    found = await prepared(bot, campaign_id)
    (due,) = {d.due_on for d in await publication_deadlines(bot, campaign_id)}
    later = utc_now() + dt.timedelta(days=(due - dt.date.today()).days + 3)
    assert found.approval_id is not None
    await approved_at(bot, found.approval_id, later)
    found = await the_publication(bot, campaign_id)
    assert found.state is PublicationState.PUBLISHED and found.late is True
    closed = await publication_deadlines(bot, campaign_id)
    assert {(d.state.value, d.closed_why) for d in closed} == {("closed", "published_late")}
    async with bot.factory() as session:
        entry = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == "publication:publish")
            )
        ).scalar_one()
    assert entry.after is not None and json.loads(entry.after)["late"] is True


async def test_late_is_judged_by_the_rule_when_no_deadline_was_ever_made(bot: Phones) -> None:
    """A unit with no leader to own the publication deadline gets none; published after 20
    working days from the end, its results are still marked late (the rule itself decides)."""
    campaign_id = await reported(bot)
    found = await prepared(bot, campaign_id)
    (due,) = {d.due_on for d in await publication_deadlines(bot, campaign_id)}
    async with unit_of_work(bot.factory) as session:  # as if none had been made
        for deadline in await publication_deadlines(bot, campaign_id):
            await session.delete(await session.get(Deadline, deadline.id))
    later = utc_now() + dt.timedelta(days=(due - dt.date.today()).days + 3)
    assert found.approval_id is not None
    await approved_at(bot, found.approval_id, later)
    found = await the_publication(bot, campaign_id)
    assert found.state is PublicationState.PUBLISHED and found.late is True


async def test_a_rejected_publication_goes_back_to_the_team_and_unit_leaders(
    bot: Phones,
) -> None:
    campaign_id = await reported(bot)
    found = await prepared(bot, campaign_id)
    async with bot.factory() as session:
        approval = await session.get(Approval, found.approval_id)
        assert approval is not None
        team_leaders = [t.leader_id for t in await teams_of_campaign(session, campaign_id)]
    leader = await bot.account(approval.approver_ids[0])
    await bot.wait_for(leader, "抽查结果待公示")
    said = await reply(bot, leader, f"驳回 审批{approval.id} 结果类别请再核对")
    assert "已驳回" in said.text
    found = await the_publication(bot, campaign_id)
    assert found.state is PublicationState.REJECTED and found.published_at is None
    for person_id in team_leaders:
        if person_id != approval.approver_ids[0]:
            told = await bot.wait_for(await bot.account(person_id), "公示被")
            assert "结果类别请再核对" in told.text
    # Still open: the deadline stays, and it may be prepared and asked for again.
    assert all(d.state.value == "open" for d in await publication_deadlines(bot, campaign_id))
    again = await prepared(bot, campaign_id)
    assert again.state is PublicationState.PENDING and again.approval_id != approval.id


async def test_a_planted_id_number_in_a_findings_problems_never_reaches_the_rows(
    bot: Phones, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = test_reports.answers_for

    def planted(problem: bool, today: dt.date) -> dict[str, Any]:
        answers = plain(problem, today)
        if problem:
            answers["problems"] = f"职工身份证 {ID} 的工资被拖欠"
        return answers

    monkeypatch.setattr(test_reports, "answers_for", planted)
    campaign_id = await reported(bot)
    async with bot.factory() as session:
        reports = await report_db.reports_of_campaign(session, campaign_id)
    assert any(ID in str(r.content) for r in reports)  # it is in the report, as written
    found = await prepared(bot, campaign_id)
    assert ID not in str(found.rows)
