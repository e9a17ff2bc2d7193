"""「进度」 end to end on WeCom and DingTalk: a team's leader reads their team's findings with who
holds each (typed, or from the 「进度」 button of the team card), a unit leader who also leads a
team reads every team with only their own team's employers named (the sample campaign is
confidential), a leader of another unit reads every team with none named, and an officer and a
stranger are told it is not for them. `suiji campaign show` gives the same standing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select, update

from bot.base.times import local_time
from bot.platforms import fakes
from storage.assignments import team_employers
from storage.models import Assignment, AssignmentRole, Certificate, Entity, Finding, Person
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_assignments import team
from tests.e2e.test_cli import run
from tests.e2e.test_findings import reply, started
from tests.helpers import load_sample

pytestmark = pytest.mark.db
OTHER_UNITS_LEADER = "豫41142200526"  # 冯峰, 劳动关系股: excluded from the sample campaign's draw


@pytest.fixture(params=["wecom", "dingtalk"])
async def bot(
    request: Any, factory: Any, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    # Some thirty messages at machine speed: lift the per-person pacing a person never reaches.
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    config = {
        "SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200",
        "SUIJI_FINDINGS__FILES": str(tmp_path / "files"),
    }
    async with phones(request.param, database_url, **config) as built:
        yield built


async def person(p: Phones, account: str) -> Person:
    column = Person.wecom_userid if p.platform == "wecom" else Person.dingtalk_userid
    async with p.factory() as session:
        return (await session.execute(select(Person).where(column == account))).scalar_one()


async def names(p: Phones, team_id: int | None) -> list[str]:
    assert team_id is not None
    async with p.factory() as session:
        return [e.name for e in await team_employers(session, team_id)]


async def open_item(p: Phones, officer: str, task: int, item: int) -> str:
    """Begin filling the first employer's ``item`` (1: 工资支付, 2: 社会保险); the question."""
    shown = await reply(p, officer, f"填写 任务{task}")
    if "选择要填写的单位" in shown.text:
        shown = await reply(p, officer, "1")
    return (await reply(p, officer, str(item))).text


async def submit_social_insurance(p: Phones, officer: str, task: int) -> None:
    """The 社会保险 form of the first employer, filled and submitted in chat by the short way
    (the employer never registered for social insurance)."""
    assert "职工人数" in await open_item(p, officer, task, 2)
    for answer in ("8", "否", "是", "跳过", "今天", "2", "1", "跳过"):
        shown = await reply(p, officer, answer)
    assert "请核对" in shown.text, shown.text
    assert "已提交" in (await reply(p, officer, "提交")).text


async def test_leaders_read_where_each_finding_stands(bot: Phones) -> None:
    campaign_id = await started(bot)
    leader_1, members_1 = await team(bot, campaign_id, 1)
    leader_2, members_2 = await team(bot, campaign_id, 2)
    officer_a = await bot.account(members_1[0].person_id)
    officer_b = await bot.account(members_1[1].person_id)
    a, b = await person(bot, officer_a), await person(bot, officer_b)
    team_1, team_2 = await names(bot, members_1[0].team_id), await names(bot, members_2[0].team_id)
    # The sample's appointed team leaders are all leaders (领导) of the unit; team 2's is made
    # one who only leads a team (可任组长, without the 领导 role). Officers may be drawn who are
    # leaders too: officer A is made a plain one.
    async with bot.factory() as session:
        await session.execute(
            update(Person)
            .where(Person.id.in_([(await person(bot, leader_2)).id, a.id]))
            .values(is_leader=False)
        )
        await session.commit()

    # Officer A begins 工资支付 at the first employer (a draft A holds); B submits 社会保险.
    assert "职工人数" in await open_item(bot, officer_a, members_1[0].id, 1)
    await reply(bot, officer_a, "暂停")
    await submit_social_insurance(bot, officer_b, members_1[1].id)
    async with bot.factory() as session:
        found = list((await session.execute(select(Finding).order_by(Finding.id))).scalars())
    draft, submitted = found
    since = local_time(draft.held_since, "Asia/Shanghai")

    # Team 2's leader: their own team, and only it.
    shown = await reply(bot, leader_2, "进度")
    assert "第 2 组检查进度" in shown.text and "已提交 0/" in shown.text
    assert all(name in shown.text for name in team_2)
    assert not any(name in shown.text for name in team_1)
    again = await reply(bot, leader_2, f"进度 抽查{campaign_id}")
    assert again.text == shown.text

    # Team 1's leader, a leader of the campaign's unit: every team, the others' employers
    # unnamed; what is missing, and who holds the draft.
    shown = await reply(bot, leader_1, "进度")
    assert "检查进度" in shown.text and "共 3 个组" in shown.text and "已提交 1/" in shown.text
    assert "**第 1 组**" in shown.text and "**第 3 组**" in shown.text
    assert f"{team_1[0]}：①填写中（{a.name}）" in shown.text
    assert not any(name in shown.text for name in team_2)
    assert f"- {len(team_2)} 家都未填：第1、2、" in shown.text
    # The team card's 「进度」 button: the team, each employer × item, since when it is held.
    async with bot.factory() as session:
        leader_task = (
            await session.execute(
                select(Assignment.id).where(
                    Assignment.campaign_id == campaign_id,
                    Assignment.team_number == 1,
                    Assignment.role == AssignmentRole.LEADER,
                )
            )
        ).scalar_one()
    before = len(bot.inbox(leader_1))
    await bot.say(leader_1, f"任务 {leader_task}")
    card = await bot.wait_for(leader_1, "点「进度」")
    assert bot.inbox(leader_1).index(card) >= before
    assert [b["label"] for b in card.buttons] == ["填写检查结果", "进度"]
    shown = await reply(bot, leader_1, "进度", press=True)
    assert "第 1 组检查进度：已提交 1/" in shown.text
    line = next(line for line in shown.text.splitlines() if line.startswith(f"1. {team_1[0]}"))
    assert f"①填写中（{a.name}，{since} 起）" in line
    assert f"②已提交（{b.name}，结果{submitted.id}）" in line
    assert not any(name in shown.text for name in team_2)

    # A leader of another unit, on no team: every team, no employer named.
    other = await bot.account((await by_certificate(bot, OTHER_UNITS_LEADER)).id)
    shown = await reply(bot, other, "进度")
    assert "共 3 个组" in shown.text and "已提交 1/" in shown.text
    assert not any(name in shown.text for name in team_1 + team_2)
    assert f"- 第1家：①填写中（{a.name}）" in shown.text

    # Not for an officer, nor for a stranger; a number that names no campaign of theirs.
    shown = await reply(bot, officer_a, "进度")
    assert "组长和领导" in shown.text and "「我的任务」" in shown.text
    shown = await reply(bot, officer_a, f"进度 任务{members_1[0].id}")
    assert "组员任务" in shown.text
    shown = await reply(bot, "stranger", "进度")
    assert "还没有登记" in shown.text
    shown = await reply(bot, leader_2, "进度 抽查99999")
    assert "没有找到您可以查看的抽查99999" in shown.text
    shown = await reply(bot, leader_2, "进度 审批3")
    assert "「进度 抽查编号」" in shown.text


async def by_certificate(p: Phones, number: str) -> Person:
    async with p.factory() as session:
        row = await session.execute(
            select(Person).join(Certificate).where(Certificate.number == number)
        )
        return row.scalar_one()


async def test_campaign_show_gives_each_finding_its_state_and_holder(
    bot: Phones, database_url: str
) -> None:
    if bot.platform != "wecom":
        pytest.skip("the command line is the same whichever platform the officers use")

    async def suiji(*args: str) -> Result:
        return await asyncio.to_thread(run, *args, env={"SUIJI_DATABASE__URL": database_url})

    campaign_id = await started(bot)
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    assert "职工人数" in await open_item(bot, officer, members[0].id, 1)
    holder = await person(bot, officer)
    async with bot.factory() as session:
        draft = (await session.execute(select(Finding))).scalar_one()
        first = await session.get(Entity, draft.entity_id)
    assert first is not None

    shown = await suiji("campaign", "show", str(campaign_id))
    assert shown.exit_code == 0, shown.output
    since = local_time(draft.held_since, "Asia/Shanghai")
    lines = shown.output.splitlines()
    at = lines.index(f"    {first.uscc}  {first.name}")
    wages = f"①工资支付情况：填写中，{holder.name}在填（{since} 起），结果{draft.id}"
    assert lines[at + 1] == f"      {wages}"
    assert lines[at + 2] == "      ②社会保险参保缴费情况：未填"
    assert "检查对象：（检查结果已提交 0/" in shown.output and "填写中 1" in shown.output

    as_json = json.loads(
        (await suiji("campaign", "show", str(campaign_id), "--format", "json")).output
    )
    [team_1] = [t for t in as_json["teams"] if t["number"] == 1]
    employer = next(e for e in team_1["employers"] if e["uscc"] == first.uscc)
    filling, social = employer["findings"]
    assert filling["item"] == "RS-JC-003" and filling["state"] == "draft"
    assert filling["holder"] == holder.name and filling["finding"] == draft.id
    assert filling["held_since"].endswith("Z") and filling["submitted_by"] is None
    assert social == {
        "item": "RS-JC-006",
        "item_name": "社会保险参保缴费情况",
        "state": "empty",
        "finding": None,
        "holder": None,
        "held_since": None,
        "submitted_by": None,
        "submitted_at": None,
        "reopened": 0,
    }
    assert team_1["findings"]["draft"] == 1 and team_1["findings"]["submitted"] == 0
    assert team_1["findings"]["total"] == 2 * len(team_1["employers"])
