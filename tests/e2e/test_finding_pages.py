"""The findings page end to end: an officer begins a form in chat and finishes it on the page
after logging in through the fake WeCom OAuth2 or DingTalk 免登, sharing one draft; and every
way in that is not theirs is refused (another team's finding, a forged or old cookie, a login
code used twice, a POST without its token, a teammate's draft, a finding already submitted)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.platforms import fakes
from storage.assignments import team_employers
from storage.models import AuditEntry, Finding, FindingState
from tests.e2e.pages import Browser, Shown
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_assignments import team
from tests.e2e.test_findings import Factory, finding_of, reply, started
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


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def begin_in_chat(p: Phones) -> tuple[str, int, Any]:
    """Officer B of team 1 begins the 社会保险 form in chat: two answers. (account, finding
    id, their assignment)."""
    campaign_id = await started(p)
    _, members = await team(p, campaign_id, 1)
    officer = await p.account(members[0].person_id)
    async with p.factory() as session:
        employers = await team_employers(session, members[0].team_id)
    shown = await reply(p, officer, f"填写 任务{members[0].id}")
    if len(employers) > 1:
        shown = await reply(p, officer, "1")
    shown = await reply(p, officer, "2")  # 社会保险 (RS-JC-006)
    assert "职工人数" in shown.text, shown.text
    shown = await reply(p, officer, "8人")
    assert "社会保险登记" in shown.text
    shown = await reply(p, officer, "是")
    assert "已参保的职工人数" in shown.text
    finding = await finding_of(p)
    return officer, finding.id, members[0]


def link_in(message_text: str) -> str:
    found = re.search(r"\((http://[^)]+/h5/findings/\d+)\)", message_text)
    assert found, message_text
    return found.group(1)


def answers(page: Shown, values: dict[str, Any], action: str = "save") -> list[tuple[str, str]]:
    """The page's form as the officer sends it: as it stands, with ``values`` entered (a list
    for the boxes ticked), and the button pressed."""
    given = {f"q.{q}" for q in values}
    data = [(k, v) for k, v in page.form() if k not in given]
    if action != "save":
        data.append(("action", action))
    for q, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            data.append((f"q.{q}", one))
    return data


async def stored(p: Phones, finding_id: int) -> Finding:
    return await finding_of(p, finding_id)


async def test_an_officer_begins_in_chat_and_finishes_on_the_page(bot: Phones) -> None:
    officer, finding_id, _ = await begin_in_chat(bot)
    review = await reply(bot, officer, "查看")
    url = link_in(review.text)
    assert url == f"{bot.policy.public_url}/h5/findings/{finding_id}"
    today = dt.date.today()
    async with Browser(bot, officer) as phone:
        page = await phone.open(url)
        assert page.status == 200 and page.url.startswith(url), page.text
        assert "社会保险参保缴费情况检查记录" in page.text
        # The chat's answers are on the page, with the questions the 「是」 opened.
        assert 'name="q.employees" value="8"' in page.text
        assert re.search(r'name="q.registered" value="是" checked', page.text)
        assert "已参保的职工人数" in page.text and "未参保原因" not in page.text

        # Saved as the officer goes: the answers that open questions bring them onto the page.
        first = {
            "insured_people": "5",
            "uninsured_people": "3人",
            "insurance_types": ["养老保险", "医疗保险（含生育）"],
            "paid_in_full": "否",
            "base_true": "是",
            "checked_on": today.isoformat(),
            "check_method": "实地检查",
            "result_category": "发现问题已责令改正",
        }
        page = await phone.post(url, answers(page, first))
        assert page.status == 200 and "已保存" in page.text, page.text
        finding = await stored(bot, finding_id)
        assert "未参保原因" in page.text and "欠缴或少缴的月数" in page.text, finding.draft
        assert "后续处置" in page.text
        finding = await stored(bot, finding_id)
        assert finding.draft["answers"]["uninsured_people"] == 3
        assert finding.draft["answers"]["insurance_types"] == ["养老保险", "医疗保险（含生育）"]

        # A bad number is named and kept as typed; the other answers of that save are kept.
        page = await phone.post(
            url, answers(page, {"uninsured_reasons": ["试用期内"], "arrears_months": "好几个"})
        )
        assert "标红的题没有保存" in page.text
        assert 'value="好几个"' in page.text and 'class="error"' in page.text
        finding = await stored(bot, finding_id)
        assert finding.draft["answers"]["uninsured_reasons"] == ["试用期内"]
        assert "arrears_months" not in finding.draft["answers"]

        # A photo, uploaded as multipart, checked and stored as chat's are.
        picture = png()
        form = aiohttp.FormData()
        form.add_field("csrf", page.csrf)
        form.add_field("question", "evidence")
        form.add_field("file", picture, filename="a.png", content_type="image/png")
        page = await phone.post(f"{url}/photos", form)
        assert page.status == 200 and "照片已上传" in page.text, page.text
        sha256 = hashlib.sha256(picture).hexdigest()
        photo = await phone.get(f"{url}/photos/{sha256}")
        assert photo.status == 200 and photo.content == picture
        assert photo.content_type == "image/png"
        finding = await stored(bot, finding_id)
        assert finding.draft["answers"]["evidence"] == [sha256]

        # Submitting wants every required answer: 责令改正 asks for a deadline.
        page = await phone.post(
            url,
            answers(page, {"arrears_months": "3", "measure": "责令改正"}, action="submit"),
        )
        assert "整改期限" in page.text and "这一题必须填写" in page.text
        assert (await stored(bot, finding_id)).state is FindingState.DRAFT
        deadline = (today + dt.timedelta(days=10)).isoformat()
        problems = "3 名职工未参保，欠缴 3 个月。"
        fixed = {"rectify_by": deadline, "problems": problems}
        page = await phone.post(url, answers(page, fixed, action="submit"))
        assert page.status == 200 and "已提交" in page.text, page.text
        assert 'name="csrf"' not in page.text  # read-only now

    finding = await stored(bot, finding_id)
    assert finding.state is FindingState.SUBMITTED
    assert finding.draft["answers"]["rectify_by"] == deadline
    async with bot.factory() as session:
        person_ids = set(finding.answered_by.values())
        query = select(AuditEntry).where(AuditEntry.subject_key == str(finding_id))
        entries = (await session.execute(query)).scalars().all()
    assert len(person_ids) == 1  # one officer, in chat and on the page
    actions = [e.action for e in entries]
    assert "finding:photo" in actions and actions[-1] == "finding:submit"
    # Chat knows: nothing is left to resume.
    said = await reply(bot, officer, "继续")
    assert "没有" in said.text
