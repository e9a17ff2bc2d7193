"""`suiji serve` as a process: it answers /healthz, and SIGTERM stops it cleanly."""

from __future__ import annotations

import gc
import inspect
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

from bot.base.config import load_settings
from bot.cli import serve as cli_serve
from bot.server.app import GC_YOUNG_THRESHOLD, SCHEDULER, RefusalLog, _settled_heap, create_app
from storage import migrate
from storage.engine import make_engine
from tests.e2e.test_cli import run
from tests.helpers import free_port


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
    monkeypatch.setattr(cli_serve.web, "run_app", lambda app, **kw: served.append((app, kw)))
    result = run("serve", config=tmp_path / "bureau" / "suiji.toml")
    assert result.exit_code == 0, result.output
    ((app, options),) = served
    assert _settled_heap in app.cleanup_ctx
    assert options["access_log_class"] is RefusalLog
    assert options["backlog"] == cli_serve.BACKLOG > 128  # aiohttp's default overflows


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
