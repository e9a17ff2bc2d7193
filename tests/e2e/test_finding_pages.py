"""The findings page end to end: an officer begins a form in chat and finishes it on the page
after logging in through the fake WeCom OAuth2 or DingTalk 免登, sharing one draft; and every
way in that is not theirs is refused (another team's finding, a forged or old cookie, a login
code used twice, a POST without its token, a teammate's draft, a finding already submitted)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct
import time
import urllib.parse
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from yarl import URL

from bot.platforms import fakes
from bot.server.app import SETTINGS
from bot.server.h5_login import SESSION_COOKIE, Sessions
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


@dataclass(frozen=True)
class Begun:
    officer: str  # officer B of team 1, who began the form in chat
    leader: str  # team 1's leader, their teammate
    finding_id: int
    campaign_id: int


async def begin_in_chat(p: Phones) -> Begun:
    """Officer B of team 1 begins the 社会保险 form in chat: two answers."""
    campaign_id = await started(p)
    leader, members = await team(p, campaign_id, 1)
    officer = await p.account(members[0].person_id)
    async with p.factory() as session:
        assert members[0].team_id is not None
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
    return Begun(officer, leader, finding.id, campaign_id)


def link_in(message_text: str) -> str:
    found = re.search(r"\((http://[^)]+/h5/findings/\d+)\)", message_text)
    assert found, message_text
    return found.group(1)


def answers(page: Shown, values: dict[str, Any], action: str = "save") -> list[tuple[str, str]]:
    return page.filled(values, action)


async def stored(p: Phones, finding_id: int) -> Finding:
    return await finding_of(p, finding_id)


async def test_an_officer_begins_in_chat_and_finishes_on_the_page(bot: Phones) -> None:
    begun = await begin_in_chat(bot)
    officer, finding_id = begun.officer, begun.finding_id
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
        query = (
            select(AuditEntry)
            .where(AuditEntry.subject_kind == "findings")
            .where(AuditEntry.subject_key == str(finding_id))
            .order_by(AuditEntry.seq)
        )
        entries = (await session.execute(query)).scalars().all()
    assert len(person_ids) == 1  # one officer, in chat and on the page
    actions = [e.action for e in entries]
    assert "finding:photo" in actions and actions[-1] == "finding:submit"
    # Chat knows: nothing is left to resume.
    said = await reply(bot, officer, "继续")
    assert "没有" in said.text


# --- the ways in that are not theirs ---------------------------------------------------------


def page_of(p: Phones, finding_id: int) -> str:
    return f"{p.policy.public_url}/h5/findings/{finding_id}"


async def unchanged(p: Phones, finding_id: int, before: Finding) -> None:
    after = await stored(p, finding_id)
    assert (after.draft, after.state, after.holder_id) == (
        before.draft,
        before.state,
        before.holder_id,
    )


async def test_another_teams_finding_and_one_that_does_not_exist_are_403_alike(
    wecom: Phones,
) -> None:
    begun = await begin_in_chat(wecom)
    other_leader, _ = await team(wecom, begun.campaign_id, 2)
    async with Browser(wecom, other_leader) as phone:
        theirs = await phone.open(page_of(wecom, begun.finding_id))
        missing = await phone.get(page_of(wecom, 999_999))
        photo = await phone.get(page_of(wecom, begun.finding_id) + "/photos/" + "ab" * 32)
    assert theirs.status == missing.status == photo.status == 403
    assert theirs.text == missing.text == photo.text  # nothing tells one from the other
    assert "社会保险" not in theirs.text and "职工" not in theirs.text


async def test_a_post_without_its_token_or_with_a_forged_or_old_cookie_changes_nothing(
    wecom: Phones,
) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    before = await stored(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        page = await phone.open(url)
        assert page.status == 200
        sent = [(k, v) for k, v in answers(page, {"employees": "99"}) if k != "csrf"]
        refused = await phone.post(url, sent)
        assert refused.status == 403 and "页面已过期" in refused.text
        wrong = await phone.post(url, [*sent, ("csrf", "x" * 32)])
        assert wrong.status == 403
        good_cookie = phone.http.cookie_jar.filter_cookies(URL(url))[SESSION_COOKIE].value
        form = answers(page, {"employees": "99"})
    await unchanged(wecom, begun.finding_id, before)

    # Another person's id written into the cookie breaks its signature.
    payload, _, signature = good_cookie.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    old = Sessions(wecom.bot.app[SETTINGS], lambda: time.time() - 9 * 3600)
    stale = web.Response()
    old.sign_in(stale, before.holder_id or 0)
    expired = stale.cookies[SESSION_COOKIE].value
    for cookie in (forged, expired, "not-a-cookie"):
        async with Browser(wecom, begun.officer) as phone:
            phone.http.cookie_jar.update_cookies({SESSION_COOKIE: cookie}, URL(url))
            async with phone.http.get(url, allow_redirects=False) as response:
                assert response.status == 302  # to the platform's login, not the page
                assert "/h5/login" in response.headers["Location"]
            posted = await phone.post(url, form)
            assert posted.status == 403
    await unchanged(wecom, begun.finding_id, before)


async def test_a_wecom_login_code_used_twice_signs_nobody_in(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        entry = f"{wecom.fake_base}/fake/browser?" + urllib.parse.urlencode(
            {"user": begun.officer, "url": url}
        )
        # Follow the login by hand up to WeCom's redirect back, which carries the code.
        location = entry
        while "/h5/login/wecom?" not in location:
            async with phone.http.get(location, allow_redirects=False) as response:
                location = urllib.parse.urljoin(location, response.headers["Location"])
        back = location
        first = await phone.get(back)
        assert first.status == 200 and "社会保险" in first.text
        again = await phone.get(back)  # the same browser: its login is spent
        assert again.status == 403 and "登录没有成功" in again.text
    async with Browser(wecom, begun.officer) as thief:
        stolen = await thief.get(back)  # another browser: it never began this login
        assert stolen.status == 403
        # Beginning a login of its own, then bringing the old code: WeCom refuses it.
        async with thief.http.get(
            f"{wecom.policy.public_url}/h5/login?after=/h5/", allow_redirects=False
        ) as response:
            state = urllib.parse.parse_qs(
                urllib.parse.urlsplit(response.headers["Location"]).query
            )["state"][0]
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]
        replay = await thief.get(
            f"{wecom.policy.public_url}/h5/login/wecom?"
            + urllib.parse.urlencode({"code": code, "state": state})
        )
        assert replay.status == 403
        assert SESSION_COOKIE not in thief.http.cookie_jar.filter_cookies(URL(url))


async def test_a_dingtalk_login_code_used_twice_signs_nobody_in(
    factory: Factory, database_url: str
) -> None:
    await load_sample(factory, utc_now)
    async with phones("dingtalk", database_url, pages=True) as p:
        campaign_id = await started(p)
        _, members = await team(p, campaign_id, 1)
        officer = await p.account(members[0].person_id)
        login = f"{p.policy.public_url}/h5/login?after=/h5/"
        async with Browser(p, officer) as phone:
            page = await phone.get(login)
            code = p.fake.auth_code(officer)
            action = f"{p.policy.public_url}/h5/login/dingtalk"
            async with phone.http.post(
                action, data={"state": page.field("state"), "code": code}, allow_redirects=False
            ) as response:
                assert response.status == 302
            page = await phone.get(login)
            replay = await phone.post(action, {"state": page.field("state"), "code": code})
            assert replay.status == 403 and "登录没有成功" in replay.text
            forged = await phone.post(
                action, {"state": "made-up", "code": p.fake.auth_code(officer)}
            )
            assert forged.status == 403


async def test_a_teammate_filling_in_chat_keeps_the_page_read_only(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    before = await stored(wecom, begun.finding_id)
    async with Browser(wecom, begun.leader) as phone:
        page = await phone.open(url)
        assert page.status == 200 and "正在填写" in page.text
        assert 'id="answers"' not in page.text  # nothing to send
        # A form kept from before is refused all the same.
        async with Browser(wecom, begun.officer) as other:
            theirs = await other.open(url)
        form = [(k, v) for k, v in answers(theirs, {"employees": "1"}) if k != "csrf"]
        cookie = phone.http.cookie_jar.filter_cookies(URL(url))[SESSION_COOKIE].value
        csrf = Sessions(wecom.bot.app[SETTINGS], time.time).visitor_of(cookie)
        assert csrf is not None
        refused = await phone.post(url, [*form, ("csrf", csrf.csrf)])
        assert refused.status == 200 and "正在填写" in refused.text
    await unchanged(wecom, begun.finding_id, before)


async def test_a_submitted_finding_is_read_only_on_the_page(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        page = await phone.open(url)
        form = answers(page, {"insured_people": "8", "uninsured_people": "0"})
        everything = {
            "insurance_types": ["养老保险"],
            "paid_in_full": "是",
            "base_true": "是",
            "checked_on": dt.date.today().isoformat(),
            "check_method": "书面检查",
            "result_category": "未发现问题",
        }
        page = await phone.post(url, form)
        page = await phone.post(url, answers(page, everything, action="submit"))
        assert "已提交" in page.text, page.text
        before = await stored(wecom, begun.finding_id)
        assert before.state is FindingState.SUBMITTED
        again = await phone.post(url, form)
        assert "提交（结果" in again.text and 'id="answers"' not in again.text
    await unchanged(wecom, begun.finding_id, before)


async def test_a_photo_too_big_or_not_a_picture_is_refused_on_the_page(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    before = await stored(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        page = await phone.open(url)
        for content, words in (
            (b"%PDF-1.4 not a picture", "不是照片"),
            (png() + b"\0" * (1024 * 1024), "照片太大"),
        ):
            form = aiohttp.FormData()
            form.add_field("csrf", page.csrf)
            form.add_field("question", "evidence")
            form.add_field("file", content, filename="x.jpg", content_type="image/jpeg")
            refused = await phone.post(f"{url}/photos", form)
            assert refused.status == 200 and words in refused.text, refused.text
    await unchanged(wecom, begun.finding_id, before)


async def test_someone_outside_the_registry_cannot_log_in(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    async with Browser(wecom, "stranger") as phone:
        page = await phone.open(page_of(wecom, begun.finding_id))
    assert page.status == 403 and "不在执法人员名录" in page.text


async def test_after_a_login_only_this_sites_pages_are_gone_to(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    async with Browser(wecom, begun.officer) as phone:
        for after in ("https://evil.example/", "//evil.example/h5/", "/h5/\\\\evil"):
            login = f"{wecom.policy.public_url}/h5/login?" + urllib.parse.urlencode(
                {"after": after}
            )
            shown = await phone.open(login)
            assert (
                urllib.parse.urlsplit(shown.url).netloc
                == urllib.parse.urlsplit(wecom.policy.public_url).netloc
            )


async def test_without_a_session_secret_there_are_no_pages(
    factory: Factory, database_url: str
) -> None:
    await load_sample(factory, utc_now)
    async with phones("wecom", database_url) as p, aiohttp.ClientSession() as http:
        async with http.get(p.bot.make_url("/h5/findings/1")) as response:
            assert response.status == 404
        async with http.get(p.bot.make_url("/h5/login")) as response:
            assert response.status == 404
