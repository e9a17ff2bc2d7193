"""Taking in callbacks fast: many concurrent events stored in one transaction.

Each callback waits only until its event is durably stored (then the platform is answered);
events arriving together share one INSERT and one commit instead of one each. A retried or
duplicated event comes back as None: stored before, nothing more to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.chat import Inbound
from bot.dispatch import inbound_to_json
from storage import chat as db

log = logging.getLogger("suiji.intake")
MAX_BATCH = 200
SETTLE = 0.02  # seconds without callbacks waiting before background work goes on


class Intake:
    def __init__(self, engine: AsyncEngine, stores: int = 1) -> None:
        """``stores``: how many batches may be on their way to the database at once (one for
        SQLite, which has a single writer; a few for a server, where a batch mostly waits
        on the network and the next need not wait behind it)."""
        self.engine = engine
        self.queue: asyncio.Queue[tuple[Inbound, asyncio.Future[int | None]]] = asyncio.Queue()
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._quiet_since = 0.0  # loop time when the intake last became empty
        self._last_turn = -float("inf")  # loop time of the last step taken during a burst
        self._slots = asyncio.Semaphore(stores)
        self._storing: set[asyncio.Task[None]] = set()

    async def quiet(self, longest: float) -> None:
        """Wait until nothing has waited to be stored for a moment (``SETTLE``), or, while
        callbacks keep coming, for a turn: one caller every ``longest`` seconds goes on anyway.

        Handlers and the sender call this before each step. Answering the platforms comes
        first: they give up after 5 s, and on SQLite a handler's transaction would hold the one
        write lock an acknowledgement needs. In a burst the intake is empty only between two
        batches, while the answered callers post again: that moment is waited out. Turns are
        taken one at a time, so background work still moves during a long burst, but all the
        handlers and the sender never cut into the same batch of acknowledgements at once
        (measured: together they doubled its latency)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + longest
        while True:
            now = loop.time()
            if self._quiet.is_set() and now - self._quiet_since >= SETTLE:
                return
            next_turn = max(deadline, self._last_turn + longest)
            if now >= next_turn:
                self._last_turn = now
                return
            if self._quiet.is_set():
                await asyncio.sleep(min(self._quiet_since + SETTLE, next_turn) - now)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), next_turn - now)

    async def accept(self, inbound: Inbound) -> int | None:
        """Store the event (with whatever else arrives meanwhile); its id, or None if known."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._busy()
        self.queue.put_nowait((inbound, future))
        return await future

    async def run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            await self._slots.acquire()
            # What arrived while waiting for a free slot joins this batch.
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            task = asyncio.create_task(self._store(batch))
            self._storing.add(task)
            task.add_done_callback(self._stored)

    async def drain(self) -> None:
        """Wait for the batches already on their way to the database (at shutdown)."""
        if self._storing:
            await asyncio.wait(set(self._storing))

    def _stored(self, task: asyncio.Task[None]) -> None:
        self._storing.discard(task)
        self._slots.release()
        if self.queue.empty() and not self._storing:
            self._idle()

    def _busy(self) -> None:
        self._quiet.clear()

    def _idle(self) -> None:
        self._quiet.set()
        self._quiet_since = asyncio.get_running_loop().time()

    async def _store(self, batch: list[tuple[Inbound, asyncio.Future[int | None]]]) -> None:
        first: dict[tuple[str, str], Any] = {}
        for inbound, _ in batch:  # the same event twice in one batch is stored once
            first.setdefault((inbound.platform.value, inbound.dedup_key[:200]), inbound)
        rows = [
            {
                "platform": inbound.platform.value,
                "dedup_key": inbound.dedup_key,
                "sender": inbound.sender,
                "payload": inbound_to_json(inbound),
                "received_at": inbound.received_at,
            }
            for inbound in first.values()
        ]
        try:
            # A plain connection, not an ORM session: nothing here needs one, and the session's
            # bookkeeping cost more than a fifth of each store.
            async with self.engine.begin() as connection:
                stored = await db.store_events(connection, rows)
        except Exception as exc:
            log.exception("storing %d events failed", len(rows))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for inbound, future in batch:
            key = (inbound.platform.value, inbound.dedup_key[:200])
            event_id = stored.get(key) if first.get(key) is inbound else None
            if not future.done():
                future.set_result(event_id)
