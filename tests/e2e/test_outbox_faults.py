"""The outbox sender against the fake WeCom and DingTalk when the platforms misbehave.

Each test drives ``Sender.deliver_due`` by hand under an injected clock, so the schedule it
stores (backoff, pacing) is checked against that clock, never against wall time: the access
token is fetched once and refreshed (once) when refused; network errors, 5xx and rate limiting
are retried later by the backoff policy, and given up after ``max_attempts``; the app-wide
per-minute budget holds back other recipients.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.config import OutboxSettings
from bot.platforms.dingtalk import DingTalkClient
from bot.platforms.fakes import FakeDingTalk, FakeWeCom, new_secrets
from bot.platforms.messages import Button, Outgoing
from bot.platforms.wecom import WeComClient
from bot.server.outbox import WINDOW, Sender, backoff
from bot.workflows.step import DEFAULT_POLICY, Step
from storage import chat as chat_db
from storage.engine import unit_of_work
from storage.models import OutboxMessage, OutboxState
from tests.helpers import free_port

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]

T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
# Generous: a pass that loops on a refused token must fail the test, not hang it.
PASS_DEADLINE = 60.0
AGENT_ID = 1000002
ROOMY = OutboxSettings(max_attempts=5, per_recipient_per_minute=20, per_minute=3000)


class Clock:
    """The sender's clock, moved by the test."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


class NeverValid(set[str]):
    """A fake's token store that refuses every token it hands out."""

    def __contains__(self, item: object) -> bool:
        return False


@dataclasses.dataclass
class Fakes:
    wecom: FakeWeCom
    dingtalk: FakeDingTalk
    wecom_client: WeComClient
    dingtalk_client: DingTalkClient


@contextlib.asynccontextmanager
async def serving_fakes(dingtalk: FakeDingTalk | None = None) -> AsyncIterator[Fakes]:
    """The fake WeCom and DingTalk on local ports, and the bot's clients pointed at them."""
    keys = new_secrets()
    wecom = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], AGENT_ID
    )
    dingtalk = dingtalk or FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    wecom_server, dingtalk_server = TestServer(wecom.app()), TestServer(dingtalk.app())
    await wecom_server.start_server()
    await dingtalk_server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Fakes(
                wecom,
                dingtalk,
                WeComClient(
                    http,
                    str(wecom_server.make_url("")),
                    keys["corp_id"],
                    keys["secret"],
                    AGENT_ID,
                    timeout=0.5,  # the fake's "timeout" fault answers after 30 s
                ),
                DingTalkClient(
                    http,
                    str(dingtalk_server.make_url("")),
                    dingtalk.app_key,
                    dingtalk.app_secret,
                    dingtalk.robot_code,
                    timeout=0.5,
                ),
            )
    finally:
        await wecom_server.close()
        await dingtalk_server.close()


@dataclasses.dataclass
class Rig:
    factory: Factory
    fakes: Fakes
    clock: Clock
    sender: Sender

    @property
    def wecom(self) -> FakeWeCom:
        return self.fakes.wecom

    @property
    def dingtalk(self) -> FakeDingTalk:
        return self.fakes.dingtalk

    def use(self, settings: OutboxSettings) -> None:
        """A new sender (and pacer) with these settings."""
        self.sender = Sender(self.factory, self.sender.clients, settings, self.clock)

    async def enqueue(self, platform: str, recipients: Iterable[str]) -> list[int]:
        """Queue one message to each recipient, due now; their row ids. The texts differ, so
        WeCom's duplicate check never swallows one."""
        recipients = list(recipients)
        async with unit_of_work(self.factory) as session:
            before = await self._max_id(session)
            for n, recipient in enumerate(recipients):
                body = Outgoing.plain(f"message {before + n + 1}").to_json()
                chat_db.enqueue(session, platform, recipient, body, self.clock())
            await session.flush()
            ids = await session.execute(
                select(OutboxMessage.id).where(OutboxMessage.id > before).order_by(OutboxMessage.id)
            )
            found = list(ids.scalars())
        assert len(found) == len(recipients)
        return found

    @staticmethod
    async def _max_id(session: AsyncSession) -> int:
        ids = await session.execute(select(OutboxMessage.id))
        return max(ids.scalars(), default=0)

    async def row(self, message_id: int) -> OutboxMessage:
        async with self.factory() as session:
            found = await session.get(OutboxMessage, message_id)
            assert found is not None
            return found

    async def deliver(self) -> int:
        """One sender pass over what is due at the clock's time; the number of rows handled."""
        return await asyncio.wait_for(self.sender.deliver_due(limit=100), PASS_DEADLINE)

    async def warm_up(self, platform: str) -> None:
        """One message sent and its token cached, so that a fault queued next hits a send."""
        [message_id] = await self.enqueue(platform, ["warmup"])
        assert await self.deliver() == 1
        assert (await self.row(message_id)).state is OutboxState.SENT


@pytest.fixture
async def rig(factory: Factory) -> AsyncIterator[Rig]:
    async with serving_fakes() as fakes:
        clock = Clock()
        clients: dict[str, Any] = {"wecom": fakes.wecom_client, "dingtalk": fakes.dingtalk_client}
        yield Rig(factory, fakes, clock, Sender(factory, clients, ROOMY, clock))


# --- a. the WeCom access token is cached ------------------------------------------------------


async def test_wecom_token_is_fetched_once_for_many_sends(rig: Rig) -> None:
    await rig.enqueue("wecom", [f"user{n}" for n in range(5)])
    assert await rig.deliver() == 5
    await rig.enqueue("wecom", ["user0", "user9"])
    rig.clock.advance(SECOND)
    assert await rig.deliver() == 2
    assert len(rig.wecom.delivered) == 7
    assert (rig.wecom.calls["gettoken"], rig.wecom.calls["send"]) == (1, 7)


# --- b. a refused WeCom token is refreshed, and the send retried once ---------------------------


@pytest.mark.parametrize("code", ["40014", "42001", "40001"])
async def test_wecom_refused_token_is_refreshed_and_the_send_retried_once(
    rig: Rig, code: str
) -> None:
    await rig.warm_up("wecom")
    rig.wecom.inject(code)  # the next send is refused with this token error
    [message_id] = await rig.enqueue("wecom", ["zhangkai"])
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.SENT, 1, None)
    assert [m.user for m in rig.wecom.delivered] == ["warmup", "zhangkai"]
    # warm-up gettoken + send, then: refused send, one new token, the send again
    assert (rig.wecom.calls["gettoken"], rig.wecom.calls["send"]) == (2, 3)


@pytest.mark.parametrize("code", ["40014", "42001"])
async def test_a_token_refused_again_after_the_refresh_is_not_retried_in_a_loop(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    def refused(request: web.Request) -> web.Response:
        return rig.wecom._error(code)

    monkeypatch.setattr(rig.wecom, "_token_error", refused)  # every token, even a new one
    [message_id] = await rig.enqueue("wecom", ["zhangkai"])
    assert await rig.deliver() == 1
    assert (rig.wecom.calls["gettoken"], rig.wecom.calls["send"]) == (2, 2)
    row = await rig.row(message_id)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 1)  # WeCom's side: later
    assert code in (row.last_error or "")
    assert rig.wecom.delivered == []


# --- c. DingTalk: a refused token is refreshed once; 429 and 5xx are retried later -------------


async def test_dingtalk_revoked_token_is_refreshed_and_the_send_retried_once(rig: Rig) -> None:
    await rig.warm_up("dingtalk")
    rig.dingtalk.revoke_tokens()  # the cached token is now refused (400 InvalidAuthentication)
    [message_id] = await rig.enqueue("dingtalk", ["0516754045645063"])
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.SENT, 1, None)
    assert [m.user for m in rig.dingtalk.delivered] == ["warmup", "0516754045645063"]
    assert (rig.dingtalk.calls["accessToken"], rig.dingtalk.calls["batchSend"]) == (2, 3)


async def test_dingtalk_token_refused_again_after_the_refresh_is_not_retried_in_a_loop(
    rig: Rig,
) -> None:
    rig.dingtalk.tokens = NeverValid()
    [message_id] = await rig.enqueue("dingtalk", ["0516754045645063"])
    assert await rig.deliver() == 1
    assert (rig.dingtalk.calls["accessToken"], rig.dingtalk.calls["batchSend"]) == (2, 2)
    row = await rig.row(message_id)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 1)  # DingTalk's side: later
    assert "InvalidAuthentication" in (row.last_error or "")
    assert rig.dingtalk.delivered == []


@pytest.mark.parametrize("fault", ["429", "500"])
async def test_dingtalk_throttling_and_server_errors_are_retried_with_backoff(
    rig: Rig, fault: str
) -> None:
    await rig.warm_up("dingtalk")
    rig.dingtalk.inject(fault)
    [message_id] = await rig.enqueue("dingtalk", ["0516754045645063"])
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 1)
    assert fault in (row.last_error or "")
    assert row.next_attempt_at == rig.clock() + backoff(1)
    rig.clock.now = row.next_attempt_at
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.SENT, 2, None)
    assert [m.user for m in rig.dingtalk.delivered] == ["warmup", "0516754045645063"]


async def test_dingtalk_invalid_authentication_400_refreshes_the_token(rig: Rig) -> None:
    """The new API refuses a bad or expired token with HTTP 400 InvalidAuthentication."""
    await rig.warm_up("dingtalk")
    rig.dingtalk.inject("token")
    [message_id] = await rig.enqueue("dingtalk", ["0516754045645063"])
    assert await rig.deliver() == 1
    assert (await rig.row(message_id)).state is OutboxState.SENT
    assert rig.dingtalk.calls["accessToken"] == 2


async def test_dingtalk_qps_limit_403_is_retried_not_dead(rig: Rig) -> None:
    await rig.warm_up("dingtalk")
    rig.dingtalk.inject("qps")
    [message_id] = await rig.enqueue("dingtalk", ["0516754045645063"])
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 1)
    assert row.next_attempt_at == rig.clock() + backoff(1)
    assert "QpsLimitForApi" in (row.last_error or "")


# --- d. backoff after a retryable failure, by the injected clock --------------------------------


@contextlib.contextmanager
def unreachable(client: WeComClient) -> Iterator[None]:
    """The client pointed at a port nothing listens on: a connection error."""
    real = client.api_base
    client.api_base = f"http://127.0.0.1:{free_port()}"
    try:
        yield
    finally:
        client.api_base = real


@pytest.mark.parametrize("fault", ["500", "45009", "-1", "timeout", "refused"])
async def test_a_retryable_wecom_failure_is_retried_on_the_backoff_schedule(
    rig: Rig, fault: str
) -> None:
    await rig.warm_up("wecom")
    [message_id] = await rig.enqueue("wecom", ["zhangkai"])
    failed_at = rig.clock()
    if fault == "refused":
        with unreachable(rig.fakes.wecom_client):
            assert await rig.deliver() == 1
    else:
        rig.wecom.inject(fault)
        assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 1)
    assert row.last_error
    assert row.next_attempt_at == failed_at + backoff(1) > failed_at
    sends = rig.wecom.calls["send"]

    rig.clock.now = row.next_attempt_at - SECOND  # not yet due: nothing is tried
    assert await rig.deliver() == 0
    assert rig.wecom.calls["send"] == sends

    rig.clock.now = row.next_attempt_at
    rig.wecom.inject("500")  # fails again: the wait doubles
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 2)
    assert row.next_attempt_at == rig.clock() + backoff(2)
    assert backoff(2) > backoff(1)

    rig.clock.now = row.next_attempt_at - SECOND
    assert await rig.deliver() == 0
    rig.clock.now = row.next_attempt_at
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.SENT, 3, None)
    assert [m.user for m in rig.wecom.delivered] == ["warmup", "zhangkai"]


# --- e. dead letter after max_attempts retryable failures ---------------------------------------


@pytest.mark.parametrize("platform", ["wecom", "dingtalk"])
async def test_dead_letter_after_max_attempts_retryable_failures(rig: Rig, platform: str) -> None:
    rig.use(dataclasses.replace(ROOMY, max_attempts=3))
    await rig.warm_up(platform)
    fake: FakeWeCom | FakeDingTalk = rig.wecom if platform == "wecom" else rig.dingtalk
    last = "45009" if platform == "wecom" else "429"
    fake.inject("500", "500", last)
    [message_id] = await rig.enqueue(platform, ["lisi"])
    for attempt in (1, 2):
        assert await rig.deliver() == 1
        row = await rig.row(message_id)
        assert (row.state, row.attempts) == (OutboxState.PENDING, attempt)
        rig.clock.now = row.next_attempt_at
    assert await rig.deliver() == 1
    row = await rig.row(message_id)
    assert (row.state, row.attempts) == (OutboxState.DEAD, 3)
    assert last in (row.last_error or "") and "http 500" not in (row.last_error or "")
    # Given up: never tried again, however long the sender runs.
    tried = sum(fake.calls.values())
    rig.clock.advance(dt.timedelta(days=1))
    assert await rig.deliver() == 0
    assert sum(fake.calls.values()) == tried
    assert (await rig.row(message_id)).state is OutboxState.DEAD
    assert [m.user for m in fake.delivered] == ["warmup"]


# --- f. the app-wide per-minute budget ---------------------------------------------------------


async def test_the_overall_per_minute_budget_holds_back_other_recipients(rig: Rig) -> None:
    rig.use(OutboxSettings(max_attempts=5, per_recipient_per_minute=20, per_minute=3))
    ids = await rig.enqueue("wecom", [f"user{n}" for n in range(5)])
    assert await rig.deliver() == 5  # three sent, two put off
    rows = [await rig.row(i) for i in ids]
    assert [r.state for r in rows] == [OutboxState.SENT] * 3 + [OutboxState.PENDING] * 2
    assert [m.user for m in rig.wecom.delivered] == ["user0", "user1", "user2"]
    for held in rows[3:]:
        # Put off until the first of the minute's three ages out; waiting is not an attempt.
        assert held.next_attempt_at == T0 + WINDOW
        assert (held.attempts, held.last_error) == (0, None)

    rig.clock.now = T0 + WINDOW - SECOND
    assert await rig.deliver() == 0
    rig.clock.now = T0 + WINDOW
    assert await rig.deliver() == 2
    assert [m.user for m in rig.wecom.delivered] == [f"user{n}" for n in range(5)]
    assert {(await rig.row(i)).state for i in ids} == {OutboxState.SENT}


# --- g. closing a card once its question is settled --------------------------------------------


async def queue_card(rig: Rig, platform: str, user: str, subject: str) -> int:
    """A card with two buttons asking ``subject``, due now; its row id."""
    card = Outgoing.card(
        "请确认", "是否参加", (Button("是", "确认"), Button("否", "拒绝")), subject
    )
    async with unit_of_work(rig.factory) as session:
        chat_db.enqueue(session, platform, user, card.to_json(), rig.clock())
        await session.flush()
        return max((await session.execute(select(OutboxMessage.id))).scalars())


async def close(rig: Rig, subject: str, outcome: str) -> list[int]:
    """Settle ``subject`` as a workflow does; the ids of the updates queued."""
    async with unit_of_work(rig.factory) as session:
        await Step(session, DEFAULT_POLICY, rig.clock(), "test").close_cards(subject, outcome)
        await session.flush()
        rows = await session.execute(
            select(OutboxMessage.id).where(OutboxMessage.card_id.is_not(None))
        )
        return list(rows.scalars())


async def test_a_card_is_closed_with_the_response_code_it_was_sent_with(rig: Rig) -> None:
    card_id = await queue_card(rig, "wecom", "user1", "approval:1")
    assert await rig.deliver() == 1
    card = await rig.row(card_id)
    assert card.handle and card.handle in rig.wecom.response_codes
    [update_id] = await close(rig, "approval:1", "已同意（张凯）")
    assert await close(rig, "approval:1", "已驳回") == [update_id]  # closed once only
    assert await rig.deliver() == 1
    assert (await rig.row(update_id)).state is OutboxState.SENT
    [shown] = rig.wecom.delivered
    assert shown.buttons == [
        {
            "label": "已同意（张凯）",
            "key": "",
            "task_id": f"suiji-{chat_db.message_ref(card)}",
            "done": "1",
        }
    ]


async def test_a_card_update_waits_until_its_card_is_sent(rig: Rig) -> None:
    await rig.warm_up("wecom")
    card_id = await queue_card(rig, "wecom", "user1", "assignment:7")
    [update_id] = await close(rig, "assignment:7", "已确认参加")  # before the card went out
    rig.wecom.inject("500")
    assert await rig.deliver() == 2  # the card fails once; its update waits for it
    assert (await rig.row(card_id)).state is OutboxState.PENDING
    update = await rig.row(update_id)
    assert (update.state, update.attempts) == (OutboxState.PENDING, 0)
    rig.clock.advance(backoff(1))
    assert await rig.deliver() == 1  # the card
    rig.clock.advance(dt.timedelta(seconds=3))
    assert await rig.deliver() == 1  # then its update
    assert (await rig.row(update_id)).state is OutboxState.SENT
    assert [b["label"] for b in rig.wecom.messages_for("user1")[0].buttons] == ["已确认参加"]


async def test_a_response_code_past_72_hours_is_not_used_nor_retried(rig: Rig) -> None:
    await queue_card(rig, "wecom", "user1", "assignment:7")
    assert await rig.deliver() == 1
    rig.clock.advance(dt.timedelta(hours=72))
    [update_id] = await close(rig, "assignment:7", "已确认参加")
    assert await rig.deliver() == 1
    update = await rig.row(update_id)
    assert update.state is OutboxState.SENT and "older than" in (update.last_error or "")
    assert rig.wecom.calls["update_template_card"] == 0
    rig.clock.advance(dt.timedelta(days=1))
    assert await rig.deliver() == 0


async def test_a_dingtalk_action_card_cannot_change_and_is_let_be(rig: Rig) -> None:
    card_id = await queue_card(rig, "dingtalk", "user1", "assignment:7")
    [update_id] = await close(rig, "assignment:7", "已确认参加")  # queued while on its way
    assert await rig.deliver() == 2
    assert (await rig.row(card_id)).handle is None  # its buttons are links: nothing to change
    update = await rig.row(update_id)
    assert (update.state, update.last_error) == (OutboxState.SENT, "this card cannot be changed")
    assert [b["label"] for b in rig.dingtalk.delivered[0].buttons] == ["确认", "拒绝"]
    assert await close(rig, "assignment:7", "已作废") == [update_id]  # sent: nothing to queue
