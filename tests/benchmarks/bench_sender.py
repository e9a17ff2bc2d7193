"""Benchmark: the outbox sender against WeCom's rate limit.

Run: ``python -m tests.benchmarks.bench_sender [--limit 600] [--seconds 65]``.
A fake WeCom allows ``--limit`` message/send calls a minute (more get 45009); the sender is
configured with the same per-minute budget and given more messages than that, to many people.
Prints how many it sent in the first minute (aim: at least 90% of the limit) and how many
45009s it met (aim: none). Takes a little over a minute; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.base.config import OutboxSettings
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.platforms.messages import Outgoing
from bot.platforms.wecom import WeComClient
from bot.server.outbox import Sender
from storage import chat as db
from storage import migrate
from storage.engine import make_engine, make_session_factory, unit_of_work


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def measure(limit: int, seconds: float, folder: Path) -> None:
    keys = new_secrets()
    fake = FakeWeCom(keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1)
    fake.api_per_minute = limit
    server = TestServer(fake.app())
    await server.start_server()
    engine = make_engine(f"sqlite:///{folder / 'sender.db'}")
    await migrate.upgrade(engine)
    factory = make_session_factory(engine)
    people = 100
    async with unit_of_work(factory) as session:
        for n in range(limit * 2):
            body = Outgoing.plain(f"提醒 {n}").to_json()
            db.enqueue(session, "wecom", f"user{n % people}", body, now())
    async with ClientSession() as http:
        client = WeComClient(
            http, str(server.make_url("")).rstrip("/"), keys["corp_id"], keys["secret"], 1
        )
        settings = OutboxSettings(max_attempts=8, per_recipient_per_minute=20, per_minute=limit)
        sender = Sender(factory, {"wecom": client}, settings, now)
        stop = asyncio.Event()
        started = time.monotonic()
        task = asyncio.create_task(sender.run(stop, idle=0.05))
        first_minute = None
        while time.monotonic() - started < seconds:
            await asyncio.sleep(0.5)
            if first_minute is None and time.monotonic() - started >= 60:
                first_minute = len(fake.delivered)
        stop.set()
        await task
    await server.close()
    await engine.dispose()
    sent = first_minute if first_minute is not None else len(fake.delivered)
    print(f"limit {limit}/min: sent {sent} in the first minute ({sent / limit:.0%} of the limit), "
          f"{len(fake.delivered)} in {seconds:.0f} s, 45009 met: {fake.rate_limited}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=65)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(args.limit, args.seconds, Path(tmp)))


if __name__ == "__main__":
    main()
