"""`suiji serve` as a process: it answers /healthz, and SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import inspect
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

from bot.base.config import load_settings
from bot.base.texts import text
from bot.cli import serve as cli_serve
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.server import edge
from bot.server.app import (
    CLOCK,
    GC_YOUNG_THRESHOLD,
    SCHEDULER,
    RefusalLog,
    _settled_heap,
    create_app,
)
from storage import migrate
from storage.engine import make_engine
from tests.e2e.test_cli import run
from tests.helpers import (
    bot_environ,
    child_environ,
    free_port,
    sqlite_database,
    until_healthy,
)


def test_serve_answers_health_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "bureau")).exit_code == 0
    port = free_port()
    env = {**os.environ, "SUIJI_CONFIG": str(tmp_path / "bureau" / "suiji.toml")}
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert (r.status, r.read()) == (200, b"ok")
                    break
            except OSError:
                assert time.monotonic() < deadline, "suiji serve did not come up"
                time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, output
    assert "Traceback" not in output
    # Neither WeCom nor DingTalk is configured (suiji init leaves them empty): said at start,
    # with what to fill in; then a banner of its own, not aiohttp's pasted into ours.
    config = str(tmp_path / "bureau" / "suiji.toml")
    assert text("serve.no_platform", config=config) in output
    started = output.index(text("serve.no_platform", config=config))
    banner = output[started:]
    assert f"http://127.0.0.1:{port}/healthz" in banner
    assert "Running on" not in output and "=====" not in output


def test_serve_refuses_a_port_in_use_in_chinese(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "bureau")).exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port), config=tmp_path / "bureau" / "suiji.toml")
    assert result.exit_code == 1, result.output
    assert f"127.0.0.1:{port}" in result.output and "suiji serve --port" in result.output


@pytest.mark.parametrize(
    ("environ", "warned"),
    [
        ({}, ["no_platform"]),
        ({"SUIJI_WECOM__CORP_ID": "ww1"}, ["wecom"]),
        ({"SUIJI_DINGTALK__APP_KEY": "k", "SUIJI_DINGTALK__APP_SECRET": "s"}, ["dingtalk"]),
    ],
)
def test_serve_says_what_is_missing_when_no_platform_can_be_reached(
    environ: dict[str, str], warned: list[str]
) -> None:
    warnings = cli_serve.platform_warnings(load_settings(environ=environ))
    assert len(warnings) == len(warned)
    if warned == ["no_platform"]:
        assert warnings == [text("serve.no_platform", config=text("serve.no_config_file"))]
    elif warned == ["wecom"]:
        assert "缺少 agent_id、secret、token、encoding_aes_key（" in warnings[0]
    else:
        assert "缺少 robot_code（" in warnings[0]


def test_serve_says_nothing_when_a_platform_is_configured() -> None:
    keys = new_secrets()
    assert (
        cli_serve.platform_warnings(load_settings(environ=bot_environ(keys, "sqlite://", "x")))
        == []
    )


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {"SUIJI_DATABASE__URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = run("serve", "--port", str(free_port()), env=env)
    assert result.exit_code == 1 and "suiji db upgrade" in result.output


async def test_every_scheduler_job_runs_on_the_event_loop(tmp_path: Path) -> None:
    """AsyncIOScheduler runs a plain function in a worker thread, where it cannot start work
    on the bot's loop: every job must be a coroutine function, and must run cleanly."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    server = TestServer(create_app(load_settings(environ={"SUIJI_DATABASE__URL": url})))
    await server.start_server()
    try:
        jobs = server.app[SCHEDULER].get_jobs()
        assert {job.id for job in jobs} == {
            "retry-pending-events",
            "remind-unanswered",
            "remind-deadlines",
            "forget-signs",
            "fetch-photos",
        }
        for job in jobs:
            assert inspect.iscoroutinefunction(job.func), job.id
            await job.func(*job.args)  # what the tick does; raises if it cannot
    finally:
        await server.close()


async def test_a_served_app_freezes_its_startup_heap_and_restores_the_collector_at_exit(
    tmp_path: Path,
) -> None:
    """`suiji serve` keeps full garbage collections (100 ms and more with the app loaded) out
    of acknowledgements; a process that goes on after the app (tests) gets its collector back."""
    url = f"sqlite:///{tmp_path / 'heap.db'}"
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    before = gc.get_threshold()
    settings = load_settings(environ={"SUIJI_DATABASE__URL": url})
    server = TestServer(create_app(settings, settle_heap=True))
    await server.start_server()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        await server.close()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_serve_runs_its_app_with_a_settled_heap_the_refusal_log_and_a_long_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init", str(tmp_path / "bureau")).exit_code == 0
    served: list[tuple[web.Application, dict[str, object]]] = []
    monkeypatch.setattr(cli_serve.edge, "run", lambda app, *a, **kw: served.append((app, kw)))
    result = run("serve", config=tmp_path / "bureau" / "suiji.toml")
    assert result.exit_code == 0, result.output
    ((app, options),) = served
    assert _settled_heap in app.cleanup_ctx
    assert options["access_log_class"] is RefusalLog
    assert options["backlog"] == cli_serve.BACKLOG > 128  # aiohttp's default overflows
    assert options["head_seconds"] == 10
    assert options["limit"] == edge.connection_limit(1000)


def test_serve_runs_on_the_real_clock_unless_a_drill_names_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--clock`` (演练): the process's time starts there, in the bureau's zone, and runs on;
    said at start. Without it, the real time; a time it cannot read is refused."""
    assert run("init", str(tmp_path / "bureau")).exit_code == 0
    config = tmp_path / "bureau" / "suiji.toml"
    served: list[web.Application] = []
    monkeypatch.setattr(cli_serve.edge, "run", lambda app, *a, **kw: served.append(app))
    assert run("serve", config=config).exit_code == 0
    drill = run("serve", "--clock", "2026-09-28 09:00", config=config)
    assert drill.exit_code == 0 and "演练" in drill.output and "2026-09-28 09:00" in drill.output
    real, drilled = (app[CLOCK]() for app in served)
    assert abs(real - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    start = dt.datetime(2026, 9, 28, 1, 0, tzinfo=dt.UTC)  # 09:00 in Asia/Shanghai
    assert dt.timedelta(0) <= drilled - start < dt.timedelta(minutes=1)
    bad = run("serve", "--clock", "明天", config=config)
    assert bad.exit_code == 1 and "看不懂时间" in bad.output and len(served) == 2


def test_serve_logs_the_schedulers_warnings_but_not_each_job_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("", "apscheduler"):  # both restored after the test
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    logging.getLogger().setLevel(logging.INFO)  # as serve's basicConfig sets it on its own
    cli_serve.serve_logging()
    job_log = logging.getLogger("apscheduler.executors.default")
    assert not job_log.isEnabledFor(logging.INFO)
    assert job_log.isEnabledFor(logging.WARNING)


def test_serve_logs_a_repeated_error_once_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh `suiji serve` process
    monkeypatch.setattr(root, "level", root.level)
    cli_serve.serve_logging()
    [handler] = root.handlers
    repeats = [f for f in handler.filters if isinstance(f, edge.RepeatFilter)]
    assert len(repeats) == 1 and repeats[0].window == 60


def test_serve_logs_refused_failed_and_slow_requests_not_every_callback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RefusalLog(logging.getLogger("suiji.test.access"), "")
    forged = make_mocked_request("POST", "/wecom/callback?msg_signature=abc&nonce=1")
    with caplog.at_level(logging.INFO, logger="suiji.test.access"):
        log.log(forged, web.Response(status=403), 0.002)
        log.log(forged, web.Response(status=200), 0.002)  # an ordinary callback
        log.log(forged, web.Response(status=200), 2.5)  # a slow one
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert '"POST /wecom/callback" 403' in lines[0] and "msg_signature" not in lines[0]
    assert '"POST /wecom/callback" 200 2.500s' in lines[1]


# --- connections that never finish their request, under a low file-descriptor limit -----------

FILE_LIMIT = 256  # what the review ran with (ulimit -n 256)
STUCK = 300  # more connections than that, each sending part of a request head and then nothing


def _low_file_limit() -> None:  # in the child, before it runs suiji
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


async def test_serve_under_a_low_file_limit_answers_while_hundreds_of_connections_hang(
    tmp_path: Path,
) -> None:
    """Before, 300 such connections under `ulimit -n 256` stopped /healthz and every callback,
    and asyncio logged "Too many open files" hundreds of thousands of times."""
    url = await sqlite_database(tmp_path / "bot.db", sample=True)
    keys = new_secrets()
    fake = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    platform = TestServer(fake.app())
    await platform.start_server()
    port = free_port()
    fake.bot_url = f"http://127.0.0.1:{port}/wecom/callback"
    log = (tmp_path / "serve.log").open("w+b")
    environ = child_environ(bot_environ(keys, url, str(platform.make_url("")).rstrip("/")))
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_low_file_limit,
    )
    stuck: list[socket.socket] = []
    try:
        await until_healthy(port, lambda: server.poll() is None, lambda: _read(log))
        for _ in range(STUCK):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(b"POST /wecom/callback HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            stuck.append(sock)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert (response.status, await response.text()) == (200, "ok")
            inner = fake.text_xml("zhangkai", "帮助", 1, int(time.time()))
            assert await fake.deliver(http, inner, tries=1) == [200]
        deadline = time.monotonic() + 30
        while not fake.messages_for("zhangkai"):
            assert time.monotonic() < deadline, "the callback was never answered"
            await asyncio.sleep(0.1)
    finally:
        for sock in stuck:
            sock.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
            await platform.close()
    output = _read(log)
    assert output.count("Too many open files") <= 2, output[-3000:]
    assert len(output) < 100_000, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


def _read(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")
