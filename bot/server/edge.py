"""The listening edge of ``suiji serve``: a deadline for every request head, a cap on open
connections, accepting within it, and a log that does not repeat itself.

Connections that open and never finish their request head used to be held for aiohttp's
keep-alive timeout (75 s). Some hundreds of them used up the process's file descriptors; then
accept() failed, and asyncio's accept loop, which goes on after that failure, logged it once for
every connection the listen backlog could hold, every time it tried again: under
``ulimit -n 256``, 474,033 lines in 40 s, and neither /healthz nor any callback was answered.
So here:

- a connection must finish its request head within ``head_seconds`` of opening, or of its
  previous answer (aiohttp's keep-alive timeout, set to the same, covers the latter);
- at most ``limit`` connections are open, below the file-descriptor limit (see
  ``connection_limit``). A new one past it closes the oldest connection that has sent no request
  head; if every one has, the oldest are asked to close after their answer (never in the middle
  of one), one more each ``ROOM_POLL`` until there is room;
- connections are accepted here, one at a time, each set up once there is room; an accept that
  fails anyway (descriptors used up elsewhere) frees one if it can, is logged, and is tried
  again after a pause, not in a tight loop;
- ``RepeatFilter`` keeps any warning or error repeated for every connection, event or retry to
  one line per minute, with a count of those left out.

``run`` serves an app through all this as aiohttp's ``run_app`` would (SIGINT and SIGTERM stop
it; the app's cleanup runs before the remaining tasks are cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from yarl import URL

log = logging.getLogger("suiji.edge")

# Descriptors kept free of connections: the database pool (three per SQLite connection, with its
# journal and shared memory), the platforms' API connections, the log, the listening sockets.
RESERVED_FILES = 128
ROOM_POLL = 0.05  # seconds between steps while making room
DRAIN_SECONDS = 10.0  # the longest an answer in progress is waited for when its room is needed
ACCEPT_PAUSE = 0.5  # seconds before accepting again after accept() failed
# accept() failures that say this process (or the system) is out of something, not the peer.
OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def connection_limit(configured: int) -> int:
    """``configured``, or fewer if the process's file-descriptor limit leaves less room once
    ``RESERVED_FILES`` are set aside (half of a limit that small)."""
    try:
        import resource
    except ImportError:  # not on POSIX: no limit to read
        return configured
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft - min(RESERVED_FILES, soft // 2)))


class Gate:
    """The open connections of one aiohttp server: which have sent no request head yet (each
    with its deadline), and room for a new one when the limit is reached."""

    def __init__(self, server: web.Server, limit: int, head_seconds: float) -> None:
        self.server, self.limit, self.head_seconds = server, limit, head_seconds
        self._unrequested: dict[RequestHandler, asyncio.TimerHandle] = {}  # oldest first
        self._closed: set[RequestHandler] = set()  # closed, until aiohttp lets go of them
        self._draining: set[RequestHandler] = set()  # closing after their answer
        self._tasks: set[asyncio.Task[None]] = set()
        # aiohttp makes a request once its head is parsed: the head is complete. (The handlers
        # made from here on take this factory.)
        make_request = server.request_factory

        def request_factory(*args: Any) -> web.BaseRequest:
            self._requested(args[2])  # (message, payload, protocol, writer, task)
            return make_request(*args)

        server.request_factory = request_factory

    def protocol(self) -> RequestHandler:
        """The handler of a new connection, which must send its request head in time."""
        handler = self.server()
        loop = asyncio.get_running_loop()
        self._unrequested[handler] = loop.call_later(self.head_seconds, self._late, handler)
        return handler

    def open(self) -> int:
        """Connections open now (those closed but not yet let go of by aiohttp not counted)."""
        connections = set(self.server.connections)
        self._closed &= connections
        self._draining &= connections
        return len(connections) - len(self._closed)

    async def room(self) -> None:
        """Until one more connection fits under the limit."""
        warned = False
        while self.open() >= self.limit:
            if not warned:
                log.warning(
                    "at the limit of %d open connections: closing the oldest that sent no "
                    "request, else the oldest after their answer",
                    self.limit,
                )
                warned = True
            if self.close_oldest_unrequested():
                continue
            self._drain_oldest()
            await asyncio.sleep(ROOM_POLL)

    def close_oldest_unrequested(self) -> bool:
        """Close the oldest connection that has sent no request head; whether there was one."""
        while self._unrequested:
            handler = next(iter(self._unrequested))
            self._unrequested.pop(handler).cancel()
            if handler in self.server.connections:
                self._close(handler)
                return True
        return False

    def _drain_oldest(self) -> None:
        for handler in self.server.connections:
            if handler not in self._closed and handler not in self._draining:
                self._draining.add(handler)
                handler.close()  # an idle one stops waiting; a busy one after its answer
                task = asyncio.create_task(handler.shutdown(DRAIN_SECONDS))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return

    def _requested(self, handler: RequestHandler) -> None:
        timer = self._unrequested.pop(handler, None)
        if timer is not None:
            timer.cancel()

    def _late(self, handler: RequestHandler) -> None:
        if self._unrequested.pop(handler, None) is not None:
            self._close(handler)

    def _close(self, handler: RequestHandler) -> None:
        handler.force_close()
        self._closed.add(handler)


def _listen(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` names, as asyncio's create_server binds."""
    found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if os.name == "posix":  # as asyncio: on Windows it lets a bind share a used port
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class GatedSite(web.BaseSite):
    """A TCP site whose connections pass through a Gate."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        backlog: int,
        limit: int,
        head_seconds: float,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host, self._port = host, port
        self._limit, self._head_seconds = limit, head_seconds
        self._listeners: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self.gate: Gate | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system for port 0)."""
        if self._listeners:
            return int(self._listeners[0].getsockname()[1])
        return self._port

    @property
    def name(self) -> str:
        return str(URL.build(scheme="http", host=self._host or "0.0.0.0", port=self.port))

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self.gate = Gate(server, self._limit, self._head_seconds)
        self._listeners = _listen(self._host, self._port, self._backlog)
        self._accepting = [asyncio.create_task(self._accept(sock)) for sock in self._listeners]

    async def stop(self) -> None:
        for task in self._accepting:
            task.cancel()
        await asyncio.gather(*self._accepting, return_exceptions=True)
        for sock in self._listeners:
            sock.close()
        await super().stop()

    async def _accept(self, listener: socket.socket) -> None:
        gate = self.gate
        assert gate is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, _ = await loop.sock_accept(listener)
            except OSError as exc:
                if exc.errno not in OUT_OF_RESOURCES:
                    continue  # the peer gave up before it was accepted
                freed = gate.close_oldest_unrequested()
                log.error(
                    "cannot accept a connection (%s) with %d open of at most %d%s; trying "
                    "again shortly",
                    exc.strerror,
                    gate.open(),
                    gate.limit,
                    ": closed the oldest that sent no request" if freed else "",
                )
                await asyncio.sleep(ACCEPT_PAUSE)
                continue
            try:
                await gate.room()  # for this one: the next waits in the listen backlog meanwhile
                await loop.connect_accepted_socket(gate.protocol, connection)
            except OSError:  # reset before it was set up
                connection.close()


async def start(
    app: web.Application,
    host: str,
    port: int,
    *,
    backlog: int,
    limit: int,
    head_seconds: float,
    **runner_options: Any,
) -> tuple[web.AppRunner, GatedSite]:
    """``app`` set up and listening on ``host``:``port`` through a Gate. ``runner_options`` go to
    aiohttp's AppRunner (its access log, signal handling)."""
    runner = web.AppRunner(app, keepalive_timeout=head_seconds, **runner_options)
    await runner.setup()
    site = GatedSite(runner, host, port, backlog=backlog, limit=limit, head_seconds=head_seconds)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site


def run(
    app: web.Application,
    host: str,
    port: int,
    *,
    ready: Callable[[GatedSite], None],
    **options: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM (``options`` as for ``start``); ``ready`` is called
    once it listens. As aiohttp's run_app: on a signal the app's cleanup runs first, with the
    rest of its tasks still alive, and then whatever is left is cancelled."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, host, port, ready, options))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    ready: Callable[[GatedSite], None],
    options: dict[str, Any],
) -> None:
    runner, site = await start(app, host, port, handle_signals=True, **options)
    try:
        ready(site)
        await asyncio.Event().wait()  # until cancelled, by a signal
    finally:
        await runner.cleanup()


class RepeatFilter(logging.Filter):
    """Lets the first of a run of like warnings and errors through, then at most one line per
    ``window`` seconds, which says how many like it were left out. Like: the same logger, level
    and message template (an error repeated for every connection, event or retry). Lines below
    WARNING, such as the access log's, pass untouched."""

    MAX_KINDS = 1000  # templates remembered; more are forgotten once their window is over

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window, self.clock = window, clock
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # [shown at, left out]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window:
            seen[1] += 1
            return False
        if len(self._seen) >= self.MAX_KINDS:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
        self._seen[key] = [now, 0]
        if seen is not None and seen[1]:
            record.msg = (
                f"{record.getMessage()} [{int(seen[1])} more like this in the last "
                f"{now - seen[0]:.0f} s were left out]"
            )
            record.args = None
        return True
