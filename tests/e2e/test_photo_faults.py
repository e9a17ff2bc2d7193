"""Evidence photos whose download fails, end to end (issue 14 §6).

An officer at the 证据照片 question sends a picture through the fake WeCom or DingTalk; the
platform's download (WeCom ``media/get``, DingTalk ``messageFiles/download``) then fails with
a fault that may pass. The bot runs on a clock the test moves, and the test runs the photo
fetcher's passes itself (its scheduled job paused), so the backoff is checked against that
clock, never waited for: each failure is retried later, twice as late each time, the officer
hears nothing meanwhile, and only after the last attempt is told, once, to send it again. A
picture that fails once and then comes is kept, and the failure never mentioned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.platforms import fakes
from bot.server.app import SCHEDULER
from bot.server.outbox import backoff
from bot.server.photos import MAX_ATTEMPTS
from storage.models import FindingPhoto, PhotoState
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_assignments import team
from tests.e2e.test_findings import (
    JPEG,
    _after,
    _open_wages,
    finding_of,
    reply,
    send_picture,
    started,
)
from tests.e2e.test_outbox_faults import SECOND
from tests.helpers import load_sample

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]

UNAVAILABLE = text("filling.photo_unavailable")
# Faults that may pass by themselves, as each platform gives them: WeCom's "system busy"
# (errcode -1, a JSON answer where the file should be) and a 5xx; DingTalk's throttling and a
# 5xx.
FAULTS = {"wecom": ("-1", "500"), "dingtalk": ("qps", "500")}
CALL = {"wecom": "media/get", "dingtalk": "messageFiles/download"}


class Clock:
    """The bot's clock: the wall clock until the test stops it, then still until moved."""

    def __init__(self) -> None:
        self.now: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.now or utc_now()

    def advance(self, delta: dt.timedelta) -> None:
        self.now = self() + delta


@dataclasses.dataclass
class Rig:
    p: Phones
    clock: Clock
    officer: str
    tmp_path: Path

    @property
    def calls(self) -> int:
        """How many times the bot asked the platform for a picture."""
        return self.p.fake.calls[CALL[self.p.platform]]

    async def fetch(self) -> None:
        """One pass of the photo fetcher, as its scheduled job runs it."""
        job = self.p.bot.app[SCHEDULER].get_job("fetch-photos")
        assert job is not None
        await job.func()

    async def photo(self) -> FindingPhoto:
        async with self.p.factory() as session:
            return (await session.execute(select(FindingPhoto))).scalar_one()

    async def send(self, data: bytes) -> int:
        """The officer sends a picture; once the bot has said it is being kept, how many
        messages the officer has."""
        before = len(self.p.inbox(self.officer))
        await send_picture(self.p, self.officer, data)
        await _after(self.p, self.officer, before, "收到第 1 张")
        await self.p.settled()
        return len(self.p.inbox(self.officer))


@pytest.fixture(params=["wecom", "dingtalk"])
async def rig(
    request: Any,
    factory: Factory,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Rig]:
    """An officer of a started campaign at the wages form's photo question, on a bot whose
    clock then stands still until the test moves it (a DingTalk robot callback's sign is good
    for an hour around it: the test moves it by minutes)."""
    await load_sample(factory, utc_now)
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)  # answers at machine speed
    clock = Clock()
    config = {
        "SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200",
        "SUIJI_FINDINGS__FILES": str(tmp_path / "files"),
    }
    async with phones(request.param, database_url, clock=clock, **config) as p:
        job = p.bot.app[SCHEDULER].get_job("fetch-photos")
        assert job is not None
        job.pause()  # the test runs the passes, on its own clock
        campaign_id = await started(p)
        _, members = await team(p, campaign_id, 1)
        officer = await p.account(members[0].person_id)
        await _open_wages(p, officer, members[0].id)
        for answer in ("12", "是", "1", "是", "是", "否"):
            shown = await reply(p, officer, answer)
        assert "证据照片" in shown.text
        clock.now = utc_now()
        yield Rig(p, clock, officer, tmp_path)


async def test_a_photo_that_cannot_be_had_is_retried_and_the_officer_told_once_at_the_end(
    rig: Rig,
) -> None:
    p, clock = rig.p, rig.clock
    faults = FAULTS[rig.p.platform]
    p.fake.media_faults.extend(faults[n % len(faults)] for n in range(MAX_ATTEMPTS))
    told = await rig.send(JPEG)
    assert rig.calls == 0  # never fetched inside the callback
    for attempt in range(1, MAX_ATTEMPTS):
        tried_at = clock()
        await rig.fetch()
        photo = await rig.photo()
        assert (photo.state, photo.attempts, rig.calls) == (PhotoState.PENDING, attempt, attempt)
        assert photo.last_error
        # Backoff: the next try twice as late as the one before, and not before then.
        assert photo.next_attempt_at == tried_at + backoff(attempt)
        clock.now = photo.next_attempt_at - SECOND
        await rig.fetch()
        assert rig.calls == attempt
        await p.settled()
        assert len(p.inbox(rig.officer)) == told, p.texts(rig.officer)  # nothing said yet
        clock.now = photo.next_attempt_at
    await rig.fetch()
    photo = await rig.photo()
    assert (photo.state, photo.attempts) == (PhotoState.FAILED, MAX_ATTEMPTS)
    assert rig.calls == MAX_ATTEMPTS and not p.fake.media_faults
    await p.wait_for(rig.officer, UNAVAILABLE)
    # Given up: no pass tries it again, and the officer is told once.
    clock.advance(backoff(MAX_ATTEMPTS) * 10)
    await rig.fetch()
    await p.settled()
    assert rig.calls == MAX_ATTEMPTS
    later = [m.text for m in p.inbox(rig.officer)[told:]]
    assert later == [UNAVAILABLE]
    assert "evidence" not in (await finding_of(p)).draft["answers"]
    assert not list((rig.tmp_path / "files").rglob("*"))  # nothing kept


async def test_a_photo_that_fails_once_is_kept_and_the_failure_never_mentioned(
    rig: Rig,
) -> None:
    p, clock = rig.p, rig.clock
    p.fake.media_faults.append(FAULTS[rig.p.platform][1])
    told = await rig.send(JPEG)
    await rig.fetch()
    photo = await rig.photo()
    assert (photo.state, photo.attempts) == (PhotoState.PENDING, 1)
    clock.now = photo.next_attempt_at
    await rig.fetch()
    photo = await rig.photo()
    digest = hashlib.sha256(JPEG).hexdigest()
    assert (photo.state, photo.sha256, rig.calls) == (PhotoState.STORED, digest, 2)
    assert (await finding_of(p)).draft["answers"]["evidence"] == [digest]
    assert (rig.tmp_path / "files" / digest[:2] / digest[2:4] / digest).read_bytes() == JPEG
    await p.settled()
    assert len(p.inbox(rig.officer)) == told, p.texts(rig.officer)
    # The officer goes on as if nothing had happened.
    shown = await reply(p, rig.officer, "完成")
    assert "检查日期" in shown.text
