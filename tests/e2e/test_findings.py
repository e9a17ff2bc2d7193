"""Findings filled in chat, end to end: a drawn campaign has started, an officer fills the
工资支付 form one question at a time through the fake WeCom or DingTalk, a teammate is kept off
the draft, the leader sends it back, and everything lands in the database and the audit log."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.platforms import fakes
from bot.platforms.fakes import Delivered
from bot.workflows import campaigns
from bot.workflows.campaign_spec import parse_campaign
from storage.assignments import team_employers
from storage.models import (
    Assignment,
    AssignmentRole,
    AuditEntry,
    Entity,
    Finding,
    FindingPhoto,
    FindingState,
    Person,
    PhotoState,
)
from tests.e2e.pages import Browser
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_assignments import team
from tests.e2e.test_cli import run
from tests.helpers import ENTROPY, load_sample, spec

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
async def loaded(factory: Factory) -> AsyncIterator[None]:
    await load_sample(factory, utc_now)
    yield


@pytest.fixture(params=["wecom", "dingtalk"])
async def bot(
    request: Any,
    loaded: None,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[Phones]:
    # The story answers some forty questions in well under a minute, at machine speed: lift
    # the per-person pacing (and the fake WeCom's matching silent drop) that a person's own
    # typing never reaches.
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    config = {
        "SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200",
        "SUIJI_FINDINGS__FILES": str(tmp_path / "files"),
    }
    async with phones(request.param, database_url, pages=True, **config) as built:
        yield built


async def started(p: Phones, start_in_days: int = 0, **changes: str) -> int:
    """A campaign drawn and (by default) starting today, with the sample's two items; other
    lines of the example campaign replaced by ``changes``."""
    start = dt.date.today() + dt.timedelta(days=start_in_days)
    end = start + dt.timedelta(days=14)
    source = spec(start=start.isoformat(), end=end.isoformat(), **changes)
    # Created as if three weeks ago, when 「无法参加」 was still open, and drawn then.
    weeks_ago = utc_now() - dt.timedelta(days=21)
    created = await campaigns.create_campaign(
        p.factory, parse_campaign(source), "李管理", lambda: weeks_ago
    )
    campaign_id = created.id
    await campaigns.commit_draw(p.factory, campaign_id, "李管理", utc_now)
    await campaigns.run_draw(p.factory, campaign_id, ENTROPY, None, "李管理", utc_now, p.policy)
    await p.settled()  # the assignments have reached the phones
    return campaign_id


async def reply(p: Phones, user: str, words: str, *, press: bool = False) -> Delivered:
    """Say (or press the newest button labelled) ``words``; the bot's next message."""
    before = len(p.inbox(user))
    if press:
        await p.press(user, words)
    else:
        await p.say(user, words)
    deadline = time.monotonic() + 15
    while len(p.inbox(user)) <= before:
        assert time.monotonic() < deadline, f"no answer to {words!r}:\n{p.texts(user)}"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # a reply may come in two messages
    return p.inbox(user)[-1]


async def _after(p: Phones, user: str, before: int, words: str) -> Delivered:
    """The first message to ``user`` after the ``before``-th that holds ``words``."""
    deadline = time.monotonic() + 15
    while True:
        for message in p.inbox(user)[before:]:
            if words in message.text:
                return message
        assert time.monotonic() < deadline, f"{user} never got {words!r}:\n{p.texts(user)}"
        await asyncio.sleep(0.05)


async def finding_of(p: Phones, finding_id: int | None = None) -> Finding:
    async with p.factory() as session:
        query = select(Finding).order_by(Finding.id)
        if finding_id is not None:
            query = query.where(Finding.id == finding_id)
        found = (await session.execute(query)).scalars().first()
        assert found is not None
        return found


async def test_an_officer_fills_the_wages_form_in_chat(
    bot: Phones, tmp_path: Path, database_url: str
) -> None:
    async def suiji(*args: str) -> Result:
        return await asyncio.to_thread(run, *args, env={"SUIJI_DATABASE__URL": database_url})

    campaign_id = await started(bot)
    leader, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    async with bot.factory() as session:
        assert members[0].team_id is not None
        employers = await team_employers(session, members[0].team_id)
    shown = await reply(bot, officer, f"填写 任务{members[0].id}")
    assert "请回复序号选择要填写的单位" in shown.text and employers[0].name in shown.text
    shown = await reply(bot, officer, "1")
    assert "1. 用人单位工资支付情况" in shown.text or "工资支付情况" in shown.text
    shown = await reply(bot, officer, "1")  # 工资支付
    assert "第1题" in shown.text and "职工人数" in shown.text
    shown = await reply(bot, officer, "12人")
    assert "工资支付记录" in shown.text
    shown = await reply(bot, officer, "是", press=True)
    assert "工资支付周期" in shown.text
    shown = await reply(bot, officer, "按月支付", press=True)
    assert "按时足额" in shown.text
    shown = await reply(bot, officer, "否", press=True)  # opens the branch
    assert "涉及人数" in shown.text
    shown = await reply(bot, officer, "三四个")  # a bad number: refused, asked again
    assert "不是数字" in shown.text and "涉及人数" in shown.text
    shown = await reply(bot, officer, "3")
    assert "金额" in shown.text
    shown = await reply(bot, officer, "上一题")
    assert "涉及人数" in shown.text and "原来的答案：3人" in shown.text
    shown = await reply(bot, officer, "不变")
    assert "金额" in shown.text
    shown = await reply(bot, officer, "4500.5元")
    assert "最长拖欠时间" in shown.text
    shown = await reply(bot, officer, "跳过")
    assert "工资清单" in shown.text
    for answer in ("是", "否"):  # payslip, construction
        shown = await reply(bot, officer, answer)
    assert "证据照片" in shown.text
    before = len(bot.inbox(officer))
    await send_picture(bot, officer, JPEG)
    await _after(bot, officer, before, "收到第 1 张照片")
    photo = await stored_photo(bot)
    shown = await reply(bot, officer, "完成")
    assert "检查日期" in shown.text
    shown = await reply(bot, officer, "今天")
    assert "检查方式" in shown.text
    shown = await reply(bot, officer, "1")
    assert "检查结果" in shown.text
    shown = await reply(bot, officer, "发现问题已责令改正")
    assert "后续处置" in shown.text
    shown = await reply(bot, officer, "责令改正")
    assert "发现的问题" in shown.text
    shown = await reply(bot, officer, "跳过")  # required for a problem category
    assert "必须填写" in shown.text
    shown = await reply(bot, officer, "拖欠3名职工11月工资共4500.5元")
    assert "整改期限" in shown.text
    deadline = (dt.date.today() + dt.timedelta(days=15)).isoformat()
    shown = await reply(bot, officer, deadline)
    assert "请核对" in shown.text and "4500.5元" in shown.text
    number = next(line.split(".")[0] for line in shown.text.splitlines() if "按时足额" in line)
    shown = await reply(bot, officer, f"修改 {number}")
    assert "按时足额" in shown.text
    # A teammate opening the same finding meanwhile is told who holds it.
    other = await bot.account(members[1].person_id)
    await reply(bot, other, f"填写 任务{members[1].id}")
    await reply(bot, other, "1")
    held = await reply(bot, other, "1")
    assert "正在填写" in held.text
    shown = await reply(bot, officer, "不变")
    assert "请核对" in shown.text
    shown = await reply(bot, officer, "提交")
    assert "已提交" in shown.text

    found = await finding_of(bot)
    assert found.state is FindingState.SUBMITTED
    answers = found.draft["answers"]
    assert answers["employees"] == 12 and answers["paid_in_full"] is False
    assert answers["owed_people"] == 3 and answers["owed_amount"] == "4500.5"
    assert "owed_months" not in answers and answers["measure"] == "责令改正"
    assert answers["rectify_by"] == deadline and answers["evidence"] == [photo]
    async with bot.factory() as session:
        entity = await session.get(Entity, found.entity_id)
        audit = list(
            (
                await session.execute(select(AuditEntry).where(AuditEntry.action.like("finding:%")))
            ).scalars()
        )
    assert entity is not None and entity.id == employers[0].id
    submit = [e for e in audit if e.action == "finding:submit"]
    assert len(submit) == 1 and submit[0].after is not None
    assert json.loads(submit[0].after)["answers_sha256"] == found.answers_sha256

    # The task shows each employer's findings; the leader's offers the forms.
    before = len(bot.inbox(officer))
    await bot.say(officer, f"任务 {members[0].id}")
    detail = await _after(bot, officer, before, "结果：")
    assert "①工资支付情况、②社会保险参保缴费情况" in detail.text
    assert f"{employers[0].name}" in detail.text and "结果：①已提交②未填" in detail.text
    async with bot.factory() as session:
        leads = await session.execute(
            select(Assignment.id).where(
                Assignment.campaign_id == campaign_id,
                Assignment.team_number == 1,
                Assignment.role == AssignmentRole.LEADER,
            )
        )
        leader_task = leads.scalar_one()
    before = len(bot.inbox(leader))
    await bot.say(leader, f"任务 {leader_task}")
    card = await _after(bot, leader, before, "已提交 1/")
    assert any(b["label"] == "填写检查结果" for b in card.buttons)

    # Officer B begins the 社会保险 form in chat and finishes it on the page, logged in
    # through the platform.
    social = await social_insurance_on_the_page(bot, other, members[1].id, len(employers))

    # The staff's view: where each finding stands, and every answer in its own column.
    listed = await suiji("findings", "list", str(campaign_id), "--team", "1")
    assert listed.exit_code == 0, listed.output
    assert "已提交" in listed.output and "未填" in listed.output
    assert "已提交 2/" in listed.output
    as_json = json.loads(
        (await suiji("findings", "list", str(campaign_id), "--format", "json")).output
    )
    mine = [r for r in as_json if r["finding"] == found.id]
    assert mine[0]["state"] == "submitted" and mine[0]["answers"]["owed_people"] == 3
    sheet = tmp_path / "结果.csv"
    exported = await suiji("findings", "export", str(campaign_id), str(sheet))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(sheet.read_text("utf-8-sig").splitlines()))
    header, body = rows[0], rows[1:]
    row = next(r for r in body if r[header.index("结果编号")] == str(found.id))
    assert row[header.index("工资支付情况：拖欠或克扣工资涉及人数")] == "3"
    assert row[header.index("工资支付情况：是否按时足额以货币形式支付工资？")] == "否"
    assert row[header.index("答案哈希")] == found.answers_sha256
    assert row[header.index("工资支付情况：证据照片（工资台账、工资清单、转账记录等）")] == photo
    names = await names_of(bot, officer, other)
    assert row[header.index("提交人")] == row[header.index("填写人")] == names[officer]
    row = next(r for r in body if r[header.index("结果编号")] == str(social.id))
    assert row[header.index("社会保险参保缴费情况：用人单位现有职工人数")] == "8"
    assert row[header.index("社会保险参保缴费情况：已参保的职工人数")] == "8"
    assert row[header.index("社会保险参保缴费情况：检查方式")] == "书面检查"
    assert row[header.index("提交人")] == row[header.index("填写人")] == names[other]
    assert row[header.index("答案哈希")] == social.answers_sha256

    # The leader sends it back with a reason; the officer is told.
    shown = await reply(bot, leader, f"退回 结果{found.id} 金额要核实")
    assert "已退回" in shown.text
    await bot.wait_for(officer, "金额要核实")
    assert (await finding_of(bot, found.id)).state is FindingState.DRAFT


async def stored_photo(p: Phones) -> str:
    """The SHA-256 of the first photo of the newest draft, once the background fetch has it."""
    deadline = time.monotonic() + 20
    while True:
        async with p.factory() as session:
            query = select(FindingPhoto).where(FindingPhoto.state == PhotoState.STORED)
            photo = (await session.execute(query)).scalars().first()
        if photo is not None and photo.sha256:
            return photo.sha256
        assert time.monotonic() < deadline, "the photo was never fetched"
        await asyncio.sleep(0.1)


async def social_insurance_on_the_page(
    p: Phones, officer: str, task: int, employers: int
) -> Finding:
    """Officer B begins the 社会保险 form in chat, opens the link the review offers, logs in
    through the fake platform and finishes it on the page."""
    await reply(p, officer, f"填写 任务{task}")
    if employers > 1:
        await reply(p, officer, "1")
    shown = await reply(p, officer, "2")
    assert "职工人数" in shown.text
    await reply(p, officer, "8")
    shown = await reply(p, officer, "是")
    assert "已参保" in shown.text
    review = await reply(p, officer, "查看")
    link = re.search(r"\((http://[^)]+/h5/findings/\d+)\)", review.text)
    assert link, review.text
    async with Browser(p, officer) as phone:
        page = await phone.open(link.group(1))
        assert page.status == 200 and 'name="q.employees" value="8"' in page.text
        rest = {
            "insured_people": "8",
            "uninsured_people": "0",
            "insurance_types": ["养老保险", "医疗保险（含生育）", "工伤保险", "失业保险"],
            "paid_in_full": "是",
            "base_true": "是",
            "checked_on": dt.date.today().isoformat(),
            "check_method": "书面检查",
            "result_category": "未发现问题",
        }
        page = await phone.post(link.group(1), page.filled(rest))
        page = await phone.post(link.group(1), page.filled({}, action="submit"))
        assert "已提交" in page.text, page.text
    found = await finding_of(p, int(link.group(1).rsplit("/", 1)[1]))
    assert found.state is FindingState.SUBMITTED
    return found


async def names_of(p: Phones, *accounts: str) -> dict[str, str]:
    column = Person.wecom_userid if p.platform == "wecom" else Person.dingtalk_userid
    async with p.factory() as session:
        rows = await session.execute(select(column, Person.name).where(column.in_(accounts)))
        return {account: name for account, name in rows}


async def test_filling_opens_on_the_start_date(bot: Phones) -> None:
    campaign_id = await started(bot, start_in_days=7)
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    shown = await reply(bot, officer, f"填写 任务{members[0].id}")
    assert "开始" in shown.text and "届时" not in shown.text


def test_forms_check_names_each_problem_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "RS-JC-099.toml").write_text(
        'item = "RS-JC-099"\ntitle = "t"\n[[questions]]\nid = "a"\nkind = "essay"\ntext = "?"\n',
        "utf-8",
    )
    result = run("forms", "check", str(tmp_path))
    assert result.exit_code == 1
    assert "RS-JC-099.toml 第5行" in result.output and "essay" in result.output
    assert run("forms", "check").exit_code == 0


def test_forms_show_prints_the_questions_and_their_conditions() -> None:
    result = run("forms", "show", "RS-JC-003")
    assert result.exit_code == 0, result.output
    assert "只在第4题为「否」时问" in result.output
    assert "以下是每张表都有的检查结果" in result.output
    assert run("forms", "show", "RS-JC-999").exit_code == 1


async def _open_wages(p: Phones, officer: str, task: int) -> Delivered:
    await reply(p, officer, f"填写 任务{task}")
    await reply(p, officer, "1")
    return await reply(p, officer, "1")


async def test_all_items_are_filled_one_after_the_other(bot: Phones) -> None:
    campaign_id = await started(bot)
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    await reply(bot, officer, f"填写 任务{members[0].id}")
    await reply(bot, officer, "1")
    shown = await reply(bot, officer, "全部事项")
    assert "第1题" in shown.text and "职工人数" in shown.text  # the first item, 工资支付


async def test_bad_moves_change_nothing(bot: Phones) -> None:
    campaign_id = await started(bot)
    _, members = await team(bot, campaign_id, 1)
    _, others = await team(bot, campaign_id, 2)
    officer = await bot.account(members[0].person_id)
    stranger = await bot.account(others[0].person_id)
    # Another team's task, by its number: refused.
    shown = await reply(bot, stranger, f"填写 任务{members[0].id}")
    assert "不是您的" in shown.text
    shown = await _open_wages(bot, officer, members[0].id)
    assert "职工人数" in shown.text
    # The same callback delivered twice records the answer once and asks the next once.
    msg_id = str(int(time.time() * 1000) % 10**12)
    await bot.say(officer, "12", msg_id=msg_id)
    await bot.say(officer, "12", msg_id=msg_id)
    await bot.wait_for(officer, "工资支付记录")
    await bot.settled()
    asked = [m for m in bot.inbox(officer) if "工资支付记录" in m.text]
    assert len(asked) == 1
    shown = await reply(bot, officer, "是", press=True)
    assert "工资支付周期" in shown.text
    # A button of an earlier question pressed now is not taken as this one's answer.
    stale = next(m for m in bot.inbox(officer) if "工资支付记录" in m.text)
    button = next(b for b in stale.buttons if b["label"] == "否")
    before = len(bot.inbox(officer))
    if isinstance(bot.fake, fakes.FakeWeCom):
        await bot.fake.click(bot.http, officer, button["key"], button["task_id"])
    else:
        await bot.say(officer, button["key"])
    shown = await _after(bot, officer, before, "工资支付周期")
    assert "第 2 题的按钮" in shown.text
    found = await finding_of(bot)
    assert found.draft["answers"] == {"employees": 12, "payroll_kept": True}
    # 取消 asks first; only 「确认取消」 drops the draft.
    shown = await reply(bot, officer, "取消")
    assert "确定要取消吗" in shown.text
    shown = await reply(bot, officer, "继续填")
    assert "工资支付周期" in shown.text
    shown = await reply(bot, officer, "取消")
    shown = await reply(bot, officer, "确认取消")
    assert "已取消" in shown.text
    async with bot.factory() as session:
        assert (await session.execute(select(Finding))).scalars().first() is None
    # With no form open, an answer is just an unknown message.
    shown = await reply(bot, officer, "3")
    assert "没听懂" in shown.text


async def test_a_paused_draft_resumes_where_it_stood(bot: Phones) -> None:
    campaign_id = await started(bot)
    _, members = await team(bot, campaign_id, 1)
    officer = await bot.account(members[0].person_id)
    await _open_wages(bot, officer, members[0].id)
    await reply(bot, officer, "12")
    shown = await reply(bot, officer, "暂停")
    assert "已保存" in shown.text
    shown = await reply(bot, officer, "我的任务")
    assert "任务" in shown.text
    shown = await reply(bot, officer, "继续")
    assert "工资支付记录" in shown.text and "第2题" in shown.text


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8


async def send_picture(p: Phones, user: str, data: bytes) -> None:
    if isinstance(p.fake, fakes.FakeWeCom):
        assert await p.fake.send_image(p.http, user, data) == 200
    else:
        assert await p.fake.send_picture(p.http, user, data) == 200


@pytest.fixture(params=["wecom", "dingtalk"])
async def with_files(
    request: Any, loaded: None, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Phones]:
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    config = {
        "SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200",
        "SUIJI_FINDINGS__FILES": str(tmp_path / "files"),
        "SUIJI_FINDINGS__PHOTO_MAX_MIB": "1",
    }
    async with phones(request.param, database_url, **config) as built:
        yield built


async def test_photos_sent_in_chat_are_fetched_checked_and_kept(
    with_files: Phones, tmp_path: Path
) -> None:
    p = with_files
    campaign_id = await started(p)
    _, members = await team(p, campaign_id, 1)
    officer = await p.account(members[0].person_id)
    # A picture with no form open is not taken.
    before = len(p.inbox(officer))
    await send_picture(p, officer, JPEG)
    assert "没有需要照片的问题" in (await _after(p, officer, before, "照片")).text
    await _open_wages(p, officer, members[0].id)
    for answer in ("12", "是", "1", "是", "是", "否"):
        shown = await reply(p, officer, answer)
    assert "证据照片" in shown.text
    before = len(p.inbox(officer))
    await send_picture(p, officer, JPEG)
    assert "收到第 1 张照片" in (await _after(p, officer, before, "收到第 1 张")).text
    # Too big, and not a picture at all: each refused, the officer told why.
    await send_picture(p, officer, b"\xff\xd8\xff" + b"\x00" * (1024 * 1024 + 10))
    await _after(p, officer, before, "太大")
    await send_picture(p, officer, b"%PDF-1.7 not a picture")
    await _after(p, officer, before, "不是照片")
    deadline = time.monotonic() + 20
    while True:  # the background fetcher has it
        found = await finding_of(p)
        if found.draft["answers"].get("evidence"):
            break
        assert time.monotonic() < deadline, found.draft
        await asyncio.sleep(0.2)
    digest = hashlib.sha256(JPEG).hexdigest()
    assert found.draft["answers"]["evidence"] == [digest]
    stored = tmp_path / "files" / digest[:2] / digest[2:4] / digest
    assert stored.read_bytes() == JPEG
    shown = await reply(p, officer, "完成")
    assert "检查日期" in shown.text
    async with p.factory() as session:
        rows = (await session.execute(select(FindingPhoto).order_by(FindingPhoto.id))).scalars()
        states = [(r.state, r.sha256) for r in rows]
        audit = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "finding:photo"))
        ).scalars()
        assert [json.loads(e.after or "{}")["sha256"] for e in audit] == [digest]
    assert states[0] == (PhotoState.STORED, digest)
    assert {s for s, _ in states[1:]} == {PhotoState.FAILED}
