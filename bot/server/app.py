"""The aiohttp application: callbacks in, health, and the background sender.

Owns the app factory, its resources (opened and closed in ``cleanup_ctx``: the database engine,
the HTTP client session, the outbox sender) and the HTTP edge: a body cap, signatures checked
before anything else, a fast empty answer once the event is stored, and the handling after.
Nothing here answers 5xx for anything a caller sends; 503 says the database could not store the
event now (WeCom and DingTalk then send it again), never that the request was wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import cast

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.base.config import Settings
from bot.platforms import dingtalk, wecom
from bot.platforms.errors import Rejected
from bot.platforms.messages import Inbound
from bot.platforms.safexml import MAX_BODY
from bot.server import dispatch, h5, h5_login, h5_report, photos, public
from bot.server.intake import Intake, StoreUnavailable
from bot.server.outbox import Client, Sender
from bot.workflows import assignments, deadlines
from bot.workflows.step import Policy, policy_of
from storage.chat import forget_signs
from storage.engine import cannot_write_now, make_engine, make_session_factory, unit_of_work
from storage.files import FolderStore

log = logging.getLogger("suiji.app")
Clock = Callable[[], dt.datetime]

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ENGINE = web.AppKey("engine", AsyncEngine)
FACTORY = web.AppKey("factory", async_sessionmaker[AsyncSession])
HTTP = web.AppKey("http", aiohttp.ClientSession)
SENDER = web.AppKey("sender", Sender)
QUEUE = web.AppKey("queue", asyncio.Queue[int])
INTAKE = web.AppKey("intake", Intake)
STOPPING = web.AppKey("stopping", asyncio.Event)
POLICY = web.AppKey("policy", Policy)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)
WECOM_CODEC: web.AppKey[wecom.WeComCodec | None] = web.AppKey("wecom_codec")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = make_engine(settings.database.url, echo=settings.database.echo)
    app[ENGINE], app[FACTORY] = engine, make_session_factory(engine)
    yield
    await engine.dispose()


async def _http(app: web.Application) -> AsyncIterator[None]:
    app[HTTP] = aiohttp.ClientSession()
    yield
    await app[HTTP].close()


def clients(settings: Settings, session: aiohttp.ClientSession) -> dict[str, Client]:
    found: dict[str, Client] = {}
    if settings.wecom.enabled:
        w = settings.wecom
        found["wecom"] = wecom.WeComClient(session, w.api_base, w.corp_id, w.secret, w.agent_id)
    if settings.dingtalk.enabled:
        d = settings.dingtalk
        found["dingtalk"] = dingtalk.DingTalkClient(
            session,
            d.api_base,
            d.app_key,
            d.app_secret,
            d.robot_code,
            card_template_id=d.card_template_id,
            oapi_base=d.oapi_base,
        )
    return found


async def _stream(app: web.Application) -> AsyncIterator[None]:
    """DingTalk Stream mode, when configured: robot messages arrive over the SDK's websocket."""
    d = app[SETTINGS].dingtalk
    if not (d.enabled and d.mode == "stream"):
        yield
        return
    from bot.platforms.dingtalk_stream import StreamListener

    async def accept(inbound: Inbound) -> None:
        event_id = await app[INTAKE].accept(inbound)
        if event_id is not None:
            _schedule(app, event_id)

    listener = StreamListener(d.api_base, d.app_key, d.app_secret, accept, app[CLOCK])
    listener.start()
    yield
    await listener.stop()


async def _sender(app: web.Application) -> AsyncIterator[None]:
    sender = Sender(
        app[FACTORY], clients(app[SETTINGS], app[HTTP]), app[SETTINGS].outbox, app[CLOCK]
    )
    app[SENDER] = sender
    stop = asyncio.Event()
    app[STOPPING] = stop
    # Events stored but not handled (a crash, a restart, a handler that failed) are handled
    # now and then on the scheduler's tick, until they succeed or are given up on. The
    # database stays the source of truth: the scheduler keeps no jobs of its own.
    running: set[asyncio.Task[None]] = set()  # retry passes and timer jobs under way

    def start(work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        running.add(task)
        task.add_done_callback(running.discard)
        return task

    async def retry() -> None:
        # A coroutine on purpose: AsyncIOScheduler runs plain functions in a worker thread,
        # where there is no event loop to start the pass on.
        start(_retry_pending(app))

    await retry()
    scheduler = AsyncIOScheduler(timezone=app[SETTINGS].app.tz)
    app[SCHEDULER] = scheduler

    def every(seconds: float, job: Callable[[], Awaitable[None]], job_id: str) -> None:
        async def run() -> None:
            # Stopping the scheduler cancels the jobs it runs: a reminder tick cut off there
            # would end in a traceback and lose its work. Shielded, it finishes (awaited
            # below, as a retry pass is), and the sender's last flush sends what it queued.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(start(job()))

        scheduler.add_job(
            run, "interval", seconds=seconds, max_instances=1, coalesce=True, id=job_id
        )

    every(RETRY_SECONDS, retry, "retry-pending-events")
    # The reminder timer: the database says who is due, so any number of processes may tick.
    tick = app[SETTINGS].reminders.tick_seconds
    every(tick, functools.partial(_remind, app), "remind-unanswered")
    every(tick, functools.partial(_remind_deadlines, app), "remind-deadlines")
    every(FORGET_SECONDS, functools.partial(_forget_signs, app), "forget-signs")
    every(PHOTO_SECONDS, functools.partial(_fetch_photos, app), "fetch-photos")
    scheduler.start()
    loop = asyncio.create_task(sender.run(stop))
    # A few workers handle acknowledged events: enough to keep up (and to go on while one
    # waits for a person's row lock on a server database), few enough that handlers, which
    # share this event loop, do not crowd out answering the platforms (measured in
    # tests/benchmarks/bench_callbacks: 8 on PostgreSQL doubled the p99 of acknowledgements).
    sqlite = app[SETTINGS].database.url.startswith("sqlite")
    late = functools.partial(_schedule, app)  # stored after its callback was answered 503
    app[INTAKE] = Intake(app[ENGINE], stores=1 if sqlite else 3, late=late)
    sender.give_way = lambda: app[INTAKE].quiet(QUIET_SECONDS)
    workers = [asyncio.create_task(_work(app)) for _ in range(2 if sqlite else 4)]
    intake = asyncio.create_task(app[INTAKE].run())
    yield
    intake.cancel()
    await app[INTAKE].drain()  # callbacks acknowledged or about to be: their rows land first
    # Drain: finish the events already acknowledged, then let the sender stop.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(app[QUEUE].join(), timeout=10)
    for worker in workers:
        worker.cancel()
    scheduler.shutdown(wait=False)
    stop.set()  # a retry pass stops between events; the engine outlives it
    if running:
        await asyncio.wait(running, timeout=10)
    await loop
    # The sender stopped between two messages; it may well have been behind the handlers.
    # What they wrote is sent now, once (rows paced or backed off to later stay for the next
    # start), so that a person whose message was acknowledged gets the answer before we exit.
    # Time up stops it between two messages, never in the middle of one: a send cut off after
    # the platform took it would go out again at the next start.
    time_up = asyncio.Event()
    timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, time_up.set)
    try:
        while await sender.deliver_due(stop=time_up):
            pass
    except Exception:
        log.exception("sending before exit failed: the next start sends what is left")
    finally:
        timer.cancel()
    if time_up.is_set():
        log.warning("stopping with messages still to send: the next start sends them")


RETRY_SECONDS = 30.0
PHOTO_SECONDS = 2.0  # how soon a photo sent in chat is fetched (one query when none waits)
FLUSH_SECONDS = 10.0  # the longest a stopping server spends sending what is due
QUIET_SECONDS = 0.25  # the longest a handler lets acknowledgements go first
FORGET_SECONDS = 300.0  # how often old DingTalk signs are forgotten
# DingTalk robot signs are kept this long against replays: twice the window their timestamp
# may be off by, after which the timestamp check refuses a replay by itself.
SIGN_KEEP = dt.timedelta(milliseconds=2 * dingtalk.SIGN_WINDOW_MS)


async def _remind(app: web.Application) -> None:
    if app[STOPPING].is_set():
        return
    try:
        if await assignments.remind_unanswered(app[FACTORY], app[POLICY], app[CLOCK]):
            app[SENDER].wake.set()
    except Exception:
        log.exception("sending reminders failed")


async def _remind_deadlines(app: web.Application) -> None:
    """Deadlines due a reminder: one digest per person, each step claimed once in the
    database, so any number of processes may tick."""
    if app[STOPPING].is_set():
        return
    try:
        if await deadlines.remind_due(app[FACTORY], app[POLICY], app[CLOCK]):
            app[SENDER].wake.set()
        if await deadlines.ask_for_calendar(app[FACTORY], app[POLICY], app[CLOCK]):
            app[SENDER].wake.set()
    except Exception:
        log.exception("sending deadline reminders failed")


async def remind_now(app: web.Application) -> None:
    """Both reminder ticks at once, out of turn: the sandbox calls it when its clock moves, so
    that what the new time makes due arrives now rather than at the next timer tick."""
    await _remind(app)
    await _remind_deadlines(app)


async def _fetch_photos(app: web.Application) -> None:
    """Evidence photos sent in chat, fetched from their platform in the background."""
    if app[STOPPING].is_set():
        return
    settings = app[SETTINGS]
    # The sender's clients: one token cache per platform for sending and fetching alike.
    sources = cast(dict[str, photos.MediaSource], app[SENDER].clients)
    try:
        fetched = await photos.fetch_due(
            app[FACTORY],
            sources,
            FolderStore(settings.findings.files),
            app[CLOCK],
            app[POLICY],
            settings.findings.photo_max_bytes,
        )
    except Exception:
        log.exception("fetching photos failed")
        return
    if fetched:
        app[SENDER].wake.set()


async def _forget_signs(app: web.Application) -> None:
    try:
        async with unit_of_work(app[FACTORY]) as session:
            await forget_signs(session, app[CLOCK]() - SIGN_KEEP)
    except Exception:
        log.exception("forgetting old robot signs failed")


async def _retry_pending(app: web.Application) -> None:
    if app[STOPPING].is_set():
        return
    try:
        if await dispatch.process_pending(
            app[FACTORY], app[CLOCK], stop=app[STOPPING].is_set, policy=app[POLICY]
        ):
            app[SENDER].wake.set()
    except Exception:
        log.exception("retrying pending events failed")


async def _work(app: web.Application) -> None:
    queue = app[QUEUE]
    while True:
        event_id = await queue.get()
        await app[INTAKE].quiet(QUIET_SECONDS)
        try:
            await dispatch.process(app[FACTORY], event_id, app[CLOCK], app[POLICY])
            app[SENDER].wake.set()
        except Exception:  # process() records its own failures; this is a last guard
            log.exception("worker failed on event %s", event_id)
        finally:
            queue.task_done()


def _schedule(app: web.Application, event_id: int) -> None:
    app[QUEUE].put_nowait(event_id)


async def _accept(
    request: web.Request, inbound: Inbound | None, sign: str | None = None
) -> web.Response:
    if inbound is not None:
        event_id = await request.app[INTAKE].accept(inbound, sign)
        if event_id is not None:  # None: a retried callback, already stored
            _schedule(request.app, event_id)
    return web.Response(text="")


READ_SECONDS = 5.0  # the platforms give up after 5 s; a trickled body is not waited for


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Rejected(413, "body too large")
    try:
        if request.content.is_eof():  # all of it came with the headers: nothing to wait for
            return await request.read()
        async with asyncio.timeout(READ_SECONDS):
            return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise Rejected(413, "body too large") from exc
    except TimeoutError as exc:
        raise Rejected(408, "body too slow") from exc


def _query(request: web.Request, *names: str) -> list[str]:
    values = [request.query.get(name, "") for name in names]
    if not all(values):
        raise Rejected(400, "missing query parameters")
    return values


@web.middleware
async def refusals(
    request: web.Request, handler: Callable[[web.Request], object]
) -> web.StreamResponse:
    """Turn a Rejected into its 4xx, and a database that cannot store the event now into 503
    (the platforms send it again; the intake logs the outage once). Anything else unexpected is
    logged and answered 400, and nothing was committed by then (events are only stored after
    the checks)."""
    try:
        response = await handler(request)  # type: ignore[misc]
        assert isinstance(response, web.StreamResponse)
        return response
    except Rejected as refused:
        return web.Response(status=refused.status, text=refused.reason)
    except StoreUnavailable:
        return web.Response(status=503, text=UNAVAILABLE)
    except web.HTTPException:
        raise
    except Exception as exc:
        if cannot_write_now(exc):
            log.warning("the database failed on %s %s: %s", request.method, request.path, exc)
            return web.Response(status=503, text=UNAVAILABLE)
        log.exception("unexpected error on %s %s", request.method, request.path)
        return web.Response(status=400, text="bad request")


UNAVAILABLE = "database cannot be written"


async def healthz(request: web.Request) -> web.Response:
    """200 while the database takes writes (a write that changes nothing, rolled back): a
    read-only or locked store answers SELECT 1 and still loses every callback."""
    if not await request.app[INTAKE].probe():
        return web.Response(status=503, text=UNAVAILABLE)
    return web.Response(text="ok")


def _wecom_codec(request: web.Request) -> wecom.WeComCodec:
    codec = request.app[WECOM_CODEC]
    if codec is None:
        raise Rejected(404, "wecom is not configured")
    return codec


async def wecom_verify(request: web.Request) -> web.Response:
    codec = _wecom_codec(request)
    signature, timestamp, nonce, echostr = _query(
        request, "msg_signature", "timestamp", "nonce", "echostr"
    )
    return web.Response(text=codec.verify_url(signature, timestamp, nonce, echostr))


async def wecom_callback(request: web.Request) -> web.Response:
    codec = _wecom_codec(request)
    signature, timestamp, nonce = _query(request, "msg_signature", "timestamp", "nonce")
    message = codec.open(signature, timestamp, nonce, await _body(request))
    return await _accept(request, wecom.to_inbound(message, request.app[CLOCK]()))


async def dingtalk_robot(request: web.Request) -> web.Response:
    d = request.app[SETTINGS].dingtalk
    if not d.enabled or d.mode == "stream":
        raise Rejected(404, "dingtalk robot callbacks are not configured")
    sign = request.headers.get("sign", "")
    dingtalk.check_robot_headers(
        d.app_secret,
        request.headers.get("timestamp", ""),
        sign,
        int(request.app[CLOCK]().timestamp() * 1000),
    )
    body = await _body(request)
    inbound = dingtalk.robot_to_inbound(body, request.app[CLOCK](), d.robot_code)
    # The sign covers the timestamp only: each may be used once, or a captured one would
    # let anyone post any body, as anyone, for an hour. It is spent with the event, in one
    # transaction: a callback that could not be stored (503) may come again under it.
    return await _accept(request, inbound, sign)


async def dingtalk_events(request: web.Request) -> web.Response:
    d = request.app[SETTINGS].dingtalk
    if not (d.enabled and d.token and d.aes_key):
        raise Rejected(404, "dingtalk events are not configured")
    codec = dingtalk.EventCodec(d.token, d.aes_key, d.app_key)
    signature, timestamp, nonce = _query(request, "msg_signature", "timestamp", "nonce")
    codec.open(signature, timestamp, nonce, await _body(request))
    # check_url and every other event are acknowledged the same way; none carries a chat
    # message, so nothing is stored.
    return web.json_response(codec.answer("success", timestamp, nonce))


GC_YOUNG_THRESHOLD = 10_000  # CPython's default is 700


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """Keep the garbage collector's pauses out of acknowledgements, for a long-running server.

    A full collection walks every object the process holds (some 160,000 once the app is up:
    SQLAlchemy's mappers, templates, the registries' caches), and took 100–190 ms here, in the
    middle of whatever callbacks were waiting: it alone doubled the p99 in
    tests/benchmarks/bench_callbacks. Nearly all that exists at startup lives as long as the
    process, so it is frozen out of every later collection (gc.freeze), and young collections
    run less often. Objects still die as soon as nothing refers to them; cycles among the few
    startup objects that die later are kept (a bounded, small cost), and other cycles wait a
    little longer. The freeze is the whole process's: one app per process (``suiji serve``).
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


async def _settled_heap(_app: web.Application) -> AsyncIterator[None]:
    with settled_heap():
        yield


SLOW_SECONDS = 1.0


class RefusalLog(AbstractAccessLogger):
    """The access log of ``suiji serve``: what was refused, failed or slow, not every callback.

    A line per callback cost a quarter or more of the acknowledgements a process can give
    (tests/benchmarks/bench_callbacks), and says nothing the inbound_events table does not.
    Refusals (forged signatures, replays, oversized bodies) are what an operator looks for.
    The query string is left out: it is only the platform's signature and nonce."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if response.status < 400 and time < SLOW_SECONDS:
            return
        self.logger.info(
            '%s "%s %s" %d %.3fs',
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
        )


def create_app(
    settings: Settings, *, clock: Clock = utc_now, settle_heap: bool = False
) -> web.Application:
    """``settle_heap``: for a process that runs only this app (``suiji serve``); see
    ``settled_heap``. Tests, which start many apps in one process, and the sandbox leave it
    off."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[refusals])
    app[SETTINGS], app[CLOCK], app[QUEUE] = settings, clock, asyncio.Queue()
    app[POLICY] = policy_of(settings)
    w = settings.wecom
    app[WECOM_CODEC] = (
        wecom.WeComCodec(w.token, w.encoding_aes_key, w.corp_id) if w.enabled else None
    )
    app.cleanup_ctx.extend([_database, _http, _sender, _stream])
    if settle_heap:  # last: what the others opened is part of the heap that is frozen
        app.cleanup_ctx.append(_settled_heap)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/wecom/callback", wecom_verify)
    app.router.add_post("/wecom/callback", wecom_callback)
    app.router.add_post("/dingtalk/callback", dingtalk_robot)
    app.router.add_post("/dingtalk/events", dingtalk_events)
    public.install(
        app,
        public.Sources(
            factory=lambda: app[FACTORY],
            today=lambda: clock().astimezone(app[POLICY].tz).date(),
            zone=lambda: app[POLICY].timezone,
        ),
    )
    h5_login.install(
        app,
        h5_login.Sources(
            settings=settings,
            policy=app[POLICY],
            clock=clock,
            factory=lambda: app[FACTORY],
            # The sender's clients: one token cache per platform for everything asked of it.
            identities=lambda: cast(dict[str, h5_login.Identity], app[SENDER].clients),
            store=FolderStore(settings.findings.files),
        ),
    )
    h5_report.install(app)
    h5.install(app)
    return app
