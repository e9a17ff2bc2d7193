"""``suiji serve``, ``suiji demo`` and ``suiji outbox``: running the bot and watching its mail."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import webbrowser
from pathlib import Path

import click
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.base.config import ConfigError, Settings, load_settings
from bot.base.texts import render, text
from bot.base.times import local_time, running_from
from bot.cli.support import (
    Factory,
    Refused,
    emit,
    local_moment,
    run_with_db,
    settings_of,
    utc_now,
    with_engine,
    zone_of,
)
from bot.platforms.fakes import new_secrets
from bot.server import edge, sandbox
from bot.server.app import RefusalLog, create_app
from storage import chat as db
from storage import migrate
from storage.engine import make_session_factory, unit_of_work
from storage.models import EventState, InboundEvent, OutboxMessage, OutboxState

READY = ".suiji-demo-ready"
# How many days the sandbox's clock has been moved forward: a demo started again goes on then.
MOVED = ".suiji-demo-clock"
# Connections waiting to be accepted. aiohttp's default of 128 overflows when a burst opens
# more at once while the loop is busy, and each dropped SYN costs the platform a 1 s retry
# (then 3 s: near WeCom's 5 s limit). The kernel caps it at net.core.somaxconn.
BACKLOG = 1024


@click.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option(
    "--clock",
    "drill",
    default=None,
    metavar='"2026-09-28 09:00"',
    help="Drill only: the process's time starts here (local) and runs on.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, drill: str | None) -> None:
    """Run the bot: WeCom and DingTalk callbacks, the outbox sender, /healthz."""
    settings = settings_of(ctx)
    clock = utc_now
    if drill is not None:  # a drill (演练) on a copy of the data: reminders of a chosen day
        start = local_moment(drill, settings.app.tz)
        clock = running_from(start, utc_now)
    run_with_db(ctx, _nothing)  # refuses an unreachable or unmigrated database up front
    for warning in platform_warnings(settings):
        click.echo(warning, err=True)
    if drill is not None:
        click.echo(text("serve.drill", start=local_time(clock(), settings.app.timezone)), err=True)
    serve_logging()
    host = host or settings.server.host
    port = port if port is not None else settings.server.port
    limit = edge.connection_limit(settings.server.max_connections)
    head_seconds = settings.server.header_timeout_seconds

    def ready(site: edge.GatedSite) -> None:
        d = settings.dingtalk
        http = d.enabled and d.mode == "http"
        click.echo(
            text(
                "serve.started",
                url=site.name,
                wecom=settings.wecom.enabled,
                dingtalk_robot=http,
                dingtalk_events=http and bool(d.token and d.aes_key),
                dingtalk_stream=d.enabled and d.mode == "stream",
                connections=limit,
                header_timeout=head_seconds,
            )
        )

    try:
        edge.run(
            create_app(settings, clock=clock, settle_heap=True),
            host,
            port,
            ready=ready,
            access_log_class=RefusalLog,
            backlog=BACKLOG,
            limit=limit,
            head_seconds=head_seconds,
        )
    except OSError as exc:  # the port is taken, or the address not this machine's
        detail = exc.strerror or str(exc)
        raise Refused(text("serve.cannot_listen", host=host, port=port, detail=detail)) from exc


# The keys each platform needs: to receive its callbacks, and to send.
PLATFORM_KEYS = {
    "wecom": ("corp_id", "agent_id", "secret", "token", "encoding_aes_key"),
    "dingtalk": ("app_key", "app_secret", "robot_code"),
}


def platform_warnings(settings: Settings) -> list[str]:
    """What to tell someone starting a bot that cannot talk to anyone: neither platform
    configured (messages would only pile up as pending), or one half configured."""
    config = str(settings.source) if settings.source else text("serve.no_config_file")
    sections = {"wecom": settings.wecom, "dingtalk": settings.dingtalk}
    filled = {
        name: [key for key in keys if getattr(sections[name], key)]
        for name, keys in PLATFORM_KEYS.items()
    }
    if not any(filled.values()):
        return [text("serve.no_platform", config=config)]
    return [
        text(
            "serve.incomplete",
            platform=name,
            missing=[key for key in PLATFORM_KEYS[name] if key not in filled[name]],
            config=config,
        )
        for name in PLATFORM_KEYS
        if filled[name] and len(filled[name]) < len(PLATFORM_KEYS[name])
    ]


def serve_logging() -> None:
    """What ``suiji serve`` logs: INFO and above, with time and source (access lines only for
    refused, failed or slow requests: see bot.server.app.RefusalLog). The scheduler's own INFO lines
    (two per job run, every 30 s for the outbox retry) say nothing an operator acts on; its
    warnings, such as a missed reminder run, still show. A warning or error repeated (for every
    connection, event or retry) shows once a minute with a count (bot.server.edge.RepeatFilter)."""
    root = logging.getLogger()
    before = list(root.handlers)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    for handler in root.handlers:
        if handler not in before:  # ours, not whoever configured logging before (a test run)
            handler.addFilter(edge.RepeatFilter())


async def _nothing(_factory: object) -> None:
    return None


def port_taken(port: int) -> bool:
    """Whether something listens on ``port`` at 127.0.0.1. Connections a stopped demo left in
    TIME-WAIT don't count: on POSIX the server binds with SO_REUSEADDR, and so does this
    probe, or the demo could not restart on its port for a minute after serving a page. (Not
    on Windows, as asyncio does not either: there the option lets a bind share a port that
    someone is listening on.)"""
    with socket.socket() as probe:
        if os.name == "posix":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


async def _prepare_demo(settings: Settings) -> None:
    async def work(engine: AsyncEngine) -> None:
        await migrate.upgrade(engine)
        await sandbox.prepare(make_session_factory(engine), utc_now)

    await with_engine(settings, work)


@click.command()
@click.option("--port", type=int, default=8300, show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
)
@click.option("--no-browser", is_flag=True)
def demo(port: int, directory: Path | None, no_browser: bool) -> None:
    """The sandbox: sample registries, the bot and a fake WeCom in one process, and a web page
    showing everyone's chat."""
    if port_taken(port):  # before anything is written: say so, not a traceback
        raise Refused(text("cli.port_in_use", port=port))
    folder = directory or Path(tempfile.mkdtemp(prefix="suiji-demo-"))
    config = folder / "suiji.toml"
    # The sample is loaded last; a first run stopped half way is done again, not half kept.
    fresh = not (folder / READY).exists()
    base = f"http://127.0.0.1:{port}"
    if fresh:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "suiji.db").unlink(missing_ok=True)
            (folder / MOVED).unlink(missing_ok=True)  # a new sandbox starts on the real time
            keys = new_secrets()
            config.write_text(
                render("config/demo.toml.j2", keys=keys, base=base, port=port), "utf-8"
            )
        except OSError as exc:
            raise Refused(text("cli.cannot_create", path=str(folder), detail=str(exc))) from exc
    # The fakes live in this process, on this port, whatever port the folder was made with.
    here = {
        "SUIJI_WECOM__API_BASE": f"{base}/fake/wecom",
        "SUIJI_DINGTALK__API_BASE": f"{base}/fake/dingtalk",
        "SUIJI_SERVER__PORT": str(port),
        "SUIJI_SERVER__PUBLIC_URL": base,
        "SUIJI_WECOM__OAUTH_BASE": f"{base}/fake/wecom",  # the findings page's login
    }
    try:
        settings = load_settings(str(config), environ=here)
    except ConfigError as exc:
        raise Refused(text("cli.config_error", message=str(exc))) from exc
    if fresh:
        asyncio.run(_prepare_demo(settings))
        (folder / READY).write_text("ok\n", "utf-8")
    clock = sandbox.MovableClock(_moved_days(folder / MOVED), keep=folder / MOVED)
    app, _, _ = sandbox.sandbox_app(settings, base, clock)
    guide = text("cli.demo_ready", url=f"{base}/sandbox/", folder=str(folder), days=clock.days)
    click.echo(guide)
    if not no_browser:
        webbrowser.open(f"{base}/sandbox/")
    logging.basicConfig(level=logging.WARNING)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def _moved_days(path: Path) -> int:
    """The days a demo's clock was moved forward before (0 for a new one); a file that does
    not say is refused rather than letting the sandbox's time go back."""
    try:
        written = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise Refused(text("cli.demo_bad_clock", path=str(path))) from exc
    if not (written.isascii() and written.isdigit() and len(written) <= 6):
        raise Refused(text("cli.demo_bad_clock", path=str(path)))
    return int(written)


@click.group()
def outbox() -> None:
    """Messages waiting, sent or given up on."""


@outbox.command("list")
@click.option("--state", type=click.Choice([s.value for s in OutboxState]), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def outbox_list(ctx: click.Context, state: str | None, limit: int, fmt: str) -> None:
    """The newest outbox rows."""

    async def work(factory: Factory) -> tuple[list[dict[str, object]], dict[str, int]]:
        async with factory() as session:
            rows = await db.outbox_rows(session, [OutboxState(state)] if state else None, limit)
            counts = await db.state_counts(session, OutboxMessage)
        return [
            {
                "id": r.id,
                "platform": r.platform,
                "recipient": r.recipient,
                "state": r.state.value,
                "attempts": r.attempts,
                "created_at": r.created_at.isoformat(),
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                "last_error": r.last_error,
                "kind": r.body.get("kind"),
            }
            for r in rows
        ], counts

    rows, counts = run_with_db(ctx, work)
    _listing(ctx, fmt, rows, "cli/outbox.txt.j2", state, counts)


def _listing(
    ctx: click.Context,
    fmt: str,
    rows: list[dict[str, object]],
    template: str,
    state: str | None,
    counts: dict[str, int],
) -> None:
    """A list for people says what the filter left out and how many more the limit cut off;
    the JSON for programs is the rows alone."""
    context = {"rows": rows, "tz": zone_of(ctx), "state": state, "counts": counts}
    emit(fmt, rows, template, nl=False, **context)


@outbox.command("retry")
@click.argument("message_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_context
def outbox_retry(ctx: click.Context, message_id: int) -> None:
    """Send a dead message again (a running server picks it up)."""

    async def work(factory: Factory) -> bool:
        async with unit_of_work(factory) as session:
            return await db.retry_message(session, message_id, utc_now())

    if not run_with_db(ctx, work):
        raise Refused(text("cli.outbox_not_dead", id=message_id))
    click.echo(text("cli.outbox_retried", id=message_id))


@click.group()
def events() -> None:
    """Callbacks received: pending, done, or given up on after handler errors."""


@events.command("list")
@click.option("--state", type=click.Choice([s.value for s in EventState]), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def events_list(ctx: click.Context, state: str | None, limit: int, fmt: str) -> None:
    """The newest inbound events."""

    async def work(factory: Factory) -> tuple[list[dict[str, object]], dict[str, int]]:
        async with factory() as session:
            rows = await db.event_rows(session, [EventState(state)] if state else None, limit)
            counts = await db.state_counts(session, InboundEvent)
        return [
            {
                "id": r.id,
                "platform": r.platform,
                "sender": r.sender,
                "state": r.state.value,
                "attempts": r.attempts,
                "received_at": r.received_at.isoformat(),
                "last_error": r.last_error,
                "kind": r.payload.get("kind"),
            }
            for r in rows
        ], counts

    rows, counts = run_with_db(ctx, work)
    _listing(ctx, fmt, rows, "cli/events.txt.j2", state, counts)


@events.command("retry")
@click.argument("event_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_context
def events_retry(ctx: click.Context, event_id: int) -> None:
    """Handle a given-up event again (a running server picks it up within a minute)."""

    async def work(factory: Factory) -> bool:
        async with unit_of_work(factory) as session:
            return await db.retry_event(session, event_id)

    if not run_with_db(ctx, work):
        raise Refused(text("cli.event_not_failed", id=event_id))
    click.echo(text("cli.event_retried", id=event_id))


COMMANDS = (serve, demo, outbox, events)
