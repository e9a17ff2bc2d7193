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
import datetime as dt
import multiprocessing
import socket
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
from tests.helpers import bot_environ, load_sample


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


async def _load(port: int, keys: dict[str, str], people: int, messages: int) -> list[float]:
    fake = FakeWeCom(keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1)
    url = f"http://127.0.0.1:{port}/wecom/callback"
    users = ["zhangkai", "miaomingliang", "miaojing", "hanwei", "songyulan"]
    latencies: list[float] = []
    msg_ids = iter(range(10**9, 2 * 10**9))

    async def person(n: int, session: aiohttp.ClientSession) -> None:
        for _ in range(messages):
            inner = fake.text_xml(
                f"{users[n % len(users)]}", "帮助", next(msg_ids), int(time.time())
            )
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
            time.sleep(3)  # let the sender catch up a little

            async def check() -> dict[str, Any]:
                address = f"http://127.0.0.1:{port}/bench/delivered"
                async with aiohttp.ClientSession() as session, session.get(address) as r:
                    return dict(await r.json())

            delivered = asyncio.run(check())
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
    parser.add_argument("--url", default=None, help="database URL (default: temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        ceiling = measure("bare", url, args.people, args.messages)
        bot = measure("bot", url, args.people, args.messages)
    backend = url.split(":", 1)[0]
    print(f"{args.people} concurrent senders x {args.messages} callbacks")
    for name, figures in (("ceiling (verify+decrypt)", ceiling), (f"suiji ({backend})", bot)):
        print(f"{name:<26} {figures['acks_per_s']:>8.0f} acks/s  p50 {figures['p50_ms']:6.1f} ms"
              f"  p99 {figures['p99_ms']:6.1f} ms")  # fmt: skip
    print(f"throughput vs ceiling: {bot['acks_per_s'] / ceiling['acks_per_s']:.0%}")
    print(f"replies delivered so far: {bot.get('delivered')}, dropped by the per-person limit: "
          f"{bot.get('dropped')}")  # fmt: skip


if __name__ == "__main__":
    main()
