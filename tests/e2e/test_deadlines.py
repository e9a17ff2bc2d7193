"""Deadlines and their reminders end to end (issue 16), with an injected clock: a campaign
through the 2026 National Day / Mid-Autumn holidays (start, findings due, overdue escalation
to the unit's leaders, publication 20 working days after it is reported), quiet hours, a
server down over the holiday (one catch-up digest per person), two ticks at once (nothing
twice), an owner without an account, a campaign in a year the calendar does not cover (估算),
and 「待办」."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import zoneinfo
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select

from bot.base.texts import render
from bot.workflows import campaigns, deadlines
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.step import Step
from storage.assignments import admins as admins_of
from storage.engine import make_engine, make_session_factory, unit_of_work
from storage.models import (
    Assignment,
    AssignmentRole,
    AuditEntry,
    Campaign,
    Deadline,
    DeadlineState,
    OutboxMessage,
    Person,
    Team,
)
from tests.e2e.phones import Phones, phones
from tests.e2e.test_cli import run
from tests.e2e.test_findings import Factory, reply
from tests.helpers import ENTROPY, MADE_UP_2027, load_sample, spec

pytestmark = pytest.mark.db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(dt.UTC)


def clock(text: str) -> deadlines.Clock:
    return lambda: at(text)


@pytest.fixture
async def bot(factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    await load_sample(factory, clock("2026-09-01 10:00"))
    async with phones("wecom", database_url) as built:
        yield built


async def drawn(p: Phones, start: str, end: str, drawn_at: str = "2026-09-10 10:00") -> int:
    created = await campaigns.create_campaign(
        p.factory, parse_campaign(spec(start=start, end=end)), "李管理",
        clock("2026-09-01 10:00"),
    )  # fmt: skip
    await campaigns.commit_draw(p.factory, created.id, "李管理", clock(drawn_at))
    await campaigns.run_draw(
        p.factory, created.id, ENTROPY, None, "李管理", clock(drawn_at), p.policy
    )
    await p.settled()
    return created.id


async def leaders_of(p: Phones, campaign_id: int) -> list[Person]:
    async with p.factory() as session:
        rows = await session.execute(
            select(Person).join(Team, Team.leader_id == Person.id)
            .where(Team.campaign_id == campaign_id).order_by(Team.number)
        )  # fmt: skip
        return list(rows.scalars())


async def digests(p: Phones) -> Counter[str]:
    """How many reminder digests each account was sent."""
    async with p.factory() as session:
        rows = await session.execute(select(OutboxMessage.recipient, OutboxMessage.body))
        return Counter(r for r, body in rows if body.get("title") == "到期提醒")


async def suiji(database_url: str, *args: str) -> Result:
    return await asyncio.to_thread(run, *args, env={"SUIJI_DATABASE__URL": database_url})


async def tick(p: Phones, when: str) -> int:
    sent = await deadlines.remind_due(p.factory, p.policy, clock(when))
    await p.settled()
    return sent


async def test_a_campaign_through_the_national_day_holidays(bot: Phones) -> None:
    campaign_id = await drawn(bot, "2026-09-21", "2026-09-25")
    leaders = await leaders_of(bot, campaign_id)
    accounts = [await bot.account(p.id) for p in leaders]
    assert await tick(bot, "2026-09-16 09:00") == 0  # nothing due yet
    # Three working days before the start (Sunday 2026-09-20 is worked, 调休), at nine: each
    # team leader, once.
    assert await tick(bot, "2026-09-17 09:00") == len(leaders)
    assert await tick(bot, "2026-09-17 09:05") == 0
    first = await bot.wait_for(accounts[0], "抽查开始")
    assert "还有 3 个工作日" in first.text
    assert await tick(bot, "2026-09-17 22:00") == 0  # quiet hours
    # The findings fall due on the last day, Mid-Autumn (a holiday): said the day before.
    assert await tick(bot, "2026-09-25 09:00") == 0
    assert await tick(bot, "2026-09-24 09:00") == len(leaders)
    await bot.wait_for(accounts[0], "提交检查结果")
    # Down from then until after the holidays: one catch-up digest per person, escalated to
    # the team's unit leaders (more than five working days overdue), never a flood.
    before = await digests(bot)
    sent = await tick(bot, "2026-10-12 10:00")
    after = await digests(bot)
    grew = after - before
    assert sent == len(grew) and set(grew.values()) == {1}
    assert set(accounts) <= set(grew)
    async with bot.factory() as session:
        rows = await session.execute(select(Deadline.kind, Deadline.escalation, Deadline.state))
        levels = {(kind, level) for kind, level, state in rows if state.value == "open"}
    assert ("findings_due", 2) in levels  # up to the unit's leaders
    late = await bot.wait_for(accounts[0], "逾期")
    assert any(b["label"] == "填写" for b in late.buttons)
    assert await tick(bot, "2026-10-12 11:00") == 0
    # The campaign reported on 2026-09-25: publication within 20 working days is 2026-10-29.
    async with unit_of_work(bot.factory) as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.reported_on = dt.date(2026, 9, 25)
        step = Step(session, bot.policy, at("2026-09-25 17:00"), "test")
        await deadlines.campaign_reported(step, campaign, [leaders[0]])
    async with bot.factory() as session:
        due = (
            await session.execute(select(Deadline).where(Deadline.kind == "publication"))
        ).scalar_one()
    assert due.due_on == dt.date(2026, 10, 29) and not due.estimated


async def test_two_processes_ticking_at_once_send_each_reminder_once(
    bot: Phones, database_url: str
) -> None:
    await drawn(bot, "2026-09-21", "2026-09-25")
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        factories = [make_session_factory(e) for e in engines]
        sent = await asyncio.gather(
            *(deadlines.remind_due(f, bot.policy, clock("2026-09-17 09:00")) for f in factories)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    counts = await digests(bot)
    assert sum(sent) == sum(counts.values()) > 0 and set(counts.values()) == {1}


async def test_an_owner_without_an_account_is_passed_over_and_the_list_says_so(
    bot: Phones, database_url: str
) -> None:
    campaign_id = await drawn(bot, "2026-09-21", "2026-09-25")
    [first, *_] = await leaders_of(bot, campaign_id)
    async with unit_of_work(bot.factory) as session:
        person = await session.get(Person, first.id)
        assert person is not None
        person.wecom_userid = person.dingtalk_userid = None
    listed = await suiji(
        database_url, "deadlines", "list", "--campaign", str(campaign_id), "--format", "json"
    )
    assert listed.exit_code == 0, listed.output
    rows = [r for r in json.loads(listed.output) if r["owner"] == first.name]
    assert rows and not any(r["owner_reachable"] for r in rows)
    table = await suiji(database_url, "deadlines", "list")
    assert "无平台账号" in table.output
    preview = await deadlines.preview(bot.factory, bot.policy, at("2026-09-17 09:00"))
    assert first.name not in [p["person"] for p in preview]
    assert any(not i["as_owner"] for p in preview for i in p["items"])  # someone above them
    shown = await suiji(database_url, "reminders", "preview", "--at", "2026-09-17 09:00")
    assert shown.exit_code == 0 and "到期前 3 个工作日" in shown.output
    bad = await suiji(database_url, "reminders", "preview", "--at", "明天")
    assert bad.exit_code == 1 and "看不懂时间" in bad.output


async def test_a_campaign_in_a_year_not_covered_is_marked_estimated(
    bot: Phones, database_url: str
) -> None:
    campaign_id = await drawn(bot, "2027-12-06", "2027-12-24")
    listed = await suiji(database_url, "deadlines", "list", "--campaign", str(campaign_id))
    assert listed.exit_code == 0 and "估算" in listed.output
    [leader, *_] = await leaders_of(bot, campaign_id)
    said = await reply(bot, await bot.account(leader.id), "待办")
    assert "提交检查报告" in said.text and "估算" in said.text


async def test_a_rectification_carried_out_is_closed_by_its_team_leader_and_reminded_no_more(
    bot: Phones,
) -> None:
    """「已整改 结果N」 by the team's leader closes that finding's rectification deadline
    (audited); nobody else can, and without it the overdue deadline would go on reminding."""
    campaign_id = await drawn(bot, "2026-09-21", "2026-09-25")
    leader, other, *_ = await leaders_of(bot, campaign_id)
    async with unit_of_work(bot.factory) as session:
        team = (await session.execute(select(Team).where(Team.leader_id == leader.id))).scalar()
        assert team is not None
        rectify = Deadline(
            kind="rectification", subject_kind="finding", subject_id=77,
            campaign_id=campaign_id, team_id=team.id, owner_id=leader.id,
            due_on=dt.date(2026, 10, 9), rule="rectification:on", estimated=False,
            state=DeadlineState.OPEN, created_at=at("2026-09-22 10:00"), escalation=0,
        )  # fmt: skip
        session.add(rectify)
    mine, theirs = await bot.account(leader.id), await bot.account(other.id)
    assert await tick(bot, "2026-10-12 10:00") > 0
    assert "整改期限" in (await bot.wait_for(mine, "整改期限")).text
    assert "已整改 结果编号" in (await reply(bot, mine, "已整改")).text
    assert "没有待跟进的整改期限" in (await reply(bot, mine, "已整改 结果78")).text
    assert "只有该检查组的组长" in (await reply(bot, theirs, "已整改 结果77 好了")).text
    async with bot.factory() as session:
        assert (await session.get(Deadline, rectify.id)).state is DeadlineState.OPEN  # type: ignore[union-attr]
    assert "整改完成" in (await reply(bot, mine, "已整改 结果77 已补发工资")).text
    async with bot.factory() as session:
        closed = await session.get(Deadline, rectify.id)
        [entry] = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "deadline:close"))
        ).scalars()
    assert closed is not None and closed.state is DeadlineState.CLOSED
    assert closed.closed_why == "rectified" and entry.subject_key == str(rectify.id)
    assert "已补发工资" in (entry.after or "") and leader.name in (entry.after or "")
    # Days later, still working days overdue: the closed deadline is in no digest.
    later = await deadlines.preview(bot.factory, bot.policy, at("2026-10-20 10:00"))
    assert all(i.get("id") != rectify.id for p in later for i in p["items"])
    assert "整改期限" not in (await reply(bot, mine, "待办")).text


async def asked(p: Phones) -> Counter[str]:
    """How many asks for next year's calendar each account was sent."""
    async with p.factory() as session:
        rows = await session.execute(select(OutboxMessage.recipient, OutboxMessage.body))
        return Counter(r for r, body in rows if "年的节假日安排还没有导入" in body.get("text", ""))


async def test_admins_are_asked_weekly_from_november_for_next_years_calendar(
    bot: Phones, database_url: str, tmp_path: Path
) -> None:
    """From 1 November, 2027 not covered: the admins get one message a week (none in quiet
    hours, none twice when two processes tick at once), until the year is imported."""
    async with bot.factory() as session:
        people = await admins_of(session)
    admins = [await bot.account(a.id) for a in people]
    assert admins

    async def ask(when: str) -> int:
        sent = await deadlines.ask_for_calendar(bot.factory, bot.policy, clock(when))
        await bot.settled()
        return sent

    assert await ask("2026-10-30 10:00") == 0  # October: not yet
    assert await ask("2026-11-02 10:00") == len(admins)  # Monday of the first week
    said = await bot.wait_for(admins[0], "2027 年的节假日安排")
    assert "suiji calendar import" in said.text
    assert await ask("2026-11-02 10:05") == 0 and await ask("2026-11-06 15:00") == 0
    assert await ask("2026-11-09 22:30") == 0  # quiet hours: the week's ask waits
    assert await ask("2026-11-14 10:00") == 0  # a Saturday: nothing goes out
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        both = await asyncio.gather(
            *(
                deadlines.ask_for_calendar(
                    make_session_factory(e), bot.policy, clock("2026-11-10 09:30")
                )
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    await bot.settled()
    assert sorted(both) == [0, len(admins)]
    assert set((await asked(bot)).values()) == {2}
    # Imported: asked no more, and the ask is in no digest, 「待办」 or list.
    path = tmp_path / "2027.toml"
    path.write_text(MADE_UP_2027, "utf-8")
    done = await suiji(database_url, "calendar", "import", str(path), "--as", people[0].name)
    assert done.exit_code == 0, done.output
    assert await ask("2026-11-16 10:00") == 0
    async with bot.factory() as session:
        [row] = (
            await session.execute(select(Deadline).where(Deadline.kind == "calendar_year"))
        ).scalars()
    assert row.state is DeadlineState.CLOSED and row.subject_id == 2027
    assert set((await asked(bot)).values()) == {2}


async def test_answers_awaited_are_listed_beside_the_deadlines_until_given(
    factory: Factory, database_url: str
) -> None:
    """A member's answer to an assignment (「确认参加」/「无法参加」) is read from the
    assignment itself: in their 「待办」 and ``suiji deadlines list``, due the last day
    「无法参加」 is accepted (the day before the start), until they answer."""
    await load_sample(factory, clock("2026-09-01 10:00"))
    async with phones("wecom", database_url, clock=clock("2026-09-14 10:00")) as p:
        campaign_id = await drawn(p, "2026-09-21", "2026-09-25")
        async with p.factory() as session:
            a, member = (
                await session.execute(
                    select(Assignment, Person).join(Person, Person.id == Assignment.person_id)
                    .where(Assignment.campaign_id == campaign_id,
                           Assignment.role == AssignmentRole.MEMBER)
                    .order_by(Assignment.id).limit(1)
                )
            ).one()  # fmt: skip
        user = await p.account(member.id)
        # Due Sunday 2026-09-20, a 调休 working day: five working days from Monday the 14th.
        todo = (await reply(p, user, "待办")).text
        assert f"答复任务{a.id}【" in todo and "2026-09-20，还有 5 个工作日" in todo
        listed = await deadlines.listing(p.factory, p.policy, at("2026-09-14 10:00"))
        [row] = [r for r in listed if r["subject"] == f"assignment:{a.id}"]
        assert row["kind"] == "assignment_answer" and row["id"] is None
        assert (row["owner"], row["due_on"], row["campaign_id"]) == (
            member.name,
            "2026-09-20",
            campaign_id,
        )
        assert [r["due_on"] for r in listed] == sorted(r["due_on"] for r in listed)
        table = render("cli/deadlines_list.txt.j2", rows=listed)
        assert f"答复任务{a.id}【" in table and "#None" not in table
        overdue = await deadlines.listing(p.factory, p.policy, at("2026-09-14 10:00"), overdue=True)
        assert not [r for r in overdue if r["kind"] == "assignment_answer"]
        await reply(p, user, f"确认参加 任务{a.id}")
        assert f"答复任务{a.id}" not in (await reply(p, user, "待办")).text
        listed = await deadlines.listing(p.factory, p.policy, at("2026-09-14 10:00"))
        assert not [r for r in listed if r["subject"] == f"assignment:{a.id}"]
