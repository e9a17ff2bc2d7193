"""The bot over HTTP against the fake WeCom and DingTalk, driven the way the platforms drive it."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select, update
from yarl import URL

from bot.base.config import load_settings
from bot.base.texts import text
from bot.platforms.fakes import FakeDingTalk, FakeWeCom, new_secrets
from bot.platforms.messages import Outgoing
from bot.server import app as app_module
from bot.server import dispatch
from bot.server.app import FACTORY, SENDER, create_app
from storage import chat as chat_db
from storage import migrate
from storage.engine import make_engine, make_session_factory, unit_of_work
from storage.models import InboundEvent, OutboxMessage, OutboxState
from tests.e2e.phones import phones
from tests.helpers import bot_environ, load_sample

ZHANG_KAI = ("zhangkai", "0516754045645063")  # a leader in the sample: WeCom, DingTalk ids


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class World:
    bot: TestServer
    wecom: FakeWeCom
    dingtalk: FakeDingTalk
    http: aiohttp.ClientSession
    database_url: str

    @property
    def app(self) -> Any:
        return self.bot.app

    async def settle(self, fake: Any, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` messages reached the fake's phones."""
        deadline = time.monotonic() + timeout
        while len(fake.delivered) < count:
            assert time.monotonic() < deadline, [m.text for m in fake.delivered]
            await asyncio.sleep(0.02)

    async def outbox(self) -> list[OutboxMessage]:
        async with self.app[FACTORY]() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            return list((await session.execute(query)).scalars())

    async def outbox_settled(self, count: int, timeout: float = 20) -> list[OutboxMessage]:
        """The outbox once it holds ``count`` rows, none still waiting to be sent."""
        deadline = time.monotonic() + timeout
        while True:
            rows = await self.outbox()
            done = len(rows) == count and all(
                r.state in (OutboxState.SENT, OutboxState.DEAD) for r in rows
            )
            if done or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.05)


async def _database(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await load_sample(make_session_factory(engine), utc_now)
    await engine.dispose()
    return url


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    keys = new_secrets()
    wecom = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    dingtalk = FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    wecom_server, dingtalk_server = TestServer(wecom.app()), TestServer(dingtalk.app())
    await wecom_server.start_server()
    await dingtalk_server.start_server()
    url = await _database(tmp_path / "bot.db")
    settings = load_settings(
        environ=bot_environ(
            keys,
            url,
            str(wecom_server.make_url("")).rstrip("/"),
            str(dingtalk_server.make_url("")).rstrip("/"),
        )
    )
    bot = TestServer(create_app(settings))
    await bot.start_server()
    wecom.bot_url = str(bot.make_url("/wecom/callback"))
    dingtalk.bot_url = str(bot.make_url("/dingtalk/callback"))
    async with aiohttp.ClientSession() as http:
        yield World(bot, wecom, dingtalk, http, url)
    await bot.close()
    await wecom_server.close()
    await dingtalk_server.close()


async def test_help_on_wecom_is_answered_by_role(world: World) -> None:
    assert await world.wecom.say(world.http, ZHANG_KAI[0], "帮助") == 200
    await world.settle(world.wecom, 1)
    [message] = world.wecom.messages_for(ZHANG_KAI[0])
    assert message.kind == "markdown" and "张凯您好" in message.text
    assert "领导" in message.text  # he is a leader


async def test_help_on_dingtalk_through_the_robot_callback(world: World) -> None:
    assert await world.dingtalk.say(world.http, ZHANG_KAI[1], "help") == 200
    await world.settle(world.dingtalk, 1)
    [message] = world.dingtalk.messages_for(ZHANG_KAI[1])
    assert "张凯您好" in message.text


async def test_my_tasks_is_empty_before_any_draw(world: World) -> None:
    await world.wecom.say(world.http, ZHANG_KAI[0], "我的任务")
    await world.settle(world.wecom, 1)
    assert "没有抽查任务" in world.wecom.delivered[0].text


async def test_a_submitted_wecom_choice_card_is_stored_as_a_form_and_answered(
    world: World,
) -> None:
    chosen = {"result": ["pass"], "items": ["wage", "contract"]}
    status = await world.wecom.click(world.http, ZHANG_KAI[0], "submit", "suiji-f1", chosen)
    assert status == 200
    await world.settle(world.wecom, 1)
    assert world.wecom.delivered[0].text == text("chat.form_not_expected")
    async with world.app[FACTORY]() as session:
        [stored] = (await session.execute(select(InboundEvent))).scalars()
    assert (stored.payload["kind"], stored.payload["fields"]) == ("form", chosen)


async def test_a_dingtalk_card_sent_with_its_inputs_is_answered_as_a_form(
    tmp_path: Path,
) -> None:
    url = await _database(tmp_path / "stream.db")
    async with phones("dingtalk", url, SUIJI_DINGTALK__MODE="stream") as bot:
        assert isinstance(bot.fake, FakeDingTalk)
        inputs = {"result": "合格", "items": ["1", "3"]}
        await bot.fake.press_card(ZHANG_KAI[1], "提交", "suiji-9-1", inputs)
        await bot.wait_for(ZHANG_KAI[1], text("chat.form_not_expected"))
        async with bot.factory() as session:
            [stored] = (await session.execute(select(InboundEvent))).scalars()
        assert (stored.payload["kind"], stored.payload["fields"]) == ("form", inputs)
        # A template whose buttons also send other values: a button naming a command is
        # still that command.
        await bot.fake.press_card(ZHANG_KAI[1], "帮助", "suiji-9-2", {"label": "帮助"})
        await bot.wait_for(ZHANG_KAI[1], "张凯您好")


async def test_unknown_sender_gets_one_polite_reply(world: World) -> None:
    await world.wecom.say(world.http, "stranger", "你好")
    await world.settle(world.wecom, 1)
    await asyncio.sleep(0.2)
    assert [m.user for m in world.wecom.delivered] == ["stranger"]
    assert "还没有登记" in world.wecom.delivered[0].text


async def test_a_callback_delivered_three_times_has_one_effect_and_one_reply(world: World) -> None:
    inner = FakeWeCom.text_xml(ZHANG_KAI[0], "帮助", 424242, int(time.time()))
    envelope, query = world.wecom.sealed(inner)

    async def deliver() -> int:
        async with world.http.post(world.wecom.bot_url, params=query, data=envelope) as response:
            return response.status

    assert await deliver() == 200
    assert await asyncio.gather(deliver(), deliver()) == [200, 200]
    await world.settle(world.wecom, 1)
    await asyncio.sleep(0.3)
    assert len(world.wecom.delivered) == 1
    async with world.app[FACTORY]() as session:
        events = (await session.execute(select(func.count(InboundEvent.id)))).scalar_one()
    assert events == 1


async def test_forged_signature_is_refused_and_writes_nothing(world: World) -> None:
    inner = FakeWeCom.text_xml(ZHANG_KAI[0], "帮助", 7, int(time.time()))
    envelope, query = world.wecom.sealed(inner)
    query["msg_signature"] = "0" * 40
    async with world.http.post(world.wecom.bot_url, params=query, data=envelope) as response:
        assert response.status == 403
    headers = world.dingtalk.robot_headers(int(time.time() * 1000) - 2 * 3600 * 1000)
    body = world.dingtalk.robot_body(ZHANG_KAI[1], "帮助")
    async with world.http.post(world.dingtalk.bot_url, json=body, headers=headers) as response:
        assert response.status == 403
    async with world.app[FACTORY]() as session:
        assert (await session.execute(select(func.count(InboundEvent.id)))).scalar_one() == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml><Encrypt>&a;</Encrypt></xml>", 400),
        (b"<xml><Encrypt>", 400),
        (b"not xml at all", 400),
        (b"<xml><Encrypt>" + b"A" * (300 * 1024) + b"</Encrypt></xml>", 413),
    ],
)
async def test_hostile_bodies_get_4xx(world: World, body: bytes, status: int) -> None:
    query = {"msg_signature": "x", "timestamp": "1", "nonce": "2"}
    async with world.http.post(world.wecom.bot_url, params=query, data=body) as response:
        assert response.status == status


@pytest.mark.parametrize("fault", ["500", "42001", "45009", "timeout"])
async def test_api_faults_are_recovered(world: World, fault: str) -> None:
    if fault == "timeout":
        for client in world.app[SENDER].clients.values():
            client.timeout = aiohttp.ClientTimeout(total=0.5)  # type: ignore[attr-defined]
    await world.wecom.say(world.http, ZHANG_KAI[0], "帮助")
    await world.settle(world.wecom, 1)  # the token is fetched and works
    if fault == "42001":
        world.wecom.revoke_tokens()
    else:
        world.wecom.inject(fault)
    await world.wecom.say(world.http, ZHANG_KAI[0], "我的任务")
    await world.settle(world.wecom, 2, timeout=20)
    states = [m.state for m in await world.outbox_settled(2)]
    assert states == [OutboxState.SENT, OutboxState.SENT]


async def test_dead_letter_after_a_permanent_error(world: World) -> None:
    world.wecom.inject("40003")  # invalid user: retrying cannot help
    await world.wecom.say(world.http, ZHANG_KAI[0], "帮助")
    [message] = await world.outbox_settled(1)
    assert message.state is OutboxState.DEAD and "40003" in (message.last_error or "")
    assert world.wecom.delivered == []


async def test_wecom_url_verification_answers_the_echo(world: World) -> None:
    echo, signature = world.wecom.codec.seal_echo("1288432023552776189", "1476416373", "47744683")
    query = {
        "msg_signature": signature,
        "timestamp": "1476416373",
        "nonce": "47744683",
        "echostr": echo,
    }
    async with world.http.get(world.wecom.bot_url, params=query) as response:
        assert (response.status, await response.text()) == (200, "1288432023552776189")
    async with world.http.get(str(world.bot.make_url("/healthz"))) as response:
        assert response.status == 200


async def test_event_stored_before_a_crash_is_handled_once_after_restart(
    world: World, tmp_path: Path
) -> None:
    # The callback was stored and acknowledged, then the process died before handling it.
    factory = world.app[FACTORY]
    from bot.platforms.messages import Inbound, InboundKind, Platform

    inbound = Inbound(
        Platform.WECOM, "crash-1", ZHANG_KAI[0], InboundKind.TEXT, utc_now(), text="帮助"
    )
    event_id = await dispatch.accept(factory, inbound)
    assert event_id is not None
    assert await dispatch.process_pending(factory, utc_now, older_than=dt.timedelta(0)) == 1
    assert await dispatch.process_pending(factory, utc_now, older_than=dt.timedelta(0)) == 0
    await world.settle(world.wecom, 1)
    await asyncio.sleep(0.3)
    assert len(world.wecom.delivered) == 1
    assert json.loads(json.dumps(world.wecom.delivered[0].raw))["touser"] == ZHANG_KAI[0]


async def test_message_claimed_by_a_sender_that_died_is_delivered_once(world: World) -> None:
    # A sender claimed the row, WeCom accepted the message, and the process died before the row
    # was marked sent. When the claim expires another sender sends it again; WeCom's duplicate
    # check keeps the phone from showing it twice.
    factory = world.app[FACTORY]
    await world.wecom.say(world.http, ZHANG_KAI[0], "帮助")
    await world.settle(world.wecom, 1)
    [sent] = await world.outbox_settled(1)
    async with unit_of_work(factory) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == sent.id)
            .values(
                state=OutboxState.SENDING,
                claimed_until=utc_now() - dt.timedelta(seconds=1),
            )
        )
    world.app[SENDER].wake.set()
    [again] = await world.outbox_settled(1)
    assert again.state is OutboxState.SENT and again.attempts == 2
    assert len(world.wecom.delivered) == 1 and world.wecom.duplicates == 1


async def test_a_failing_handler_apologises_once_and_keeps_the_event(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> list[Any]:
        raise RuntimeError("handler bug")

    monkeypatch.setattr(dispatch, "decide", broken)
    await world.wecom.say(world.http, ZHANG_KAI[0], "帮助")
    await world.settle(world.wecom, 1)
    assert "抱歉" in world.wecom.delivered[0].text
    monkeypatch.undo()
    assert (
        await dispatch.process_pending(world.app[FACTORY], utc_now, older_than=dt.timedelta(0)) == 1
    )  # retried: works
    await world.settle(world.wecom, 2)
    async with world.app[FACTORY]() as session:
        [event] = (await session.execute(select(InboundEvent))).scalars().all()
    assert (event.state.value, event.attempts) == ("done", 1)


async def test_one_event_handled_by_two_at_once_is_answered_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker and the retry pass (or two processes) take the same event together; the
    # handler awaits, so without a real lock both would decide and both would reply.
    from bot.platforms.messages import Inbound, InboundKind, Platform

    factory = world.app[FACTORY]
    decide = dispatch.decide

    async def slow(*args: Any) -> list[Any]:
        await asyncio.sleep(0.2)
        return await decide(*args)

    monkeypatch.setattr(dispatch, "decide", slow)
    inbound = Inbound(
        Platform.WECOM, "twice-1", ZHANG_KAI[0], InboundKind.TEXT, utc_now(), text="帮助"
    )
    event_id = await dispatch.accept(factory, inbound)
    assert event_id is not None
    results = await asyncio.gather(
        *(dispatch.process(factory, event_id, utc_now) for _ in range(3))
    )
    assert all(results)
    assert len(await world.outbox_settled(1)) == 1


async def test_a_replayed_dingtalk_sign_is_refused(world: World) -> None:
    headers = world.dingtalk.robot_headers()
    first = world.dingtalk.robot_body(ZHANG_KAI[1], "帮助")
    async with world.http.post(world.dingtalk.bot_url, json=first, headers=headers) as r:
        assert r.status == 200
    forged = world.dingtalk.robot_body(ZHANG_KAI[1], "同意")  # another body, the same sign
    async with world.http.post(world.dingtalk.bot_url, json=forged, headers=headers) as r:
        assert r.status == 403
    async with world.app[FACTORY]() as session:
        assert (await session.execute(select(func.count(InboundEvent.id)))).scalar_one() == 1


async def test_a_malformed_sender_is_refused_without_harming_others(world: World) -> None:
    bad = world.dingtalk.robot_body("\ud800", "帮助")
    async with world.http.post(
        world.dingtalk.bot_url,
        data=json.dumps(bad),
        headers={**world.dingtalk.robot_headers(), "Content-Type": "application/json"},
    ) as r:
        assert r.status == 400
    assert await world.wecom.say(world.http, ZHANG_KAI[0], "帮助") == 200
    await world.settle(world.wecom, 1)


async def test_two_senders_share_one_per_person_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes' senders (each with its own in-memory pacer) on one database must not
    # together exceed what WeCom lets through to one person in a minute: it drops the rest
    # silently, and they would be marked sent.
    from bot.server.outbox import Sender

    factory = world.app[FACTORY]

    async def idle(limit: int = 20) -> int:
        return 0

    monkeypatch.setattr(world.app[SENDER], "deliver_due", idle)  # only the two below send
    async with unit_of_work(factory) as session:
        for n in range(40):
            body = Outgoing.plain(f"提醒 {n}").to_json()
            chat_db.enqueue(session, "wecom", "burst", body, utc_now())
    running = world.app[SENDER]
    others = [Sender(factory, running.clients, running.settings, utc_now) for _ in range(2)]
    # One after the other: the first uses up the person's minute, the second must see that.
    for sender in others:
        await sender.deliver_due(limit=20)
    budget = running.settings.per_recipient_per_minute
    assert len(world.wecom.messages_for("burst")) <= budget
    assert world.wecom.dropped == 0
    states = [m.state for m in await world.outbox() if m.recipient == "burst"]
    assert states.count(OutboxState.SENT) == len(world.wecom.messages_for("burst"))


async def test_a_body_that_arrives_in_pieces_is_waited_for(world: World) -> None:
    """Most callbacks arrive whole with their headers; one that comes in pieces is read to
    its end (within the platforms' 5 s) and handled like any other."""
    inner = FakeWeCom.text_xml(ZHANG_KAI[0], "帮助", 8, int(time.time()))
    envelope, query = world.wecom.sealed(inner)
    data = envelope.encode()

    async def pieces() -> AsyncIterator[bytes]:
        yield data[:20]
        await asyncio.sleep(0.2)
        yield data[20:]

    async with world.http.post(world.wecom.bot_url, params=query, data=pieces()) as response:
        assert response.status == 200
    await world.settle(world.wecom, 1)


async def test_a_body_that_stops_coming_is_refused_408_and_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "READ_SECONDS", 0.3)
    inner = FakeWeCom.text_xml(ZHANG_KAI[0], "帮助", 9, int(time.time()))
    envelope, query = world.wecom.sealed(inner)
    url = URL(world.wecom.bot_url).with_query(query)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        f"POST {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Content-Length: {len(envelope) + 100}\r\n\r\n{envelope[:50]}".encode()
    )
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.split()[1] == b"408"
    async with world.app[FACTORY]() as session:
        assert (await session.execute(select(func.count(InboundEvent.id)))).scalar_one() == 0


async def test_an_oversized_body_without_a_length_is_refused_413(world: World) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(300):
            yield b"A" * 1024

    query = {"msg_signature": "x", "timestamp": "1", "nonce": "2"}
    async with world.http.post(world.wecom.bot_url, params=query, data=chunks()) as response:
        assert response.status == 413
