"""Benchmark: concurrent people posting encrypted WeCom callbacks to the bot.

Run: ``python -m tests.benchmarks.bench_callbacks [--people 200] [--messages 5] [--url URL]``.
The server runs in a child process (the bot as ``suiji serve`` runs it, on a temporary SQLite
file or ``--url``, with a fake WeCom for its replies); this process plays WeCom, posting sealed
callbacks from ``--people`` concurrent senders. The same load then goes to a bare aiohttp
endpoint that only checks the signature, decrypts and answers: the ceiling. Prints acks/s and
p50/p99 ack latency for both, and what the sender delivered; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.config import load_settings
from bot.platforms.errors import Rejected
from bot.platforms.wecom import WeComCodec
from bot.sandbox.fakes import FakeWeCom, new_secrets
from storage import migrate
from storage.engine import make_engine, make_session_factory
from tests.conftest import drop_everything
from tests.helpers import SAMPLE_DIR, bot_environ, free_port, load_sample

REPLY_TIMEOUT = 180.0


def _settings(keys: dict[str, str], url: str, fake_port: int) -> Any:
    return load_settings(environ=bot_environ(keys, url, f"http://127.0.0.1:{fake_port}"))


async def _serve(kind: str, keys: dict[str, str], url: str, port: int, fake_port: int) -> None:
    if kind == "bare":
        codec = WeComCodec(keys["token"], keys["encoding_aes_key"], keys["corp_id"])

        async def bare(request: web.Request) -> web.Response:
            q = request.query
            try:
                codec.open(
                    q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", ""),
                    await request.read(),
                )  # fmt: skip
            except Rejected as refused:
                return web.Response(status=refused.status)
            return web.Response(text="")

        app = web.Application()
        app.router.add_post("/wecom/callback", bare)
    else:
        engine = make_engine(url)
        await drop_everything(engine)
        await migrate.upgrade(engine)
        await load_sample(make_session_factory(engine), lambda: dt.datetime.now(dt.UTC))
        await engine.dispose()
        fake = FakeWeCom(keys["corp_id"], keys["secret"], keys["token"],
                         keys["encoding_aes_key"], 1000002)  # fmt: skip
        fake_runner = web.AppRunner(fake.app())
        await fake_runner.setup()
        await web.TCPSite(fake_runner, "127.0.0.1", fake_port).start()
        app = create_app(_settings(keys, url, fake_port))
        app.router.add_get("/bench/delivered", lambda r: web.json_response(
            {"delivered": len(fake.delivered), "dropped": fake.dropped,
             "send_calls": fake.calls["send"]}))  # fmt: skip
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def _child(kind: str, keys: dict[str, str], url: str, port: int, fake_port: int) -> None:
    asyncio.run(_serve(kind, keys, url, port, fake_port))


def sample_accounts() -> list[str]:
    """Everyone in the sample with a WeCom account: replies spread over many people, so the
    per-person pacing is not what is measured."""
    with (SAMPLE_DIR / "officers.csv").open(encoding="utf-8-sig", newline="") as f:
        return [row["企业微信账号"] for row in csv.DictReader(f) if row["企业微信账号"]]


async def _load(port: int, keys: dict[str, str], people: int, messages: int) -> list[float]:
    fake = FakeWeCom(keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1)
    url = f"http://127.0.0.1:{port}/wecom/callback"
    users = sample_accounts()
    latencies: list[float] = []
    msg_ids = iter(range(10**9, 2 * 10**9))

    async def person(n: int, session: aiohttp.ClientSession) -> None:
        for _ in range(messages):
            msg_id = next(msg_ids)
            # A different question each time: WeCom's duplicate check would hide repeats of
            # one identical answer, and every reply is to be seen arriving.
            inner = fake.text_xml(users[n % len(users)], f"查询 {msg_id}", msg_id, int(time.time()))
            envelope, query = fake.sealed(inner)
            started = time.perf_counter()
            async with session.post(url, params=query, data=envelope) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=people)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(person(n, session) for n in range(people)))
    return latencies


async def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(f"http://127.0.0.1:{port}/wecom/callback"):
                    return  # any answer: it is listening
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


def measure(kind: str, url: str, people: int, messages: int) -> dict[str, Any]:
    keys, port, fake_port = new_secrets(), free_port(), free_port()
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=_child, args=(kind, keys, url, port, fake_port), daemon=True)
    process.start()
    try:
        asyncio.run(_wait_ready(port))
        started = time.perf_counter()
        latencies = asyncio.run(_load(port, keys, people, messages))
        elapsed = time.perf_counter() - started
        delivered: dict[str, Any] = {}
        if kind == "bot":
            # Then wait for every reply to reach a phone: handling and sending, not only acks.
            async def check() -> dict[str, Any]:
                address = f"http://127.0.0.1:{port}/bench/delivered"
                async with aiohttp.ClientSession() as session, session.get(address) as r:
                    return dict(await r.json())

            deadline = time.monotonic() + REPLY_TIMEOUT
            while True:
                delivered = asyncio.run(check())
                if delivered["delivered"] >= len(latencies) or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
            delivered["replies_done_s"] = time.perf_counter() - started
    finally:
        process.terminate()
        process.join()
    ordered = sorted(latencies)
    return {
        "acks_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        **delivered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        help="database URL; repeat for several (default: temporary SQLite)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = args.url or [f"sqlite:///{Path(tmp) / 'bench.db'}"]
        ceiling = measure("bare", urls[0], args.people, args.messages)
        bots = [(url, measure("bot", url, args.people, args.messages)) for url in urls]
    total = args.people * args.messages
    print(f"{args.people} concurrent senders x {args.messages} callbacks = {total}")
    rows = [("ceiling (verify+decrypt)", ceiling)]
    rows += [(f"suiji ({url.split(':', 1)[0]})", figures) for url, figures in bots]
    for name, figures in rows:
        print(
            f"{name:<26} {figures['acks_per_s']:>8.0f} acks/s  p50 {figures['p50_ms']:6.1f} ms"
            f"  p99 {figures['p99_ms']:6.1f} ms"
        )
    for url, figures in bots:
        print(
            f"suiji ({url.split(':', 1)[0]}): {figures['acks_per_s'] / ceiling['acks_per_s']:.0%}"
            f" of the ceiling; all {figures['delivered']}/{total} replies on the phones after "
            f"{figures['replies_done_s']:.1f} s; dropped by WeCom's per-person limit: "
            f"{figures['dropped']}"
        )


if __name__ == "__main__":
    main()
