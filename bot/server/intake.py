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

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.platforms.messages import Inbound
from bot.server.dispatch import inbound_to_json
from storage import chat as db

log = logging.getLogger("suiji.intake")
MAX_BATCH = 200
SETTLE = 0.02  # seconds without callbacks waiting before background work goes on
LONGEST_TURNS = 4  # during a long burst no caller of quiet() waits beyond this many turns


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
        self._next_turn = -float("inf")  # loop time from which the next turn may be taken
        self._waiting = 0  # callbacks accepted and not yet answered
        self._slots = asyncio.Semaphore(stores)
        self._storing: set[asyncio.Task[None]] = set()

    async def quiet(self, longest: float) -> None:
        """Wait until no callback has waited to be stored for a moment (``SETTLE``), or, while
        callbacks keep coming, for a turn: one caller in every ``longest`` seconds goes on.

        Handlers and the sender call this before each step. Answering the platforms comes
        first: they give up after 5 s, and on SQLite a handler's transaction would hold the one
        write lock an acknowledgement needs. In a burst the intake is empty only between two
        batches, while the answered callers post again: that moment is waited out. During a
        long burst the callers take turns, so that they do not all cut into the same batch of
        acknowledgements (measured: together they doubled its latency); none waits beyond
        ``LONGEST_TURNS`` turns, so background work never stops."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline, latest = started + longest, started + LONGEST_TURNS * longest
        while True:
            now = loop.time()
            if self._quiet.is_set() and now - self._quiet_since >= SETTLE:
                return
            next_turn = min(max(deadline, self._next_turn), latest)
            if now >= next_turn:
                self._next_turn = max(self._next_turn, now + longest)
                return
            if self._quiet.is_set():
                await asyncio.sleep(min(self._quiet_since + SETTLE, next_turn) - now)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), next_turn - now)

    async def accept(self, inbound: Inbound) -> int | None:
        """Store the event (with whatever else arrives meanwhile); its id, or None if known."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting += 1
        self._busy()
        self.queue.put_nowait((inbound, future))
        try:
            return await future
        finally:
            # Empty once every callback taken in is answered, not when the queue is: a batch
            # taken off it may still wait for a free slot.
            self._waiting -= 1
            if not self._waiting:
                self._idle()

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

    def _busy(self) -> None:
        self._quiet.clear()

    def _idle(self) -> None:
        self._quiet.set()
        self._quiet_since = asyncio.get_running_loop().time()

    async def _insert(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        try:
            return await self._insert_once(rows)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        # The connection was found closed (a database restart): once more, on a new one. Keys
        # stored before are skipped, so nothing is stored twice.
        return await self._insert_once(rows)

    async def _insert_once(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        # A plain connection, not an ORM session: nothing here needs one, and the session's
        # bookkeeping cost more than a fifth of each store.
        async with self.engine.begin() as connection:
            return await db.store_events(connection, rows)

    async def _store(self, batch: list[tuple[Inbound, asyncio.Future[int | None]]]) -> None:
        first: dict[tuple[str, str], Any] = {}
        for inbound, _ in batch:  # the same event twice in one batch is stored once
            first.setdefault(db.event_key(inbound.platform.value, inbound.dedup_key), inbound)
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
        failed: dict[tuple[str, str], Exception] = {}
        try:
            stored = await self._insert(rows)
        except Exception as exc:
            log.exception("storing %d events failed", len(rows))
            if len(rows) == 1:
                stored, failed = {}, {key: exc for key in first}
            else:  # one bad row must not cost everyone else in the batch: one at a time
                stored, failed = await self._insert_each(rows)
        for inbound, future in batch:
            key = db.event_key(inbound.platform.value, inbound.dedup_key)
            if future.done():
                continue
            if key in failed:
                future.set_exception(failed[key])
            else:
                future.set_result(stored.get(key) if first.get(key) is inbound else None)

    async def _insert_each(
        self, rows: list[dict[str, Any]]
    ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], Exception]]:
        stored: dict[tuple[str, str], int] = {}
        failed: dict[tuple[str, str], Exception] = {}
        for row in rows:
            try:
                stored.update(await self._insert([row]))
            except Exception as exc:
                failed[db.event_key(row["platform"], row["dedup_key"])] = exc
        return stored, failed
