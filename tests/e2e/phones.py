"""A bot on one platform, and the phones of the people it talks to, for end-to-end tests.

The bot runs over HTTP against the fake WeCom or fake DingTalk; people act as on their phones:
they type, and they press a card's button (WeCom sends a template_card_event; DingTalk's card
link sends the button's words back as a text message).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.base.config import load_settings
from bot.platforms.fakes import Delivered, FakeDingTalk, FakeWeCom, new_secrets
from bot.server.app import FACTORY, POLICY, create_app
from bot.workflows.step import Policy
from storage.models import OutboxMessage, OutboxState, Person
from tests.helpers import bot_environ, free_port


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Phones:
    platform: str  # "wecom" | "dingtalk"
    bot: TestServer
    fake: FakeWeCom | FakeDingTalk
    http: aiohttp.ClientSession
    last_ms: int = 0
    stream: bool = False  # DingTalk Stream mode: people's messages come down the websocket
    fake_base: str = ""  # where the fake platform listens

    @property
    def factory(self) -> Any:
        return self.bot.app[FACTORY]

    @property
    def policy(self) -> Policy:
        return self.bot.app[POLICY]

    async def account(self, person_id: int) -> str:
        async with self.factory() as session:
            person = await session.get(Person, person_id)
            assert person is not None
            account = person.wecom_userid if self.platform == "wecom" else person.dingtalk_userid
            assert account
            return account

    def inbox(self, user: str) -> list[Delivered]:
        return self.fake.messages_for(user)

    def texts(self, user: str) -> str:
        return "\n".join(f"{m.title}\n{m.text}" for m in self.inbox(user))

    async def say(self, user: str, words: str, msg_id: str | None = None) -> int:
        if isinstance(self.fake, FakeWeCom):
            if msg_id is None:
                return await self.fake.say(self.http, user, words)
            inner = self.fake.text_xml(user, words, int(msg_id), int(time.time()))
            return await self.fake.post(self.http, inner)
        if self.stream:
            await self.fake.push(user, words)
            return 200
        # Each robot callback is signed for its own millisecond: a sign is good once.
        self.last_ms = max(self.last_ms + 1, int(time.time() * 1000))
        async with self.http.post(
            self.fake.bot_url,
            json=self.fake.robot_body(user, words, msg_id),
            headers=self.fake.robot_headers(self.last_ms),
        ) as response:
            return response.status

    def button(self, user: str, label: str) -> dict[str, str]:
        """The newest button with this label on the user's phone."""
        for message in reversed(self.inbox(user)):
            for button in message.buttons:
                if button.get("label") == label and not button.get("done"):
                    return button
        raise AssertionError(f"{user} has no button {label!r}: {self.texts(user)}")

    async def press(self, user: str, label: str, timeout: float = 15) -> int:
        """Press the newest button with this label, once it has reached the phone."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                button = self.button(user, label)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        if isinstance(self.fake, FakeWeCom):
            return await self.fake.click(self.http, user, button["key"], button["task_id"])
        if "out_track_id" in button:  # an interactive card: the press is a card callback
            await self.fake.press_card(user, button["key"], button["out_track_id"])
            return 200
        return await self.say(user, button["key"])

    async def wait_for(self, user: str, words: str, timeout: float = 15) -> Delivered:
        """The first message to ``user`` containing ``words``, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.inbox(user):
                if words in message.text or words in message.title:
                    return message
            assert time.monotonic() < deadline, f"{user} never got {words!r}:\n{self.texts(user)}"
            await asyncio.sleep(0.05)

    async def wait_for_buttons(
        self, user: str, title: str, labels: list[str], timeout: float = 15
    ) -> Delivered:
        """The newest card to ``user`` whose title holds ``title``, once its buttons read
        ``labels`` (a closed card: its buttons give way to the outcome, greyed out)."""
        deadline = time.monotonic() + timeout
        while True:
            cards = [m for m in self.inbox(user) if title in m.title and m.buttons]
            newest = cards[-1].buttons if cards else []
            if [b["label"] for b in newest] == labels and all(b.get("done") for b in newest):
                return cards[-1]
            shown = [[b["label"] for b in m.buttons] for m in cards]
            assert time.monotonic() < deadline, f"{user}: {title!r} cards read {shown}"
            await asyncio.sleep(0.05)

    async def settled(self, timeout: float = 20) -> None:
        """Until every outbox row is sent (or given up on) and no event is waiting."""
        deadline = time.monotonic() + timeout
        while True:
            async with self.factory() as session:
                states = list((await session.execute(select(OutboxMessage.state))).scalars())
            if all(s in (OutboxState.SENT, OutboxState.DEAD) for s in states):
                await asyncio.sleep(0.2)  # an event acknowledged just now may still be handled
                async with self.factory() as session:
                    again = list((await session.execute(select(OutboxMessage.state))).scalars())
                if len(again) == len(states):
                    return
            assert time.monotonic() < deadline, states
            await asyncio.sleep(0.05)


PAGE_SECRET = "a-test-secret-that-signs-page-sessions-0123456789"


@contextlib.asynccontextmanager
async def phones(
    platform: str,
    database_url: str,
    *,
    pages: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
    **config: str,
) -> AsyncIterator[Phones]:
    """The bot with only ``platform`` configured, on ``database_url`` (already migrated and
    loaded), on ``clock``, with extra ``SUIJI_…`` overrides; with ``pages``, the findings page
    too, its login through the fake platform."""
    keys = new_secrets()
    fake: FakeWeCom | FakeDingTalk
    if platform == "wecom":
        fake = FakeWeCom(
            keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
        )
    else:
        fake = FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    server = TestServer(fake.app())
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    environ = bot_environ(
        keys,
        database_url,
        base if platform == "wecom" else "",
        base if platform == "dingtalk" else "",
    )
    port = free_port() if pages else None
    if port is not None:
        environ |= {
            "SUIJI_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SUIJI_SERVER__SESSION_SECRET": PAGE_SECRET,
        }
        if isinstance(fake, FakeWeCom):
            environ["SUIJI_WECOM__OAUTH_BASE"] = base
        else:
            environ |= {
                "SUIJI_DINGTALK__OAPI_BASE": base,
                "SUIJI_DINGTALK__CORP_ID": fake.corp_id,
                "SUIJI_DINGTALK__JSAPI_URL": f"{base}/fake/jsapi.js",
            }
    settings = load_settings(environ={**environ, **config})
    if isinstance(fake, FakeDingTalk):
        fake.card_template_id = settings.dingtalk.card_template_id
    bot = TestServer(create_app(settings, clock=clock), port=port)
    await bot.start_server()
    stream = settings.dingtalk.enabled and settings.dingtalk.mode == "stream"
    deadline = time.monotonic() + 20
    while stream and not getattr(fake, "sockets", None):  # the SDK dials the fake gateway
        assert time.monotonic() < deadline, "the stream client never connected"
        await asyncio.sleep(0.05)
    fake.bot_url = str(
        bot.make_url("/wecom/callback" if platform == "wecom" else "/dingtalk/callback")
    )
    try:
        async with aiohttp.ClientSession() as http:
            yield Phones(platform, bot, fake, http, stream=stream, fake_base=base)
    finally:
        await bot.close()
        await server.close()
