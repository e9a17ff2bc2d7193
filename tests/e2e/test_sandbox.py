"""The sandbox as a newcomer uses it: pick a person, send 「帮助」, read the answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
import struct
import time
import urllib.parse
import zlib
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.base.calendar import is_working_day
from bot.base.config import load_settings
from bot.base.texts import render, text
from bot.draw.record import source_names
from bot.platforms.fakes import new_secrets
from bot.platforms.messages import Choice, Outgoing
from bot.server.app import CLOCK, FACTORY, SENDER, SETTINGS, create_app, remind_now
from bot.server.app import utc_now as real_time
from bot.server.sandbox import SAMPLE_PHOTO, prepare, sandbox_app
from storage import migrate
from storage.engine import make_engine, make_session_factory
from storage.files import image_type
from storage.models import Approval, DrawCommitment, DrawRun, Finding, FindingState, Person
from tests.e2e.browser import chromium, phone_page
from tests.e2e.test_bot import utc_now
from tests.e2e.test_cli import run
from tests.helpers import free_port


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    """What `suiji demo` builds, on a free port: its config, the sample, the one-process app."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "suiji.toml"
    config.write_text(
        render("config/demo.toml.j2", keys=new_secrets(), base=base, port=port), "utf-8"
    )
    settings = load_settings(str(config), environ={})
    engine = make_engine(settings.database.url)
    await migrate.upgrade(engine)
    await prepare(make_session_factory(engine), utc_now, zoneinfo.ZoneInfo(settings.app.timezone))
    await engine.dispose()
    app, _, _ = sandbox_app(settings, base)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    async with aiohttp.ClientSession(base_url=base) as http:
        yield server, http
    await server.close()


async def test_newcomer_picks_an_officer_sends_help_and_gets_the_answer(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    async with http.get("/sandbox/") as response:
        assert response.status == 200 and "suiji 沙箱" in await response.text()
    async with http.get("/sandbox/api/people") as response:
        people = await response.json()
    officer = next(p for p in people if p["officer"] and not p["leader"])
    async with http.post("/sandbox/api/say", json={"user": officer["user"], "text": "帮助"}) as r:
        assert (await r.json())["status"] == 200
    deadline = time.monotonic() + 10
    while True:
        async with http.get("/sandbox/api/messages", params={"user": officer["user"]}) as r:
            chat = await r.json()
        if len(chat) == 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert [m["from"] for m in chat] == ["me", "bot"]
    assert chat[0]["text"] == "帮助"
    assert f"{officer['name']}您好" in chat[1]["text"] and "无法参加" in chat[1]["text"]


async def test_the_sandbox_links_the_public_site_it_serves(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    async with http.get("/sandbox/") as response:
        assert 'href="../public/"' in await response.text()
    async with http.get("/public/") as response:  # relative to /sandbox/
        assert response.status == 200 and "执法证号" in await response.text()


async def test_sandbox_api_refuses_bad_requests(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    async with http.post("/sandbox/api/say", data=b"not json") as r:
        assert r.status == 400
    async with http.post("/sandbox/api/say", json={"user": "zhangkai", "text": "  "}) as r:
        assert r.status == 400
    async with http.post("/sandbox/api/read", json={"user": "zhangkai", "seq": "x"}) as r:
        assert r.status == 400


async def _phone(http: aiohttp.ClientSession, user: str) -> list[dict[str, Any]]:
    async with http.get("/sandbox/api/messages", params={"user": user}) as r:
        return list(await r.json())


async def _until(http: aiohttp.ClientSession, user: str, words: str) -> dict[str, Any]:
    """The first message on the user's phone that holds ``words``, once it has arrived."""
    deadline = time.monotonic() + 15
    while True:
        for message in await _phone(http, user):
            if message["from"] == "bot" and words in message["title"] + message["text"]:
                return message
        assert time.monotonic() < deadline, (user, words, await _phone(http, user))
        await asyncio.sleep(0.1)


async def _until_closed(http: aiohttp.ClientSession, user: str, title: str, outcome: str) -> None:
    """Until the user's card whose title holds ``title`` reads ``outcome`` in place of its
    buttons, greyed out, as the page shows a settled card."""
    deadline = time.monotonic() + 15
    while True:
        cards = [
            m for m in await _phone(http, user) if title in m.get("title", "") and m.get("buttons")
        ]
        if cards and [(b["label"], b.get("done")) for b in cards[-1]["buttons"]] == [
            (outcome, "1")
        ]:
            return
        assert time.monotonic() < deadline, (user, title, cards)
        await asyncio.sleep(0.1)


async def _click(http: aiohttp.ClientSession, user: str, label: str) -> None:
    """Click the newest live button with this label, as the page does, once it has arrived
    (a task and its card are two messages: the card may come a moment after)."""
    deadline = time.monotonic() + 15
    while True:
        for message in reversed(await _phone(http, user)):
            for button in message.get("buttons", []):
                if button["label"] == label and not button.get("done"):
                    body = {"user": user, "key": button["key"], "task_id": button["task_id"]}
                    async with http.post("/sandbox/api/click", json=body) as r:
                        assert (await r.json())["status"] == 200
                    return
        assert time.monotonic() < deadline, (user, label, await _phone(http, user))
        await asyncio.sleep(0.1)


async def _campaign(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get("/sandbox/api/campaigns") as r:
        [campaign] = await r.json()
    return dict(campaign)


async def _drawn(
    http: aiohttp.ClientSession, numbers: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Draw the sample campaign from the page with ``numbers`` for every source; (each
    person's account by name, the first team)."""
    campaign = await _campaign(http)
    assert campaign["sources"]
    values = {name: numbers for name in campaign["sources"]}
    async with http.post("/sandbox/api/draw", json={"campaign": 1, "values": values}) as r:
        assert r.status == 200, await r.text()
    async with http.get("/sandbox/api/people") as r:
        users = {p["name"]: p["user"] for p in await r.json()}
    return users, (await _campaign(http))["teams"][0]


async def test_the_whole_story_can_be_clicked_through_in_the_sandbox(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    assert (await _campaign(http))["state"] == "committed"
    users, team = await _drawn(http, "7 42 88")
    leader, officer = users[team["leader"]["name"]], users[team["members"][0]["name"]]
    await _until(http, officer, "您被抽中")
    await _click(http, officer, "无法参加")
    await _until(http, officer, "请说明无法参加的原因")
    async with http.post("/sandbox/api/say", json={"user": officer, "text": "出差"}) as r:
        assert r.status == 200
    await _until(http, leader, "申请不参加")
    await _click(http, leader, "同意")
    await _until(http, officer, "您不再参加")
    await _until(http, leader, "递补")
    campaign = await _campaign(http)
    [substitute] = [m for m in campaign["teams"][0]["members"] if m["substitute_for"]]
    newcomer = users[substitute["name"]]
    await _until(http, newcomer, "您被抽中")
    await _click(http, newcomer, "确认参加")
    await _until(http, leader, "已确认参加")
    states = {m["name"]: m["state"] for m in (await _campaign(http))["teams"][0]["members"]}
    assert states[team["members"][0]["name"]] == "replaced"
    assert states[substitute["name"]] == "confirmed"
    # Every card answered shows how it ended, its buttons greyed out.
    await _until_closed(http, leader, "审批", f"已同意（{team['leader']['name']}）")
    await _until_closed(http, officer, "请确认是否参加", "已申请无法参加")
    await _until_closed(http, newcomer, "请确认是否参加", "已确认参加")
    async with http.get("/sandbox/api/counts") as r:
        assert (await r.json())[newcomer] >= 3


async def test_a_draw_with_bad_numbers_is_refused_with_a_reason(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    campaign = await _campaign(http)
    values = {name: "七" for name in campaign["sources"]}
    async with http.post("/sandbox/api/draw", json={"campaign": 1, "values": values}) as r:
        assert r.status == 400 and "非负整数" in (await r.json())["error"]
    async with http.post("/sandbox/api/draw", json={"campaign": 1, "values": {}}) as r:
        assert r.status == 400 and (await r.json())["error"]
    assert (await _campaign(http))["state"] == "committed"


async def test_the_draw_takes_numbers_written_as_the_cli_takes_them(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    """Commas as in the README (「7,42,88」), full-width commas, 、 and blanks, mixed."""
    server, http = sandbox
    campaign = await _campaign(http)
    forms = ["7,42,88", "3，9，1", "5、6 7", " 12 , 30 "]
    values = {name: forms[i % len(forms)] for i, name in enumerate(campaign["sources"])}
    async with http.post("/sandbox/api/draw", json={"campaign": 1, "values": values}) as r:
        assert r.status == 200, await r.text()
    async with server.app[FACTORY]() as session:
        [run] = (await session.execute(select(DrawRun))).scalars()
        [commitment] = (await session.execute(select(DrawCommitment))).scalars()
    expected = [[7, 42, 88], [1, 3, 9], [5, 6, 7], [12, 30]]  # each source sorted
    in_record = source_names(json.loads(commitment.document))  # a witness as 「监督人1」
    assert json.loads(run.result)["entropy_values"] == {
        in_record[name]: expected[i % len(expected)] for i, name in enumerate(campaign["sources"])
    }


async def _unread(http: aiohttp.ClientSession) -> dict[str, int]:
    async with http.get("/sandbox/api/counts") as r:
        return dict(await r.json())


async def test_the_badges_count_only_what_a_person_has_not_read(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    users, team = await _drawn(http, "7,42,88")
    leader, officer = users[team["leader"]["name"]], users[team["members"][0]["name"]]
    await _until(http, officer, "请确认是否参加")  # the task and its card: two messages
    await _until(http, leader, "组长")
    unread = await _unread(http)
    assert unread[officer] == 2 and unread[leader] == 1
    shown = await _phone(http, officer)  # the page shows the officer's chat, and says so
    async with http.post("/sandbox/api/read", json={"user": officer, "seq": shown[-1]["seq"]}) as r:
        assert r.status == 200
    unread = await _unread(http)
    assert unread.get(officer, 0) == 0 and unread[leader] == 1
    async with http.post("/sandbox/api/say", json={"user": officer, "text": "帮助"}) as r:
        assert r.status == 200
    await _until(http, officer, "您好")
    assert (await _unread(http))[officer] == 1  # the answer; the officer's own words are not


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine")
async def test_on_a_phone_the_people_chat_and_campaigns_are_each_a_tab_away(
    sandbox: tuple[TestServer, aiohttp.ClientSession], tmp_path: Path
) -> None:
    """At 390 px the page shows one panel at a time: the people, one person's chat, or the
    campaigns with the draw; the tabs at the bottom switch between them, and nothing is
    wider than the screen."""
    server, _ = sandbox
    url = str(server.make_url("/sandbox/"))
    async with phone_page(url) as page:
        await page.until("document.querySelectorAll('.person').length > 10")
        assert await page.visible("#tabs") and await page.visible(".person")
        assert not await page.visible(".phone") and not await page.visible("#campaigns")
        # Picking a person opens their chat, full width.
        await page.evaluate("document.querySelectorAll('.person')[1].click()")
        assert await page.visible(".phone") and await page.visible("#text")
        assert not await page.visible("aside")
        assert await page.evaluate("document.querySelector('.phone').offsetWidth") >= 380
        # The campaigns, with the draw, are one tab away; the people list another.
        await page.evaluate("document.querySelector('#tabs [data-tab=campaigns]').click()")
        await page.until("document.querySelector('button[data-draw]') !== null")
        assert await page.visible("#campaigns") and await page.visible("button[data-draw]")
        assert not await page.visible(".phone")
        await page.screenshot(tmp_path / "campaigns.png")
        await page.evaluate("document.querySelector('#tabs [data-tab=people]').click()")
        assert await page.visible(".person") and not await page.visible("#campaigns")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def _clock(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get("/sandbox/api/clock") as r:
        return dict(await r.json())


async def _reply(http: aiohttp.ClientSession, user: str, words: str, *, press: bool = False) -> str:
    """Say (or press the newest live button labelled) ``words`` as ``user``, as the page
    does; the bot's next message, title and text."""
    before = len([m for m in await _phone(http, user) if m["from"] == "bot"])
    if press:
        await _click(http, user, words)
    else:
        async with http.post("/sandbox/api/say", json={"user": user, "text": words}) as r:
            assert (await r.json())["status"] == 200
    deadline = time.monotonic() + 15
    while len([m for m in await _phone(http, user) if m["from"] == "bot"]) <= before:
        assert time.monotonic() < deadline, (user, words, await _phone(http, user))
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)  # a reply may come in two messages
    newest = [m for m in await _phone(http, user) if m["from"] == "bot"][-1]
    return f"{newest['title']}\n{newest['text']}"


async def test_after_moving_the_clock_an_officer_fills_a_finding_with_the_sample_photo(
    sandbox: tuple[TestServer, aiohttp.ClientSession], tmp_path: Path
) -> None:
    """The demo's story of findings, through the page's own API: draw, move the sandbox's
    clock to the campaign's start, fill the wages form in chat with the sample photo, submit."""
    server, http = sandbox
    users, team = await _drawn(http, "7,42,88")
    officer = users[team["members"][0]["name"]]
    await _until(http, officer, "请确认是否参加")
    assert "没有可以填写检查结果的任务" in await _reply(http, officer, "填写")  # not started

    before, start = await _clock(http), (await _campaign(http))["start"]
    assert before["days"] == 0 and "与现实相同" in before["shown"]
    async with http.post("/sandbox/api/clock", json={"to": start}) as r:
        assert r.status == 200, await r.text()
        moved = await r.json()
    days = (dt.date.fromisoformat(start) - dt.date.fromisoformat(before["today"])).days
    assert days == 7 and moved["today"] == start and moved["days"] == days
    assert moved["shown"] == f"沙箱时间：{moved['now']}（已调快 {days} 天）"
    assert moved["now"].startswith(start) and await _clock(http) == moved
    # The app and its jobs go by the moved clock.
    ahead = server.app[CLOCK]() - utc_now()
    assert abs(ahead - dt.timedelta(days=days)) < dt.timedelta(minutes=1)

    assert "请回复序号选择要填写的单位" in await _reply(http, officer, "填写")
    assert "工资支付情况" in await _reply(http, officer, "1")
    assert "职工人数" in await _reply(http, officer, "1")
    assert "工资支付记录" in await _reply(http, officer, "12")
    assert "工资支付周期" in await _reply(http, officer, "是", press=True)
    assert "按时足额" in await _reply(http, officer, "按月支付", press=True)
    assert "工资清单" in await _reply(http, officer, "是", press=True)
    assert "工程建设" in await _reply(http, officer, "是")
    assert "证据照片" in await _reply(http, officer, "否")
    async with http.post("/sandbox/api/photo", json={"user": officer}) as r:
        assert (await r.json())["status"] == 200
    await _until(http, officer, "收到第 1 张照片")
    assert [m["kind"] for m in await _phone(http, officer) if m["from"] == "me"][-1] == "image"
    picture = SAMPLE_PHOTO.read_bytes()
    digest = hashlib.sha256(picture).hexdigest()
    deadline = time.monotonic() + 20
    while True:  # the background job fetched it from the fake WeCom's media/get
        async with server.app[FACTORY]() as session:
            [finding] = (await session.execute(select(Finding))).scalars()
        if finding.draft["answers"].get("evidence"):
            break
        assert time.monotonic() < deadline, finding.draft
        await asyncio.sleep(0.2)
    assert finding.draft["answers"]["evidence"] == [digest]
    assert (tmp_path / "files" / digest[:2] / digest[2:4] / digest).read_bytes() == picture
    assert "检查日期" in await _reply(http, officer, "完成")
    assert "检查方式" in await _reply(http, officer, "今天")  # today by the sandbox's clock
    assert "检查结果" in await _reply(http, officer, "实地检查", press=True)
    assert "发现的问题" in await _reply(http, officer, "未发现问题")
    review = await _reply(http, officer, "跳过")
    assert "请核对" in review and "1 张照片" in review and f"检查日期：{start}" in review
    # The review's link opens the same draft as a page, as WeCom's app opens it for this
    # officer: logged in through the fake WeCom's OAuth2.
    link = re.search(r"\((http://[^)]+(/h5/findings/\d+))\)", review)
    assert link, review
    entry = "/fake/wecom/fake/browser?" + urllib.parse.urlencode(
        {"user": officer, "url": f"/h5/login?after={link.group(2)}"}
    )
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=jar) as phone,
        phone.get(entry) as r,
    ):
        assert r.status == 200 and str(r.url).endswith(link.group(2))
        page = await r.text()
    assert "工资支付" in page and f"/photos/{digest}" in page and 'name="csrf"' in page
    assert "已提交" in await _reply(http, officer, "提交", press=True)

    async with server.app[FACTORY]() as session:
        [finding] = (await session.execute(select(Finding))).scalars()
    assert finding.state is FindingState.SUBMITTED
    assert finding.submitted_at is not None  # when, by the sandbox's clock
    ahead = finding.submitted_at - utc_now()
    assert abs(ahead - dt.timedelta(days=days)) < dt.timedelta(minutes=5)
    listed = await asyncio.to_thread(
        run, "findings", "list", "1", "--team", str(team["number"]),
        config=tmp_path / "suiji.toml",
    )  # fmt: skip
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.output.splitlines() if "已提交" in line and "工资" in line]
    assert team["members"][0]["name"] in row and f"{start} " in row


async def test_the_clock_moves_only_forward_and_only_from_the_page(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    server, http = sandbox
    today = dt.date.fromisoformat((await _clock(http))["today"])
    refused: list[tuple[Any, str]] = [
        ({"to": today.isoformat()}, "只能往后调"),
        ({"to": (today - dt.timedelta(days=3)).isoformat()}, "只能往后调"),
        ({"days": 0}, "只能往后调"),
        ({"days": -2}, "只能往后调"),
        ({"days": 367}, "1 到 366"),
        ({"to": (today + dt.timedelta(days=400)).isoformat()}, "1 到 366"),
        ({"days": "3"}, "整数"),
        ({"days": True}, "整数"),
        ({"days": 1.5}, "整数"),
        ({"to": "下周一"}, "不是日期"),
        ({}, "请说明"),
        ({"to": "2099-01-01", "days": 1}, "请说明"),
        ([1], "请说明"),
    ]
    for body, words in refused:
        async with http.post("/sandbox/api/clock", json=body) as r:
            assert r.status == 400 and words in (await r.json())["error"], body
    # Another site open in the same browser, or a name resolved to this machine: refused,
    # for the clock and the other POSTs alike.
    elsewhere = [{"Origin": "http://example.com"}, {"Host": f"example.com:{server.port}"}]
    for headers in elsewhere:
        async with http.post("/sandbox/api/clock", json={"days": 1}, headers=headers) as r:
            assert r.status == 403 and "沙箱页面" in (await r.json())["error"]
        said = {"user": "zhangkai", "text": "帮助"}
        async with http.post("/sandbox/api/say", json=said, headers=headers) as r:
            assert r.status == 403
    # A form or plain-text POST (which any page can send without asking) is not JSON.
    plain = {"Content-Type": "text/plain"}
    async with http.post("/sandbox/api/clock", data=b'{"days": 1}', headers=plain) as r:
        assert r.status == 400
    assert (await _clock(http))["days"] == 0 and await _phone(http, "zhangkai") == []
    # The page itself, from its own origin: moved.
    own = {"Origin": f"http://127.0.0.1:{server.port}"}
    async with http.post("/sandbox/api/clock", json={"days": 2}, headers=own) as r:
        assert r.status == 200 and (await r.json())["days"] == 2
    ahead = server.app[CLOCK]() - utc_now()
    assert abs(ahead - dt.timedelta(days=2)) < dt.timedelta(minutes=1)


def test_suiji_serve_has_no_sandbox_and_runs_on_the_real_time(tmp_path: Path) -> None:
    """The app ``suiji serve`` runs: no page, and no way to move its clock."""
    port = free_port()
    config = tmp_path / "suiji.toml"
    base = f"http://127.0.0.1:{port}"
    config.write_text(
        render("config/demo.toml.j2", keys=new_secrets(), base=base, port=port), "utf-8"
    )
    app = create_app(load_settings(str(config), environ={}))
    assert not [r.canonical for r in app.router.resources() if "sandbox" in r.canonical]
    assert app[CLOCK] is real_time


def test_the_sample_photo_is_a_real_picture() -> None:
    """A 64×64 RGB PNG whose chunks and pixels check out, as the bot's fetcher accepts."""
    data = SAMPLE_PHOTO.read_bytes()
    assert image_type(data) == "image/png" and len(data) < 4096
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.append((kind, body))
        at += 12 + length
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBB", chunks[0][1][:10]) == (64, 64, 8, 2)
    assert len(zlib.decompress(chunks[1][1])) == 64 * (1 + 64 * 3)


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine")
async def test_the_page_moves_its_clock_sends_the_photo_and_opens_links_in_the_phone(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    """On a wide screen: after the draw, 「调到开始日」 moves the sandbox's time and the page
    says so; 「发送示例照片」 shows the picture on the person's side of the chat; a link card's
    「查看详情」 opens its page inside the phone, with a way back."""
    server, http = sandbox
    users, team = await _drawn(http, "7,42,88")
    officer = users[team["members"][0]["name"]]
    await _until(http, officer, "请确认是否参加")
    start = (await _campaign(http))["start"]
    # A link card to the officer, through the fake WeCom's API as the bot would send one.
    w = server.app[SETTINGS].wecom
    page_url = str(server.make_url("/sandbox/sample-photo.png"))
    token_query = {"corpid": w.corp_id, "corpsecret": w.secret}
    async with http.get("/fake/wecom/cgi-bin/gettoken", params=token_query) as r:
        token = (await r.json())["access_token"]
    card = {
        "touser": officer,
        "agentid": w.agent_id,
        "msgtype": "textcard",
        "textcard": {"title": "检查结果", "description": "点开查看", "url": page_url},
    }
    async with http.post(
        "/fake/wecom/cgi-bin/message/send", params={"access_token": token}, json=card
    ) as r:
        assert (await r.json())["errcode"] == 0
    url = str(server.make_url("/sandbox/")) + f"?user={officer}"
    async with phone_page(url, width=1400, height=900) as page:
        await page.until(f"document.querySelector('button[data-start=\"{start}\"]') !== null")
        clock_line = "document.getElementById('clock-now').textContent"
        assert "与现实相同" in await page.evaluate(clock_line)
        await page.evaluate("document.querySelector('button[data-start]').click()")
        shown = await page.until(f"(t => t.includes('已调快') && t)({clock_line})")
        assert shown == (await _clock(http))["shown"] and "已调快 7 天" in shown
        assert await page.evaluate("document.getElementById('clock').classList.contains('moved')")
        # The campaigns are drawn again after the clock is shown: waited for, not raced.
        await page.until("document.querySelector('button[data-start]') === null")
        after_end = "document.querySelector('button[data-after-end]')"
        assert (await page.until(f"{after_end}.textContent")).startswith("调到结束后")
        # The sample photo, sent from the officer's phone.
        await page.until("!document.getElementById('photo').disabled")
        await page.evaluate("document.getElementById('photo').click()")
        shown_photo = "document.querySelector('.me img.photo')"
        await page.until(f"(i => i && i.complete && i.naturalWidth === 64)({shown_photo})")
        await _until(http, officer, "没有需要照片的问题")  # no form open: the bot says so
        # The link opens over the chat, inside the phone; 「返回」 closes it.
        await page.evaluate("document.querySelector('a[data-page]').click()")
        assert await page.visible("#browser-page")
        frame = await page.evaluate("document.getElementById('browser-page').src")
        assert frame == page_url
        await page.evaluate("document.getElementById('browser-close').click()")
        assert not await page.visible("#browser-page")


async def test_a_vote_card_shows_its_options_and_sends_the_ticked_ones(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    """A vote card reaches the page with its options, the answer before ticked; the ones
    ticked on the page are submitted as WeCom would, and shown on the person's side."""
    server, http = sandbox
    async with http.get("/sandbox/api/people") as r:
        officer = next(p["user"] for p in await r.json() if p["officer"])
    choice = Choice(
        "form:9:3:q", "第3题：哪些？", "可勾选多项", ("甲", "乙", "丙"), True, (1,), "提交"
    )
    question = Outgoing("choice", "**第3题** 哪些？", title="表", choice=choice)
    await server.app[SENDER].clients["wecom"].send(officer, question, "vote-1")
    card = await _until(http, officer, "可勾选多项")
    assert card["title"] == "第3题：哪些？" and card["choice"]["mode"] == 1
    options = [(o["id"], o["text"], o["is_checked"]) for o in card["choice"]["options"]]
    assert options == [("1", "甲", True), ("2", "乙", False), ("3", "丙", False)]
    await _until(http, officer, "哪些？")  # its words follow it
    for bad in ({"seq": card["seq"], "ids": "2"}, {"seq": card["seq"] + 1, "ids": ["2"]}):
        async with http.post("/sandbox/api/vote", json={"user": officer, **bad}) as r:
            assert r.status == 400
    vote = {"user": officer, "seq": card["seq"], "ids": ["2", "3"]}
    async with http.post("/sandbox/api/vote", json=vote) as r:
        assert (await r.json())["status"] == 200
    await _until(http, officer, text("chat.form_not_expected"))  # no form waits for it
    said = [m["text"] for m in await _phone(http, officer) if m["from"] == "me"]
    assert said == [text("sandbox.ticked", options=["乙", "丙"])]


async def test_a_team_report_can_be_walked_in_the_sandbox(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    """The demo reaches the report: the clock moved to the start, a member's 「填完本组检查结果」
    fills the rest with sample answers (each read as chat reads it, then submitted), the leader
    drafts and submits the report, another leader of the unit approves it."""
    server, http = sandbox
    users, team = await _drawn(http, "7,42,88")
    start = (await _campaign(http))["start"]
    async with http.post("/sandbox/api/clock", json={"to": start}) as r:
        assert r.status == 200
    officer = users[team["members"][0]["name"]]
    leader = users[team["leader"]["name"]]
    async with http.post("/sandbox/api/fill-team", json={"user": officer}) as r:
        filled = await r.json()
    assert filled["filled"] > 0
    async with server.app[FACTORY]() as session:
        states = {f.state for f in (await session.execute(select(Finding))).scalars()}
    assert states == {FindingState.SUBMITTED}
    await _until(http, leader, "已全部提交")
    assert "报告草稿已按检查结果生成" in await _reply(http, leader, "生成检查报告")
    assert "已提交审批" in await _reply(http, leader, "提交审批")
    async with server.app[FACTORY]() as session:
        approval = (await session.execute(select(Approval))).scalars().one()
        decider = await session.get(Person, approval.approver_ids[0])
    assert decider is not None and decider.wecom_userid
    assert "已同意" in await _reply(http, decider.wecom_userid, f"同意 审批{approval.id}")
    await _until(http, leader, "批准，内容已冻结")


async def test_moving_the_clock_past_the_end_brings_the_leader_a_digest_and_todo_answers(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    """The demo's reminders: drawn, the clock moved past the campaign's end to a working day,
    the team leader's digest arrives at once (the move ticks the reminders, not the five-minute
    timer), once, and 「待办」 lists the overdue findings."""
    server, http = sandbox
    users, team = await _drawn(http, "7,42,88")
    leader = users[team["leader"]["name"]]
    campaign = await _campaign(http)
    end, target = (dt.date.fromisoformat(campaign[k]) for k in ("end", "overdue_day"))
    assert target > end + dt.timedelta(days=1) and is_working_day(target, {})
    assert not [m for m in await _phone(http, leader) if "到期提醒" in m.get("title", "")]
    async with http.post("/sandbox/api/clock", json={"to": target.isoformat()}) as r:
        assert r.status == 200, await r.text()
    digest = await _until(http, leader, "到期提醒")
    assert "逾期" in digest["text"] and "提交检查结果" in digest["text"], digest
    assert f"第 {team['number']} 组" in digest["text"] and end.isoformat() in digest["text"]
    await remind_now(server.app)  # the timer's tick at the same time: nothing more
    todo = await _reply(http, leader, "待办")
    assert "逾期" in todo and "提交检查结果" in todo and end.isoformat() in todo, todo
    assert len([m for m in await _phone(http, leader) if "到期提醒" in m.get("title", "")]) == 1
