"""Benchmark: concurrent people posting encrypted WeCom callbacks to the bot.

Run: ``python -m tests.benchmarks.bench_callbacks [--people 200] [--messages 5] [--url URL]
[--rounds N]``.
The server runs in a child process (the bot as ``suiji serve`` runs it, on a temporary SQLite
file or ``--url``, with a fake WeCom for its replies); this process plays WeCom, posting sealed
callbacks from ``--people`` concurrent senders, each posting again as soon as answered, after
one unmeasured callback each (the warm-up). The same load goes first to a bare aiohttp endpoint
that only checks the signature, decrypts and answers: the ceiling. Prints acks/s and p50/p99 ack
latency for both, and what the sender delivered; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.base.config import load_settings
from bot.cli.serve import BACKLOG, serve_logging
from bot.platforms.errors import Rejected
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.platforms.wecom import WeComCodec
from bot.server import edge
from bot.server.app import RefusalLog, create_app, settled_heap
from storage import migrate
from storage.engine import make_engine, make_session_factory
from tests.conftest import drop_everything
from tests.helpers import SAMPLE_DIR, bot_environ, free_port, load_sample

REPLY_TIMEOUT = 180.0
WARM_UP = 1  # callbacks per person before the measured ones


def settings_for(keys: dict[str, str], url: str, fake_port: int, port: int = 0) -> Any:
    """The bot's settings; with its ``port``, its findings pages too (bench_forms times
    them), served at that address and signed with the keys' session secret."""
    environ = bot_environ(keys, url, f"http://127.0.0.1:{fake_port}")
    if port:
        environ |= {
            "SUIJI_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SUIJI_SERVER__SESSION_SECRET": keys["session_secret"],
        }
    return load_settings(environ=environ)


async def fresh_database(url: str) -> None:
    """The bot's database, emptied and migrated, with the sample registries."""
    engine = make_engine(url)
    try:
        await drop_everything(engine)
        await migrate.upgrade(engine)
        await load_sample(make_session_factory(engine), lambda: dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()


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
        fake = FakeWeCom(keys["corp_id"], keys["secret"], keys["token"],
                         keys["encoding_aes_key"], 1000002)  # fmt: skip
        fake_runner = web.AppRunner(fake.app(), access_log=None)  # WeCom is elsewhere
        await fake_runner.setup()
        await web.TCPSite(fake_runner, "127.0.0.1", fake_port).start()
        serve_logging()  # as suiji serve logs, which costs too
        app = create_app(settings_for(keys, url, fake_port, port), settle_heap=True)
        app.router.add_get("/bench/delivered", lambda r: web.json_response(
            {"delivered": len(fake.delivered), "dropped": fake.dropped,
             "send_calls": fake.calls["send"]}))  # fmt: skip
    # As serve listens: through the edge's gate, with its limit and header timeout.
    await edge.start(app, "127.0.0.1", port, backlog=BACKLOG, access_log_class=RefusalLog,
                     limit=edge.connection_limit(1000), head_seconds=10)  # fmt: skip
    # The bot settles its own heap (create_app); the ceiling gets the same collector settings,
    # for a like-for-like comparison.
    with settled_heap() if kind == "bare" else contextlib.nullcontext():
        await asyncio.Event().wait()


def _child(kind: str, keys: dict[str, str], url: str, port: int, fake_port: int) -> None:
    asyncio.run(_serve(kind, keys, url, port, fake_port))


@contextlib.contextmanager
def serving(kind: str, keys: dict[str, str], url: str) -> Iterator[int]:
    """The bare endpoint ("bare") or the bot ("bot", on ``url`` as it stands) listening in a
    child process, as ``suiji serve`` runs it; its port, once it answers."""
    port, fake_port = free_port(), free_port()
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=_child, args=(kind, keys, url, port, fake_port), daemon=True)
    process.start()
    try:
        asyncio.run(_wait_ready(port))
        yield port
    finally:
        process.terminate()
        process.join()


def sample_accounts() -> list[str]:
    """Everyone in the sample with a WeCom account: replies spread over many people, so the
    per-person pacing is not what is measured."""
    with (SAMPLE_DIR / "officers.csv").open(encoding="utf-8-sig", newline="") as f:
        return [row["企业微信账号"] for row in csv.DictReader(f) if row["企业微信账号"]]


def sealer(keys: dict[str, str]) -> FakeWeCom:
    """A fake WeCom with the bot's keys, to seal callbacks with (it serves nothing)."""
    return FakeWeCom(keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1)


def sealed_post(fake: FakeWeCom, port: int, user: str, words: str, msg_id: int) -> bytes:
    """A person's text message as WeCom posts it to the bot: sealed, as raw HTTP/1.1."""
    inner = fake.text_xml(user, words, msg_id, int(time.time()))
    envelope, query = fake.sealed(inner)
    body = envelope.encode()
    head = (
        f"POST /wecom/callback?{urlencode(query)} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _requests(port: int, keys: dict[str, str], people: int, messages: int) -> list[list[bytes]]:
    """Every callback, sealed before the clock starts: each person's own, as raw HTTP/1.1."""
    fake = sealer(keys)
    users = sample_accounts()
    msg_ids = iter(range(10**9, 2 * 10**9))
    requests: list[list[bytes]] = []
    for n in range(people):
        own = []
        for _ in range(messages):
            msg_id = next(msg_ids)
            # A different question each time: WeCom's duplicate check would hide repeats of
            # one identical answer, and every reply is to be seen arriving.
            own.append(sealed_post(fake, port, users[n % len(users)], f"查询 {msg_id}", msg_id))
        requests.append(own)
    return requests


def percentiles(latencies: list[float]) -> dict[str, float]:
    """The median and the 99th percentile of latencies in seconds, in milliseconds."""
    ordered = sorted(latencies)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response on a kept-alive connection; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _load(port: int, requests: list[list[bytes]]) -> tuple[list[float], float]:
    """Each person on a kept-alive connection of their own, posting as soon as answered; the
    latencies and the seconds from the first post to the last answer.

    Plain asyncio streams and requests built beforehand, not an HTTP client library: on a
    machine of two cores the load generator shares the CPU with the server, and the cheaper it
    is, the more of the server is measured rather than the client. Every connection is open
    before the clock starts: what is measured is answering callbacks, not the TCP handshake."""
    latencies: list[float] = []
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in requests]

    async def person(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, own: list[bytes]
    ) -> None:
        for request in own:
            started = time.perf_counter()
            writer.write(request)
            status = await read_answer(reader)
            latencies.append(time.perf_counter() - started)
            assert status == 200, status

    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(person(*stream, own) for stream, own in zip(streams, requests, strict=True))
        )
    finally:
        for _, writer in streams:
            writer.close()
    return latencies, time.perf_counter() - started


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


def _wait_for_replies(port: int, replies: int) -> dict[str, Any]:
    """What the fake WeCom received, once it holds ``replies`` messages (or at the timeout)."""

    async def check() -> dict[str, Any]:
        address = f"http://127.0.0.1:{port}/bench/delivered"
        async with aiohttp.ClientSession() as session, session.get(address) as r:
            return dict(await r.json())

    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        delivered = asyncio.run(check())
        if delivered["delivered"] >= replies:
            return delivered
        if time.monotonic() > deadline:
            print(f"warning: {delivered['delivered']} of {replies} replies after {REPLY_TIMEOUT} s")
            return delivered
        time.sleep(0.25)


def measure(kind: str, url: str, people: int, messages: int) -> dict[str, Any]:
    keys = new_secrets()
    if kind == "bot":
        asyncio.run(fresh_database(url))
    with serving(kind, keys, url) as port:
        requests = _requests(port, keys, people, messages + WARM_UP)
        # Unmeasured first callbacks: connections opened, statements prepared, caches filled,
        # and their replies sent, so that the burst measured meets a warm, idle server.
        asyncio.run(_load(port, [own[:WARM_UP] for own in requests]))
        if kind == "bot":
            _wait_for_replies(port, people * WARM_UP)
        latencies, elapsed = asyncio.run(_load(port, [own[WARM_UP:] for own in requests]))
        started = time.perf_counter() - elapsed
        delivered: dict[str, Any] = {}
        if kind == "bot":
            # Then wait for every reply to reach a phone: handling and sending, not only acks.
            delivered = _wait_for_replies(port, people * (messages + WARM_UP))
            delivered["replies_done_s"] = time.perf_counter() - started
    return {"acks_per_s": len(latencies) / elapsed, **percentiles(latencies), **delivered}


def _report(people: int, messages: int, ceiling: dict[str, Any], bots: list[Any]) -> None:
    total_sent = people * (messages + WARM_UP)
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
            f" of the ceiling; {figures['delivered']}/{total_sent} replies on the phones after "
            f"{figures['replies_done_s']:.1f} s; dropped by WeCom's per-person limit: "
            f"{figures['dropped']}"
        )


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """``--url`` (repeatable) and ``--rounds``, as the benchmarks of the running bot take them."""
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        help="database URL; repeat for several (default: temporary SQLite)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure everything this many times (on a shared machine one run varies by a "
        "fifth or more)",
    )


def each_round(args: argparse.Namespace, folder: Path) -> Iterator[list[str]]:
    """The database URLs to measure on (a SQLite file in ``folder`` unless ``--url``), once a
    round, each round announced when there are several."""
    urls = args.url or [f"sqlite:///{folder / 'bench.db'}"]
    for round_number in range(1, args.rounds + 1):
        if args.rounds > 1:
            print(f"-- round {round_number} of {args.rounds}")
        yield urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    add_database_options(parser)
    args = parser.parse_args()
    print(
        f"{args.people} concurrent senders x {args.messages} callbacks = "
        f"{args.people * args.messages}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for urls in each_round(args, Path(tmp)):
            ceiling = measure("bare", urls[0], args.people, args.messages)
            bots = [(url, measure("bot", url, args.people, args.messages)) for url in urls]
            _report(args.people, args.messages, ceiling, bots)


if __name__ == "__main__":
    main()
