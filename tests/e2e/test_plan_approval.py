"""Annual plan needs go to the leaders as approval requests in chat (O1); the CLI decides the
same request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.workflows import plans
from storage.models import Approval, ApprovalState, AuditEntry, DecisionState, Person, PlanNeed
from tests.e2e.phones import Phones, phones, utc_now
from tests.helpers import load_sample

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]


@pytest.fixture(params=["wecom", "dingtalk"])
async def bot(request: Any, factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    async with phones(request.param, database_url) as built:
        yield built


async def _need(p: Phones) -> int:
    return await plans.add_need(
        p.factory,
        2026,
        unit="劳动保障监察大队",
        items=["RS-JC-003"],
        scope="全县建筑业用人单位",
        ratio=Decimal("5"),
        timing="第四季度",
        supplement=False,
        actor="陈红军",
        clock=utc_now,
        policy=p.policy,
    )


async def _state(p: Phones, need_id: int) -> tuple[DecisionState, ApprovalState]:
    async with p.factory() as session:
        need = await session.get(PlanNeed, need_id)
        [request] = (
            await session.execute(select(Approval).where(Approval.subject_id == need_id))
        ).scalars()
        assert need is not None
        return need.state, request.state


async def test_a_need_is_approved_by_a_leader_in_chat(bot: Phones) -> None:
    await plans.create_plan(bot.factory, 2026, "陈红军", utc_now)
    need_id = await _need(bot)
    leader, other_leader, officer = [
        await bot.account(pid) for pid in await _ids(bot, "张凯", "苗明亮", "苗静")
    ]
    card = await bot.wait_for(leader, "年度计划需求")
    assert "劳动保障监察大队" in card.text and "5%" in card.text
    await bot.wait_for(other_leader, "年度计划需求")
    request_id = await _request_of(bot, need_id)
    await bot.say(officer, f"同意 审批{request_id}")
    await bot.wait_for(officer, "不需要您来处理")
    assert await _state(bot, need_id) == (DecisionState.PENDING, ApprovalState.PENDING)

    await bot.press(leader, "同意")
    await bot.wait_for(leader, f"已同意审批{request_id}")
    proposer = await bot.account((await _ids(bot, "陈红军"))[0])
    await bot.wait_for(proposer, "已获同意")
    if bot.platform == "wecom":  # every leader's card now reads who decided it
        for user in (leader, other_leader):
            await bot.wait_for_buttons(user, "年度计划需求", ["已同意（张凯）"])
        await bot.say(other_leader, f"同意 审批{request_id}")  # no button left: typed
    else:  # a DingTalk action card keeps its buttons: a press comes too late
        await bot.press(other_leader, "同意")
    await bot.wait_for(other_leader, "无需再处理")
    await bot.settled()
    assert await _state(bot, need_id) == (DecisionState.APPROVED, ApprovalState.APPROVED)
    async with bot.factory() as session:
        actions = [
            a
            for a in (
                await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))
            ).scalars()
            if a.startswith(("plan:", "approval:"))
        ]
    assert actions == [
        "plan:create",
        "plan:need",
        "approval:request",
        "plan:decide",
        "approval:decide",
    ]


async def test_the_cli_decides_the_same_request_the_leaders_were_sent(bot: Phones) -> None:
    await plans.create_plan(bot.factory, 2026, "陈红军", utc_now)
    need_id = await _need(bot)
    [leader_id] = await _ids(bot, "张凯")
    leader = await bot.account(leader_id)
    await bot.wait_for(leader, "年度计划需求")
    decided = await plans.decide_need(
        bot.factory,
        need_id,
        approve=False,
        comment="比例偏低",
        approver="苗明亮",
        clock=utc_now,
        policy=bot.policy,
    )
    assert decided.state is DecisionState.REJECTED
    await bot.say(leader, f"同意 审批{await _request_of(bot, need_id)}")
    await bot.wait_for(leader, "已驳回（苗明亮）")
    if bot.platform == "wecom":  # decided on the command line: the cards close all the same
        await bot.wait_for_buttons(leader, "年度计划需求", ["已驳回（苗明亮）"])
    await bot.settled()
    assert await _state(bot, need_id) == (DecisionState.REJECTED, ApprovalState.REJECTED)


async def _request_of(p: Phones, need_id: int) -> int:
    async with p.factory() as session:
        query = select(Approval.id).where(
            Approval.kind == "plan_need", Approval.subject_id == need_id
        )
        return int((await session.execute(query)).scalar_one())


async def _ids(p: Phones, *names: str) -> list[int]:
    async with p.factory() as session:
        rows = await session.execute(select(Person.name, Person.id).where(Person.name.in_(names)))
        found = dict(rows.all())
    return [found[name] for name in names]
