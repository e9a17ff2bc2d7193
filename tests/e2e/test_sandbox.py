"""The sandbox as a newcomer uses it: pick a person, send 「帮助」, read the answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.config import load_settings
from bot.sandbox.fakes import new_secrets
from bot.sandbox.page import sandbox_app
from bot.texts import render
from storage import migrate
from storage.engine import make_engine, make_session_factory
from tests.e2e.test_bot import utc_now
from tests.helpers import free_port, load_sample


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    """What `suiji demo` builds, on a free port: its config, the sample, the one-process app."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "suiji.toml"
    config.write_text(
        render("config/demo.toml.j2", keys=new_secrets(), base=base, port=port), "utf-8"
    )
    settings = load_settings(str(config), environ={})
    engine = make_engine(settings.database.url)
    await migrate.upgrade(engine)
    await load_sample(make_session_factory(engine), utc_now)
    await engine.dispose()
    app, _, _ = sandbox_app(settings, base)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    async with aiohttp.ClientSession(base_url=base) as http:
        yield server, http
    await server.close()


async def test_newcomer_picks_an_officer_sends_help_and_gets_the_answer(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    async with http.get("/sandbox/") as response:
        assert response.status == 200 and "suiji 沙箱" in await response.text()
    async with http.get("/sandbox/api/people") as response:
        people = await response.json()
    officer = next(p for p in people if p["officer"] and not p["leader"])
    async with http.post("/sandbox/api/say", json={"user": officer["user"], "text": "帮助"}) as r:
        assert (await r.json())["status"] == 200
    deadline = time.monotonic() + 10
    while True:
        async with http.get("/sandbox/api/messages", params={"user": officer["user"]}) as r:
            chat = await r.json()
        if len(chat) == 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert [m["from"] for m in chat] == ["me", "bot"]
    assert chat[0]["text"] == "帮助"
    assert f"{officer['name']}您好" in chat[1]["text"] and "无法参加" in chat[1]["text"]


async def test_sandbox_api_refuses_bad_requests(
    sandbox: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    _, http = sandbox
    async with http.post("/sandbox/api/say", data=b"not json") as r:
        assert r.status == 400
    async with http.post("/sandbox/api/say", json={"user": "zhangkai", "text": "  "}) as r:
        assert r.status == 400
