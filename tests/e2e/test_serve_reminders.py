"""Deadline reminders from two real ``suiji serve`` processes on one server database (issue 16):
each process ticks every second on a drill clock (``--clock``), both race for the same
reminders, and the fake WeCom receives every digest exactly once — who is due being read
beforehand from the dry run (``deadlines.preview``). Before the checks start (one reminder per
team leader) and, restarted, after the National Day holidays (the catch-up digests, escalated
to the unit's leaders).

On SQLite the database is one file with one writer: two processes on it prove nothing the
in-process test in test_deadlines does not, so it is skipped there."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy import text as sql

from bot.base.config import load_settings
from bot.base.texts import text
from bot.platforms import fakes
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.workflows import deadlines
from bot.workflows.step import Policy, policy_of
from storage.models import Deadline, DeadlineState, Person
from tests.e2e.test_deadlines import at, clock, draw
from tests.e2e.test_findings import Factory
from tests.helpers import bot_environ, load_sample, serving

pytestmark = pytest.mark.db
WAIT = 60.0  # seconds; only bounds a test whose reminders never come
QUIET = 3.0  # seconds of both processes ticking (every second) with nothing more arriving
DIGEST = text("deadlines.digest_title")


async def expected(factory: Factory, policy: Policy, when: str) -> Counter[str]:
    """Who the dry run says is due a digest at ``when``: one each, by WeCom account."""
    planned = await deadlines.preview(factory, policy, at(when))
    names = [  # the assignments' own reminders are cards, not digests
        p["person"]
        for p in planned
        if p["person"] and any(i["kind"] != deadlines.ANSWER for i in p["items"])
    ]
    async with factory() as session:
        rows = await session.execute(
            select(Person.name, Person.wecom_userid).where(Person.name.in_(names))
        )
        accounts = {name: account for name, account in rows}
    return Counter(accounts[name] for name in names)


async def until_waiting(factory: Factory, count: int) -> None:
    """Until ``count`` connections of the database wait for a row lock."""
    async with factory() as session:
        if session.bind.dialect.name == "postgresql":
            query = (
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        else:
            query = (
                "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
            )
        deadline = time.monotonic() + WAIT
        while (found := (await session.execute(sql(query))).scalar_one()) < count:
            assert time.monotonic() < deadline, f"{found} of {count} ticks wait for the lock"
            await asyncio.sleep(0.1)
            await session.rollback()  # a fresh look each time


def digests(fake: FakeWeCom) -> Counter[str]:
    return Counter(m.user for m in fake.delivered if m.title == DIGEST)


async def test_two_serve_processes_on_one_database_send_every_reminder_once(
    database_url: str, factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("two processes on one SQLite file take turns at its one write lock")
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    await load_sample(factory, clock("2026-09-01 10:00"))
    keys = new_secrets()
    fake = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    wecom = TestServer(fake.app())
    await wecom.start_server()
    environ = bot_environ(keys, database_url, str(wecom.make_url("")).rstrip("/"))
    environ["SUIJI_REMINDERS__TICK_SECONDS"] = "1"
    policy = policy_of(load_settings(environ=environ))
    await draw(factory, policy, "2026-09-21", "2026-09-25")
    try:
        seen: Counter[str] = Counter()
        # Three working days before the start: each team leader; then, restarted after the
        # holidays, one catch-up digest each for the leaders and the unit's leaders.
        for when in ("2026-09-17 09:00", "2026-10-12 10:00"):
            due = await expected(factory, policy, when)
            assert due and set(due.values()) == {1}
            async with contextlib.AsyncExitStack() as stack:
                # The open deadlines held locked while both processes start: each one's tick
                # reads them, finds them due and waits to claim them; let go, they race.
                async with factory() as held, held.begin():
                    await held.execute(
                        select(Deadline.id)
                        .where(Deadline.state == DeadlineState.OPEN)
                        .with_for_update()
                    )
                    await asyncio.gather(
                        *(
                            stack.enter_async_context(
                                serving(environ, log, "--clock", when, stop=signal.SIGTERM)
                            )
                            for log in (tmp_path / f"serve-{n}-{when[:10]}.log" for n in "ab")
                        )
                    )
                    await until_waiting(factory, 2)
                deadline = time.monotonic() + WAIT
                while digests(fake) - seen != due:
                    got = digests(fake) - seen
                    assert all(got[k] <= due[k] for k in got), (got, due)
                    assert time.monotonic() < deadline, (got, due)
                    await asyncio.sleep(0.1)
                quiet_until = time.monotonic() + QUIET  # both go on ticking: nothing more
                while time.monotonic() < quiet_until:
                    assert digests(fake) - seen == due
                    await asyncio.sleep(0.1)
            seen = digests(fake)
        logs = [p.read_text("utf-8") for p in sorted(tmp_path.glob("serve-*.log"))]
        assert len(logs) == 4 and not any("Traceback" in log for log in logs)
        assert all("演练" in log for log in logs)
    finally:
        await wecom.close()
