"""Choice questions too long for buttons, end to end through the fake WeCom: a multiple choice
and the ten result categories come as vote cards (the question's words after each), the
officer ticks and submits, and the answers land in the draft; ticking nothing, a forged option
id, two options on a single choice and an older question's card are each refused with a reason
and the question asked again. On DingTalk the same questions are typed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.forms import catalog
from bot.platforms import fakes
from bot.platforms.errors import SendFailed
from bot.platforms.fakes import Delivered, FakeWeCom
from bot.platforms.messages import Choice, Outgoing, Receipt
from handlers import findings as say
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_assignments import team
from tests.e2e.test_findings import finding_of, reply, started
from tests.e2e.test_outbox_faults import serving_fakes
from tests.helpers import load_sample

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
WAGES = catalog.find("RS-JC-003")
assert WAGES is not None
MEASURES = WAGES.question("migrant_measures")
CATEGORIES = WAGES.question("result_category")


async def on(platform: str, factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    # Many answers in a few seconds: lift the per-person pacing a person's typing never meets.
    pace = {"SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200"}
    async with phones(platform, database_url, **pace) as built:
        yield built


@pytest.fixture
async def wecom(
    factory: Factory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Phones]:
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    async for built in on("wecom", factory, database_url):
        yield built


@pytest.fixture
async def dingtalk(factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    async for built in on("dingtalk", factory, database_url):
        yield built


async def to_migrant_measures(p: Phones) -> tuple[str, Delivered]:
    """An officer of team 1 opens the wages form and answers up to the multiple choice on
    migrant workers' pay (a construction employer): (the officer, the question's words)."""
    campaign_id = await started(p)
    _, members = await team(p, campaign_id, 1)
    officer = await p.account(members[0].person_id)
    for words in (f"填写 任务{members[0].id}", "1", "1", "12", "是", "按月支付", "是", "是"):
        await reply(p, officer, words)
    return officer, await settled(p, officer, lambda: p.say(officer, "是"))


async def settled(p: Phones, user: str, act: Any) -> Delivered:
    """Do ``act``; the bot's answer once it has all come: a vote card's question follows it in
    words, so the answer is the newest message once that is not a vote card."""
    before = len(p.inbox(user))
    await act()
    deadline = time.monotonic() + 15
    while not p.inbox(user)[before:] or p.inbox(user)[-1].choice is not None:
        assert time.monotonic() < deadline, f"no answer:\n{p.texts(user)}"
        await asyncio.sleep(0.05)
    return p.inbox(user)[-1]


def vote_cards(p: Phones, user: str) -> list[Delivered]:
    return [m for m in p.inbox(user) if m.choice is not None]


async def tick(p: Phones, user: str, card: Delivered, ids: list[str]) -> Delivered:
    """Tick ``ids`` on ``card`` and submit; the bot's answer."""
    assert isinstance(p.fake, FakeWeCom)
    fake = p.fake
    return await settled(p, user, lambda: fake.vote(p.http, user, card, ids))


def option_texts(card: Delivered) -> list[str]:
    assert card.choice is not None
    return [o["text"] for o in card.choice["options"]]


def ticked_ids(card: Delivered) -> list[str]:
    assert card.choice is not None
    return [o["id"] for o in card.choice["options"] if o["is_checked"]]


async def test_an_officer_answers_long_and_multiple_choices_on_vote_cards(wecom: Phones) -> None:
    p = wecom
    officer, shown = await to_migrant_measures(p)
    [first] = vote_cards(p, officer)
    assert first.choice is not None and first.choice["mode"] == 1  # several may be ticked
    assert option_texts(first) == list(MEASURES.options) and ticked_ids(first) == []
    asked = say.card_question(first.choice["question_key"])
    assert asked is not None and asked.question == "migrant_measures"
    assert first.choice["submit"]["key"] == first.choice["question_key"]
    assert f"第{asked.number}题" in first.title and MEASURES.text in first.title
    assert "回复序号" in first.text  # typing works too, the card says
    # The question's words come after the card: help, numbered options, how to type.
    assert shown.kind == "markdown" and MEASURES.help in shown.text
    assert "1. 开设农民工工资专用账户" in shown.text

    shown = await tick(p, officer, first, [])  # nothing ticked on a required question
    assert text("forms.none_ticked") in shown.text and MEASURES.text in shown.text
    shown = await tick(p, officer, vote_cards(p, officer)[-1], ["1", "99"])  # a forged id
    assert text("forms.card_option") in shown.text and MEASURES.text in shown.text
    shown = await tick(p, officer, vote_cards(p, officer)[-1], ["3", "1"])
    assert "证据照片" in shown.text

    # The first card, submitted now, answers nothing: its question is no longer the one asked.
    shown = await tick(p, officer, first, ["2"])
    assert text("filling.stale_card", number=asked.number) in shown.text
    assert "证据照片" in shown.text
    for words in ("跳过", "今天"):  # the photos; the check date
        await reply(p, officer, words)
    shown = await settled(p, officer, lambda: p.say(officer, "1"))
    assert CATEGORIES.text in shown.text and "10. 已注销、被吊销、被撤销或迁出" in shown.text
    category = vote_cards(p, officer)[-1]
    assert category.choice is not None and category.choice["mode"] == 0  # one of ten
    assert option_texts(category) == list(CATEGORIES.options)
    shown = await tick(p, officer, category, ["1", "2"])
    assert text("forms.one_option") in shown.text
    shown = await tick(p, officer, vote_cards(p, officer)[-1], ["2"])
    assert "后续处置" in shown.text and shown.buttons  # five measures fit buttons

    # Asked again by 「修改」, the card comes with the answer given ticked; typing still works.
    edit = f"修改 {asked.number}"
    shown = await settled(p, officer, lambda: p.say(officer, edit))
    assert "原来的答案：开设农民工工资专用账户、总包代发工资" in shown.text
    assert ticked_ids(vote_cards(p, officer)[-1]) == ["1", "3"]
    await reply(p, officer, "2，4")

    found = await finding_of(p)
    answers = found.draft["answers"]
    assert answers["migrant_measures"] == ["实行实名制管理", "存储工资保证金或提供保函"]
    assert answers["result_category"] == "发现问题已责令改正"

    # Once the form is put away, a card submitted is a stray form: said so, nothing changed.
    await reply(p, officer, "暂停")
    shown = await tick(p, officer, category, ["1"])
    assert shown.text == text("chat.form_not_expected")
    assert (await finding_of(p)).draft["answers"] == answers


async def test_on_dingtalk_the_same_choices_are_typed(dingtalk: Phones) -> None:
    officer, shown = await to_migrant_measures(dingtalk)
    assert shown.kind == "markdown" and "6. 以上均未落实" in shown.text
    assert shown.choice is None and not shown.buttons
    shown = await reply(dingtalk, officer, "1 3")
    assert "证据照片" in shown.text
    answers = (await finding_of(dingtalk)).draft["answers"]
    assert answers["migrant_measures"] == ["开设农民工工资专用账户", "总包代发工资"]


async def test_a_vote_card_and_its_words_go_once_even_when_the_words_fail() -> None:
    """The card first, then the question's words: a retry after the words failed finds the
    card sent (WeCom refuses its task id again, 42014) and sends only the words."""
    choice = Choice("form:41:3:q", "第3题：哪些？", "可勾选多项", ("甲", "乙"), multiple=True)
    question = Outgoing("choice", "**第3题** 哪些？", title="表", repeatable=True, choice=choice)
    async with serving_fakes() as rig:
        client, fake = rig.wecom_client, rig.wecom
        await client.token()
        fake.api_per_minute = 1  # the card goes; the words meet 45009
        with pytest.raises(SendFailed) as failed:
            await client.send("lisi", question, "m5")
        assert failed.value.retry
        fake.api_per_minute = None
        assert await client.send("lisi", question, "m5") == Receipt()
        assert fake.calls["send"] == 4  # card, words (refused), card (42014), words
        shown = fake.messages_for("lisi")
        assert [(m.kind, m.text) for m in shown] == [
            ("vote", "可勾选多项"),
            ("markdown", "**第3题** 哪些？"),
        ]
