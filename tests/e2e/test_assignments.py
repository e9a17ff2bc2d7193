"""Assignments, 「无法参加」, substitution in draw order and approvals, end to end: the draw
runs, the bot delivers through the fake WeCom or DingTalk, people answer from their phones."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
import zoneinfo
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.calendar import is_working_day
from bot.workflows import assignments, campaigns, deadlines
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.step import Policy
from storage.assignments import recused_entities, team_employers
from storage.assignments import reserve as reserve_of
from storage.models import (
    Approval,
    ApprovalState,
    Assignment,
    AssignmentRole,
    AssignmentState,
    Deadline,
    DeadlineState,
    Entity,
    OutboxMessage,
    OutboxState,
    Person,
    Recusal,
    Team,
    TeamEmployer,
)
from storage.officers import officers_in_force
from tests.e2e.phones import Phones, phones, utc_now
from tests.helpers import ENTROPY, load_sample, spec

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
PLATFORMS = ["wecom", "dingtalk"]


def window(start_in_days: int = 14) -> dict[str, str]:
    """Campaign dates relative to today, so that the tests mean the same on any day."""
    start = dt.date.today() + dt.timedelta(days=start_in_days)
    return {"start": start.isoformat(), "end": (start + dt.timedelta(days=14)).isoformat()}


async def drawn(p: Phones, source: str) -> int:
    """Create, commit and run a campaign the way the CLI does, with the bot's own policy."""
    # Some start today, when 「无法参加」 has closed already: entered as if after the fact.
    created = await campaigns.create_campaign(
        p.factory, parse_campaign(source), "李管理", utc_now, allow_past=True
    )
    campaign_id = created.id
    await campaigns.commit_draw(p.factory, campaign_id, "李管理", utc_now)
    await campaigns.run_draw(p.factory, campaign_id, ENTROPY, None, "李管理", utc_now, p.policy)
    return campaign_id


async def team(p: Phones, campaign_id: int, number: int) -> tuple[str, list[Assignment]]:
    """(the leader's account, the team's member assignments in draw order)."""
    async with p.factory() as session:
        rows = list(
            (
                await session.execute(
                    select(Assignment)
                    .where(Assignment.campaign_id == campaign_id, Assignment.team_number == number)
                    .order_by(Assignment.position)
                )
            ).scalars()
        )
    [leader] = [a for a in rows if a.role is AssignmentRole.LEADER]
    return await p.account(leader.person_id), [a for a in rows if a.role is AssignmentRole.MEMBER]


async def eligible_reserve(p: Phones, team_id: int | None) -> list[int]:
    """Positions of the reserve, in draw order, without a recusal against the team: who may
    take a place on it. (The sample holds recusals, and each draw is new.)"""
    assert team_id is not None
    async with p.factory() as session:
        team_row = await session.get(Team, team_id)
        assert team_row is not None
        reserve = await reserve_of(session, team_row.campaign_id)
        recused = await recused_entities(session, [pid for _, pid in reserve])
        employers = {e.id for e in await team_employers(session, team_id)}
    return [pos for pos, pid in reserve if not recused.get(pid, set()) & employers]


async def assignment(p: Phones, assignment_id: int) -> Assignment:
    async with p.factory() as session:
        found = await session.get(Assignment, assignment_id)
        assert found is not None
        return found


async def substitutes(p: Phones, campaign_id: int) -> list[Assignment]:
    async with p.factory() as session:
        rows = await session.execute(
            select(Assignment)
            .where(Assignment.campaign_id == campaign_id, Assignment.replaces_id.is_not(None))
            .order_by(Assignment.id)
        )
        return list(rows.scalars())


async def findings_owners(p: Phones, team_id: int | None) -> list[int]:
    """Who owns the team's open findings deadline: each of its officers."""
    async with p.factory() as session:
        rows = await session.execute(
            select(Deadline.owner_id)
            .where(Deadline.team_id == team_id, Deadline.kind == deadlines.FINDINGS_DUE,
                   Deadline.state == DeadlineState.OPEN)
            .order_by(Deadline.owner_id)
        )  # fmt: skip
        return list(rows.scalars())


async def approvals_of(p: Phones) -> list[Approval]:
    async with p.factory() as session:
        return list((await session.execute(select(Approval).order_by(Approval.id))).scalars())


@pytest.fixture
async def loaded(factory: Factory) -> AsyncIterator[None]:
    await load_sample(factory, utc_now)
    yield


@pytest.fixture(params=PLATFORMS)
async def bot(request: Any, loaded: None, database_url: str) -> AsyncIterator[Phones]:
    async with phones(request.param, database_url) as built:
        yield built


@pytest.fixture
async def wecom(loaded: None, database_url: str) -> AsyncIterator[Phones]:
    async with phones("wecom", database_url) as built:
        yield built


AUTO = '"直接同意"'
TEAM_LEADERS = ("zhangkai", "miaomingliang", "miaojuan")  # the example's appointed leaders
TEAM_LEADER = '"组长审批"'


async def test_decline_is_approved_and_the_next_in_draw_order_takes_the_place(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    await bot.wait_for(officer, "您被抽中")
    await bot.wait_for(leader, "您是第 1 组组长")
    reserve_before = (await campaigns.show_campaign(bot.factory, campaign_id))["reserve"]
    eligible = await eligible_reserve(bot, members[0].team_id)

    assert await bot.press(officer, "无法参加") == 200
    await bot.wait_for(officer, "请说明无法参加的原因")
    await bot.say(officer, "出差")
    await bot.wait_for(officer, "正在等待组长审批")
    await bot.wait_for(leader, "申请不参加")
    assert await bot.press(leader, "同意") == 200
    await bot.wait_for(leader, "已同意审批")
    await bot.wait_for(officer, "您不再参加")
    await bot.wait_for(leader, "递补")

    [substitute] = await substitutes(bot, campaign_id)
    assert substitute.replaces_id == members[0].id and substitute.team_number == 1
    newcomer = await bot.account(substitute.person_id)
    await bot.wait_for(newcomer, "递补")
    assert await bot.press(newcomer, "确认参加") == 200
    await bot.wait_for(newcomer, "已确认")
    await bot.wait_for(leader, "已确认参加")
    await bot.settled()

    shown = await campaigns.show_campaign(bot.factory, campaign_id)
    states = {m["task"]: m for m in shown["teams"][0]["members"]}
    assert states[members[0].id]["state"] == "replaced"
    assert states[members[0].id]["reason"] == "出差"
    assert states[substitute.id]["state"] == "confirmed"
    assert states[substitute.id]["substitute_for"] == states[members[0].id]["name"]
    # The first of the reserve without a recusal against this team took the place.
    assert substitute.position == eligible[0]
    assert shown["reserve"] == [r for r in reserve_before if r["position"] != eligible[0]]
    # The findings are the officers' to hand in: the one who left passed theirs on.
    owners = sorted([members[1].person_id, substitute.person_id])
    assert await findings_owners(bot, members[0].team_id) == owners
    if bot.platform == "wecom":  # every card answered shows how it ended
        leader_name = await name_of(bot, leader)
        await bot.wait_for_buttons(leader, "审批", [f"已同意（{leader_name}）"])
        # Closed once, when the officer answered: a card changes once per response_code.
        await bot.wait_for_buttons(officer, f"任务{members[0].id}", ["已申请无法参加"])
        await bot.wait_for_buttons(newcomer, f"任务{substitute.id}", ["已确认参加"])
    await _no_target_reaches_anyone_off_the_team(bot, campaign_id)


async def _no_target_reaches_anyone_off_the_team(p: Phones, campaign_id: int) -> None:
    """A confidential campaign (the example is one): an employer's name reaches only people on
    that employer's team, and never after they left it."""
    async with p.factory() as session:
        rows = await session.execute(
            select(Entity.name, Assignment.person_id, Assignment.state)
            .join(TeamEmployer, TeamEmployer.entity_id == Entity.id)
            .join(Assignment, Assignment.team_id == TeamEmployer.team_id)
            .where(Assignment.campaign_id == campaign_id)
        )
        seen_by: dict[str, set[str]] = {}
        left: set[str] = set()
        for name, person_id, state in rows:
            account = await p.account(person_id)
            seen_by.setdefault(name, set()).add(account)
            if state is AssignmentState.REPLACED:
                left.add(account)
    for message in p.fake.delivered:
        for name, allowed in seen_by.items():
            if name in message.text:
                assert message.user in allowed, (message.user, name)
    for user in left:
        last = p.inbox(user)[-1].text
        assert not any(name in last for name in seen_by), last


async def test_two_members_declining_at_once_get_two_different_substitutes(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(), absence_approver=AUTO))
    _, members = await team(bot, campaign_id, 1)
    first, second = [await bot.account(m.person_id) for m in members[:2]]
    eligible = await eligible_reserve(bot, members[0].team_id)
    statuses = await asyncio.gather(
        bot.say(first, "无法参加 出差"), bot.say(second, "不能参加，原因：开会")
    )
    assert statuses == [200, 200]
    await bot.wait_for(first, "您不再参加")
    await bot.wait_for(second, "您不再参加")
    await bot.settled()
    made = await substitutes(bot, campaign_id)
    assert len({s.person_id for s in made}) == 2
    assert sorted(s.position for s in made) == eligible[:2]
    assert {s.replaces_id for s in made} == {members[0].id, members[1].id}
    reasons = {(await assignment(bot, m.id)).reason for m in members[:2]}
    assert reasons == {"出差", "开会"}


async def test_a_retried_decline_callback_substitutes_once(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(), absence_approver=AUTO))
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    msg_id = str(secrets.randbelow(10**12)) if bot.platform == "wecom" else "msgRETRIED"
    statuses = await asyncio.gather(
        *(bot.say(officer, "无法参加 生病", msg_id=msg_id) for _ in range(3))
    )
    assert statuses == [200, 200, 200]
    await bot.wait_for(officer, "您不再参加")
    await bot.settled()
    assert len(await substitutes(bot, campaign_id)) == 1
    assert sum("您不再参加" in m.text for m in bot.inbox(officer)) == 1


async def test_a_decline_after_the_window_closed_is_refused_with_the_reason(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(start_in_days=0), absence_approver=AUTO))
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    await bot.say(officer, "无法参加 出差")
    reply = await bot.wait_for(officer, "截止")
    assert f"已于 {dt.date.today().isoformat()} 截止" in reply.text and "联系组长" in reply.text
    await bot.settled()
    assert (await assignment(bot, members[0].id)).state is AssignmentState.NOTIFIED
    assert await substitutes(bot, campaign_id) == []
    due = Policy(platforms=(bot.platform,), remind_after_hours=0)
    assert await assignments.remind_unanswered(bot.factory, due, utc_now) == 0  # it has begun


async def test_an_approval_by_someone_else_is_refused_and_changes_nothing(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(), absence_approver=TEAM_LEADER))
    _, members = await team(bot, campaign_id, 1)
    officer, colleague = [await bot.account(m.person_id) for m in members[:2]]
    await bot.say(officer, "无法参加 出差")
    await bot.wait_for(officer, "正在等待组长审批")
    [request] = await approvals_of(bot)
    await bot.say(colleague, f"同意 审批{request.id}")
    await bot.wait_for(colleague, "不需要您来处理")
    _, other_team = await team(bot, campaign_id, 2)
    other_leader, _ = await team(bot, campaign_id, 2)
    await bot.say(other_leader, f"同意 审批{request.id}")
    await bot.wait_for(other_leader, "不需要您来处理")
    await bot.settled()
    [still] = await approvals_of(bot)
    assert still.state is ApprovalState.PENDING
    assert (await assignment(bot, members[0].id)).state is AssignmentState.DECLINED
    assert other_team and await substitutes(bot, campaign_id) == []


async def test_a_rejection_asks_the_approver_why_and_tells_the_officer(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    await bot.say(officer, "无法参加 有个会")
    await bot.wait_for(leader, "申请不参加")
    await bot.press(leader, "驳回")
    await bot.wait_for(leader, "请回复驳回")
    await bot.say(leader, "人手紧张，请调整会议")
    await bot.wait_for(leader, "已驳回")
    told = await bot.wait_for(officer, "未获同意")
    assert "人手紧张，请调整会议" in told.text
    [request] = await approvals_of(bot)
    await bot.say(leader, f"同意 审批{request.id}")  # decided already: nothing changes
    await bot.wait_for(leader, "无需再处理")
    await bot.settled()
    assert (await assignment(bot, members[0].id)).state is AssignmentState.NOTIFIED
    assert await substitutes(bot, campaign_id) == []
    [decided] = await approvals_of(bot)
    assert decided.state is ApprovalState.REJECTED and decided.comment == "人手紧张，请调整会议"
    # The rejection card asked for a confirmation already: no reminder on top of it.
    due = Policy(platforms=(bot.platform,), remind_after_hours=0)
    morning = next_working_morning()  # quiet hours and days off hold reminders back
    assert await assignments.remind_unanswered(bot.factory, due, lambda: morning) == 5


async def test_a_recusal_in_chat_is_recorded_and_triggers_substitution(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(wecom, campaign_id, 1)
    officer = await wecom.account(members[0].person_id)
    async with wecom.factory() as session:
        assert members[0].team_id is not None
        employer = (await team_employers(session, members[0].team_id))[0]
    await wecom.say(officer, f"回避 {employer.uscc} 配偶在该单位任职")
    await wecom.wait_for(officer, "已登记您对")
    await wecom.wait_for(officer, "您不再参加")
    await wecom.wait_for(leader, "递补")
    await wecom.settled()
    async with wecom.factory() as session:
        recusal = (
            await session.execute(
                select(Recusal).where(
                    Recusal.person_id == members[0].person_id, Recusal.entity_id == employer.id
                )
            )
        ).scalar_one()
    assert recusal.reason == "配偶在该单位任职"
    [substitute] = await substitutes(wecom, campaign_id)
    assert substitute.replaces_id == members[0].id
    assert await approvals_of(wecom) == []  # a recusal needs no approval


async def test_when_the_reserve_runs_out_the_team_is_flagged_and_the_unit_alerted(
    wecom: Phones,
) -> None:
    dates = window()
    async with wecom.factory() as session:
        in_force = await officers_in_force(session, dt.date.fromisoformat(dates["end"]))
        with_recusals = set((await session.execute(select(Recusal.person_id))).scalars())
        people = await session.execute(
            select(Person).where(Person.id.in_([pid for pid, _ in in_force]))
        )
        pool = sorted(
            # Not the appointed leaders, nor 冯峰, whom the example excludes already.
            (p for p in people.scalars() if p.wecom_userid not in (*TEAM_LEADERS, "fengfeng")),
            key=lambda p: (p.id in with_recusals, p.id),
        )
    # Leave exactly the six officers three teams of two need: no reserve at all.
    excluded = "".join(
        f'\n[[exclude_officers]]\nofficer = "{p.wecom_userid}"\nreason = "同期另有任务"\n'
        for p in pool[6:]
    )
    source = spec(excluded, **dates, absence_approver=AUTO)
    campaign_id = await drawn(wecom, source)
    leader, members = await team(wecom, campaign_id, 1)
    officer = await wecom.account(members[0].person_id)
    await wecom.say(officer, "无法参加 出差")
    await wecom.wait_for(officer, "备选人员已用完")
    await wecom.wait_for(leader, "还缺 1 人")
    await wecom.wait_for("miaomingliang", "备选人员已用完")  # a leader of the unit
    await wecom.settled()
    shown = await campaigns.show_campaign(wecom.factory, campaign_id)
    assert shown["teams"][0]["short_by"] == 1 and shown["reserve"] == []
    # Nobody took the place: the one who left has no findings to hand in, the other still has.
    assert await findings_owners(wecom, members[0].team_id) == [members[1].person_id]
    await wecom.say(await wecom.account(members[1].person_id), "无法参加 生病")
    await wecom.settled()
    # The team's last officer gone too: its findings fall to the team leader.
    async with wecom.factory() as session:
        team_row = await session.get(Team, members[0].team_id)
        assert team_row is not None
    assert await findings_owners(wecom, members[0].team_id) == [team_row.leader_id]


async def test_my_tasks_and_one_task_in_full(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(wecom, campaign_id, 1)
    officer = await wecom.account(members[0].person_id)
    await wecom.say(officer, "我的任务")
    listed = await wecom.wait_for(officer, "您的抽查任务")
    assert f"任务{members[0].id}" in listed.text and "待确认" in listed.text
    await wecom.say(officer, f"任务 {members[0].id}")
    await wecom.wait_for(officer, f"任务编号：{members[0].id}")
    await wecom.say(officer, f"任务 {members[0].id + 1000}")
    await wecom.wait_for(officer, "没有找到您的任务")
    await wecom.say(leader, "我的任务")
    assert "组长" in (await wecom.wait_for(leader, "您的抽查任务")).text


def next_working_morning() -> dt.datetime:
    """Ten on the next working day after today (the campaigns start in two weeks), in the
    bureau's time: when a reminder may go out, whatever the hour the tests run at."""
    day = (utc_now() + dt.timedelta(hours=8)).date() + dt.timedelta(days=1)
    while not is_working_day(day, {}):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(10), SHANGHAI).astimezone(dt.UTC)


async def test_an_unanswered_officer_is_reminded_once(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    _, members = await team(wecom, campaign_id, 1)
    officer, confirmed = [await wecom.account(m.person_id) for m in members[:2]]
    await wecom.press(confirmed, "确认参加")
    await wecom.wait_for(confirmed, "已确认")
    await wecom.settled()
    morning = next_working_morning()
    evening, holiday = morning + dt.timedelta(hours=12), morning
    while is_working_day(holiday.astimezone(SHANGHAI).date(), {}):
        holiday += dt.timedelta(days=1)
    waiting = Policy(platforms=("wecom",), remind_after_hours=1)
    assert await assignments.remind_unanswered(wecom.factory, waiting, utc_now) == 0  # too soon
    due = Policy(platforms=("wecom",), remind_after_hours=0)
    # Like every reminder: none in quiet hours (22:00) or on a day off; then at ten, once.
    assert await assignments.remind_unanswered(wecom.factory, due, lambda: evening) == 0
    assert await assignments.remind_unanswered(wecom.factory, due, lambda: holiday) == 0
    reminded = await assignments.remind_unanswered(wecom.factory, due, lambda: morning)
    assert reminded == 5  # three teams of two, less the one who confirmed
    assert await assignments.remind_unanswered(wecom.factory, due, lambda: morning) == 0  # once
    # Queued for ten tomorrow morning (the outbox's time), so read from the outbox.
    async with wecom.factory() as session:
        queued = await session.execute(select(OutboxMessage.recipient, OutboxMessage.body))
        reminded_to = {r for r, body in queued if "还没有确认" in str(body)}
    assert officer in reminded_to and confirmed not in reminded_to and len(reminded_to) == 5


async def test_interactive_cards_over_the_dingtalk_stream(loaded: None, database_url: str) -> None:
    """With a card template configured, assignments and approvals are interactive cards and
    their presses come back as Stream card callbacks."""
    config = {
        "SUIJI_DINGTALK__MODE": "stream",
        "SUIJI_DINGTALK__CARD_TEMPLATE_ID": "suiji-card.schema",
    }
    async with phones("dingtalk", database_url, **config) as bot:
        campaign_id = await drawn(bot, spec(**window(), absence_approver=TEAM_LEADER))
        leader, members = await team(bot, campaign_id, 1)
        officer = await bot.account(members[0].person_id)
        await bot.wait_for(officer, "请确认是否参加")
        assert "out_track_id" in bot.button(officer, "无法参加")
        await bot.press(officer, "无法参加")
        await bot.wait_for(officer, "请说明无法参加的原因")
        await bot.say(officer, "出差")
        await bot.wait_for(leader, "申请不参加")
        await bot.press(leader, "同意")
        await bot.wait_for(officer, "您不再参加")
        await bot.settled()
        [substitute] = await substitutes(bot, campaign_id)
        assert substitute.replaces_id == members[0].id
        # Interactive cards are closed once answered (PUT /v1.0/card/instances).
        await bot.wait_for_buttons(officer, f"任务{members[0].id}", ["已申请无法参加"])
        leader_name = await name_of(bot, leader)
        await bot.wait_for_buttons(leader, "审批", [f"已同意（{leader_name}）"])
        assert bot.fake.calls["updateCard"] == 2
        # Six members' cards, the request to the leader, the newcomer's card.
        assert bot.fake.calls["createAndDeliver"] >= 8
        acks = getattr(bot.fake, "acks", {})
        assert acks and set(acks.values()) == {200}


async def test_a_recusal_names_the_employer_as_people_write_it(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    _, members = await team(wecom, campaign_id, 1)
    _, others = await team(wecom, campaign_id, 2)
    officer = await wecom.account(members[0].person_id)
    outsider = await wecom.account(others[0].person_id)
    async with wecom.factory() as session:
        assert members[0].team_id is not None
        first, second = (await team_employers(session, members[0].team_id))[:2]
        first.name = "睢县某某 物流（商丘）有限公司"  # a blank and full-width brackets
        second.name = "睢县天成（商丘）有限公司"
        await session.commit()
    await wecom.say(officer, f"回避 {first.uscc}")
    await wecom.wait_for(officer, "请按「回避 企业名称或统一社会信用代码 原因」发送")
    await wecom.say(officer, "回避 没有这家公司 亲属")
    await wecom.wait_for(officer, "没有找到企业「没有这家公司」")
    # Half-width brackets typed, a blank inside the name: one of the officer's own employers.
    await wecom.say(officer, "回避 睢县某某 物流(商丘)有限公司 亲属在该单位任职")
    await wecom.wait_for(officer, "已登记您对「睢县某某 物流（商丘）有限公司」的回避申报")
    await wecom.wait_for(officer, "您不再参加")
    # Someone on another team names an employer of team 1 from the registry: recorded only.
    await wecom.say(outsider, "回避 睢县天成(商丘)有限公司 曾在该单位工作")
    await wecom.wait_for(outsider, "已登记您对「睢县天成（商丘）有限公司」的回避申报")
    await wecom.settled()
    assert len(await substitutes(wecom, campaign_id)) == 1
    async with wecom.factory() as session:
        recusals = {
            (r.person_id, r.entity_id): r.reason
            for r in (await session.execute(select(Recusal))).scalars()
        }
    assert recusals[(members[0].person_id, first.id)] == "亲属在该单位任职"
    assert recusals[(others[0].person_id, second.id)] == "曾在该单位工作"
    assert (await assignment(wecom, others[0].id)).state is AssignmentState.NOTIFIED


async def test_an_open_question_ends_when_the_person_does_something_else(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(), absence_approver=AUTO))
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    await bot.say(officer, "请假条怎么写？")  # a sentence, not 「请假」
    await bot.wait_for(officer, "没听懂「请假条怎么写？」")
    await bot.press(officer, "无法参加")
    await bot.wait_for(officer, "请说明无法参加的原因")
    await bot.press(officer, "确认参加")  # changed their mind: the question is closed
    await bot.wait_for(officer, "已确认")
    await bot.say(officer, "好的，谢谢")
    await bot.wait_for(officer, "没听懂「好的，谢谢」")
    await bot.settled()
    assert (await assignment(bot, members[0].id)).state is AssignmentState.CONFIRMED
    assert await substitutes(bot, campaign_id) == []


async def test_nobody_decides_their_own_absence(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver='"单位负责人审批"'))
    _, members = await team(wecom, campaign_id, 1)
    async with wecom.factory() as session:
        # The unit has no leaders left, so the request goes to the bureau's leaders, whoever
        # they are at the time; the officer is made one of them.
        for person in (await session.execute(select(Person))).scalars():
            if person.wecom_userid in TEAM_LEADERS:
                person.is_leader = False
            if person.id == members[0].person_id:
                person.is_leader = True
        await session.commit()
    account = await wecom.account(members[0].person_id)
    await wecom.say(account, "无法参加 出差")
    await wecom.wait_for(account, "正在等待局领导审批")
    [request] = await approvals_of(wecom)
    assert request.role == "leader" and members[0].person_id not in request.approver_ids
    await wecom.say(account, "同意")
    await wecom.wait_for(account, "目前没有等您审批的事项")
    await wecom.say(account, f"同意 审批{request.id}")
    await wecom.wait_for(account, "是您本人提出的")
    await wecom.settled()
    [still] = await approvals_of(wecom)
    assert still.state is ApprovalState.PENDING


async def test_typed_commands_act_even_while_the_bot_waits_for_a_reason(bot: Phones) -> None:
    campaign_id = await drawn(bot, spec(**window(), absence_approver=AUTO))
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    await bot.say(officer, "无法参加")
    await bot.wait_for(officer, "请说明无法参加的原因")
    await bot.say(officer, "取消。")
    await bot.wait_for(officer, "好的，已取消")
    await bot.say(officer, "无法参加（出差）")  # brackets around the reason
    await bot.wait_for(officer, "您不再参加")
    await bot.settled()
    assert (await assignment(bot, members[0].id)).reason == "出差"


async def test_a_recusal_after_the_campaign_ended_is_only_recorded(wecom: Phones) -> None:
    ended = {
        "start": (dt.date.today() - dt.timedelta(days=20)).isoformat(),
        "end": (dt.date.today() - dt.timedelta(days=5)).isoformat(),
    }
    campaign_id = await drawn(wecom, spec(**ended, absence_approver=AUTO))
    _, members = await team(wecom, campaign_id, 1)
    officer = await wecom.account(members[0].person_id)
    async with wecom.factory() as session:
        assert members[0].team_id is not None
        employer = (await team_employers(session, members[0].team_id))[0]
    await wecom.say(officer, f"回避 {employer.uscc} 曾在该单位任职")
    await wecom.wait_for(officer, "已经结束，本次只登记回避申报")
    await wecom.settled()
    assert (await assignment(wecom, members[0].id)).state is AssignmentState.NOTIFIED
    assert await substitutes(wecom, campaign_id) == []


async def test_a_draw_run_again_voids_the_earlier_assignments_and_says_so(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(wecom, campaign_id, 1)
    officer = await wecom.account(members[0].person_id)
    await wecom.say(officer, "无法参加 出差")
    await wecom.wait_for(officer, "正在等待组长审批")
    async with wecom.factory() as session:
        first_run = set((await session.execute(select(Assignment.id))).scalars())
    await campaigns.reseed_draw(wecom.factory, campaign_id, "监督人未到场", "李管理", utc_now)
    await campaigns.run_draw(
        wecom.factory, campaign_id, ENTROPY, "监督人未到场", "李管理", utc_now, wecom.policy
    )
    await wecom.wait_for(officer, "重新摇号，您此前收到的任务作废")
    await wecom.settled()
    async with wecom.factory() as session:
        rows = list((await session.execute(select(Assignment).order_by(Assignment.id))).scalars())
    old = [a for a in rows if a.id in first_run]
    assert old and {a.state for a in old} == {AssignmentState.CANCELLED}
    assert all(a.team_id is None for a in old)
    fresh = [a for a in rows if a.id not in first_run]
    assert len(fresh) == 9 and {a.state for a in fresh} == {AssignmentState.NOTIFIED}
    [request] = await approvals_of(wecom)
    assert request.state is ApprovalState.CANCELLED
    await wecom.say(officer, f"任务 {members[0].id}")
    await wecom.wait_for(officer, "已作废")
    await wecom.say(leader, f"同意 审批{request.id}")
    await wecom.wait_for(leader, "已撤销")


async def name_of(p: Phones, account: str) -> str:
    async with p.factory() as session:
        column = Person.wecom_userid if p.platform == "wecom" else Person.dingtalk_userid
        return str(
            (await session.execute(select(Person.name).where(column == account))).scalar_one()
        )


async def dead_letters(p: Phones) -> list[OutboxMessage]:
    async with p.factory() as session:
        rows = await session.execute(
            select(OutboxMessage).where(OutboxMessage.state == OutboxState.DEAD)
        )
        return list(rows.scalars())


async def test_every_card_closes_once_its_question_is_settled_whichever_way(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(wecom, campaign_id, 1)
    officer, colleague = [await wecom.account(m.person_id) for m in members[:2]]
    await wecom.wait_for(officer, "请确认是否参加")
    # A typed 「无法参加」 closes the officer's card: no button is left to press.
    await wecom.say(officer, "无法参加 有个会")
    await wecom.wait_for_buttons(officer, f"任务{members[0].id}", ["已申请无法参加"])
    # A typed rejection closes the leader's card, with who decided.
    await wecom.wait_for(leader, "申请不参加")
    await wecom.say(leader, "驳回 人手不够")
    leader_name = await name_of(wecom, leader)
    await wecom.wait_for_buttons(leader, "审批", [f"已驳回（{leader_name}）"])
    # The officer is asked again, on a new card; pressing its button closes that one too.
    await wecom.wait_for(officer, "未获同意")
    await wecom.press(officer, "确认参加")
    await wecom.wait_for_buttons(officer, f"任务{members[0].id}", ["已确认参加"])
    cards = [m for m in wecom.inbox(officer) if f"任务{members[0].id}" in m.title]
    assert [[b["label"] for b in m.buttons] for m in cards] == [["已申请无法参加"], ["已确认参加"]]
    # A press on the first card closes it at once.
    await wecom.press(colleague, "确认参加")
    await wecom.wait_for_buttons(colleague, f"任务{members[1].id}", ["已确认参加"])
    await wecom.settled()
    assert await dead_letters(wecom) == []
    assert wecom.fake.refused_updates == 0


def age_response_codes(fake: Any, hours: int) -> None:
    """Every response_code the fake WeCom has issued so far, as if issued ``hours`` earlier."""
    for code, (users, task_id, issued) in list(fake.response_codes.items()):
        fake.response_codes[code] = (users, task_id, issued - hours * 3600)


async def test_a_card_closes_with_the_press_that_asked_for_a_reason(wecom: Phones) -> None:
    """A press that makes the bot ask something (a reason, a comment) settles nothing yet; the
    answer does, and the pressed card is then closed with the press's own response_code, which
    is valid for 72 hours from the press rather than from the sending."""
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(wecom, campaign_id, 1)
    officer = await wecom.account(members[0].person_id)
    await wecom.wait_for(officer, "请确认是否参加")
    await wecom.settled()
    age_response_codes(wecom.fake, 73)  # the codes the cards came with are past their time
    await wecom.press(officer, "无法参加")
    await wecom.wait_for(officer, "请说明无法参加的原因")
    await wecom.settled()
    assert wecom.button(officer, "无法参加")  # still open: the question is not settled
    await wecom.say(officer, "出差")
    await wecom.wait_for_buttons(officer, f"任务{members[0].id}", ["已申请无法参加"])
    await wecom.wait_for(leader, "申请不参加")
    await wecom.settled()
    age_response_codes(wecom.fake, 73)
    await wecom.press(leader, "驳回")
    await wecom.wait_for(leader, "请回复驳回")
    await wecom.say(leader, "人手紧张")
    leader_name = await name_of(wecom, leader)
    await wecom.wait_for_buttons(leader, "审批", [f"已驳回（{leader_name}）"])
    await wecom.settled()
    assert wecom.fake.refused_updates == 0 and await dead_letters(wecom) == []


async def test_a_card_past_72_hours_stays_as_it_is_and_nothing_is_retried(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=AUTO))
    _, members = await team(wecom, campaign_id, 1)
    officer = await wecom.account(members[0].person_id)
    await wecom.wait_for(officer, "请确认是否参加")
    await wecom.settled()
    wecom.fake.clock = lambda: time.time() + 73 * 3600
    await wecom.say(officer, "确认参加")
    await wecom.wait_for(officer, "已确认")
    await wecom.settled()
    assert wecom.fake.refused_updates == 1  # tried once, refused, let go
    assert wecom.fake.calls["update_template_card"] == 1
    assert await dead_letters(wecom) == []
    assert wecom.button(officer, "确认参加")  # the card could not change


async def test_a_draw_run_again_closes_the_cards_of_the_voided_assignments(wecom: Phones) -> None:
    campaign_id = await drawn(wecom, spec(**window(), absence_approver=TEAM_LEADER))
    leader, members = await team(wecom, campaign_id, 1)
    officer, colleague = [await wecom.account(m.person_id) for m in members[:2]]
    await wecom.say(officer, "无法参加 出差")
    await wecom.wait_for(leader, "申请不参加")
    await wecom.settled()
    await campaigns.reseed_draw(wecom.factory, campaign_id, "监督人未到场", "李管理", utc_now)
    await campaigns.run_draw(
        wecom.factory, campaign_id, ENTROPY, "监督人未到场", "李管理", utc_now, wecom.policy
    )
    await wecom.wait_for(colleague, "重新摇号")
    await wecom.wait_for_buttons(colleague, f"任务{members[1].id}", ["已作废"])
    await wecom.wait_for_buttons(leader, "审批", ["已撤销"])
    await wecom.settled()
    assert await dead_letters(wecom) == []
