"""The listening edge of `suiji serve` against connections that never finish their request:
each must finish its request head within the header timeout, and at most so many connections
are open; past that, a new one closes the oldest that has sent no request, so /healthz and the
platforms' callbacks are still answered. Everything on 127.0.0.1, with real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.base.config import load_settings
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.server import edge
from bot.server.app import create_app
from tests.helpers import bot_environ, sqlite_database

GUARD = 30.0  # seconds: only so that a broken edge fails the test instead of hanging it
# A request line and some headers, never the blank line that ends them.
PARTIAL = b"POST /wecom/callback?msg_signature=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"


@contextlib.asynccontextmanager
async def served(
    tmp_path: Path, *, limit: int, head_seconds: int, slow: Handler | None = None
) -> AsyncIterator[tuple[str, FakeWeCom, edge.GatedSite]]:
    """The bot behind the edge on a free port (with ``slow`` at /slow); its base URL, the fake
    WeCom that calls it, and the site."""
    url = await sqlite_database(tmp_path / "bot.db")
    keys = new_secrets()
    fake = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    settings = load_settings(environ=bot_environ(keys, url, "http://127.0.0.1:9"))
    app = create_app(settings)
    if slow is not None:
        app.router.add_get("/slow", slow)
    runner, site = await edge.start(
        app, "127.0.0.1", 0, backlog=128, limit=limit, head_seconds=head_seconds
    )
    base = f"http://127.0.0.1:{site.port}"
    fake.bot_url = f"{base}/wecom/callback"
    try:
        yield base, fake, site
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def stuck_connections(base: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that each send part of a request head and then nothing more."""
    port = int(base.rsplit(":", 1)[1])
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=GUARD)
            sock.sendall(PARTIAL)
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


async def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (EOF or reset), without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


async def receive(sock: socket.socket) -> bytes:
    """What the server sends next on ``sock``, read through the loop the server runs on."""
    sock.setblocking(False)
    return await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, 4096), GUARD)


async def until_closed(sockets: list[socket.socket], what: str) -> None:
    deadline = time.monotonic() + GUARD
    while not all([await closed_by_server(sock) for sock in sockets]):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def get(base: str, path: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=GUARD)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{base}{path}") as response,
    ):
        return response.status, await response.text()


async def test_connections_that_never_finish_their_request_head_are_closed_after_the_timeout(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, limit=100, head_seconds=1) as (base, _, _site):
        port = int(base.rsplit(":", 1)[1])
        silent = socket.create_connection(("127.0.0.1", port), timeout=GUARD)  # sends nothing
        trickling = socket.create_connection(("127.0.0.1", port), timeout=GUARD)
        with stuck_connections(base, 5) as stuck:
            # One byte at a time keeps no connection open: the head must be done in time.
            deadline = time.monotonic() + GUARD
            for byte in PARTIAL * 50:
                if await closed_by_server(trickling):
                    break
                trickling.setblocking(True)
                try:
                    trickling.sendall(bytes([byte]))
                except ConnectionError:
                    break
                assert time.monotonic() < deadline, "a trickled head was never cut off"
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("a trickled head was never cut off")
            await until_closed([*stuck, silent], "stuck connections were left open")
        silent.close()
        trickling.close()
        assert await get(base, "/healthz") == (200, "ok")


async def test_a_kept_alive_connection_must_send_its_next_head_in_time_too(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, limit=100, head_seconds=1) as (base, _, _site):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=GUARD) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await receive(sock)).startswith(b"HTTP/1.1 200")
            sock.sendall(PARTIAL)  # the next request, begun and never finished
            await until_closed([sock], "a kept-alive connection's stuck head was left open")


async def test_at_the_connection_limit_healthz_and_a_callback_are_still_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="suiji.edge")
    # A header timeout far beyond the test: only the limit can make room.
    async with served(tmp_path, limit=8, head_seconds=600) as (base, fake, site):
        with stuck_connections(base, 20) as stuck:
            assert await get(base, "/healthz") == (200, "ok")
            async with aiohttp.ClientSession() as http:
                statuses = await fake.deliver(http, fake.text_xml("u", "帮助", 1, 1), tries=1)
            assert statuses == [200]
            assert site.gate.open() <= 8
            # The oldest of those that never sent a request made room; the newest still wait.
            await until_closed(stuck[:12], "the oldest stuck connections were left open")
            assert not await closed_by_server(stuck[-1])
    warnings = [r.getMessage() for r in caplog.records if r.name == "suiji.edge"]
    assert warnings and all("limit" in line for line in warnings)


async def test_a_request_in_progress_is_answered_before_its_connection_makes_room(
    tmp_path: Path,
) -> None:
    """When every open connection has sent a request, room is made by closing connections
    after their answer, never in the middle of one."""
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="done")

    async with served(tmp_path, limit=2, head_seconds=600, slow=slow) as (base, _, _site):
        port = int(base.rsplit(":", 1)[1])
        with (
            socket.create_connection(("127.0.0.1", port), timeout=GUARD) as busy,
            socket.create_connection(("127.0.0.1", port), timeout=GUARD) as idle,
        ):
            busy.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await receive(idle)).startswith(b"HTTP/1.1 200")  # kept alive, now idle
            await asyncio.sleep(0.2)  # the slow request is in its handler
            assert await get(base, "/healthz") == (200, "ok")  # a third connection, served
            release.set()
            answer = await receive(busy)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"done")
