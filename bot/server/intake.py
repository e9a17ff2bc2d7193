"""Taking in callbacks fast: many concurrent events stored in one transaction.

Each callback waits only until its event is durably stored (then the platform is answered);
events arriving together share one INSERT and one commit instead of one each. A retried or
duplicated event comes back as None: stored before, nothing more to do.

When the database cannot take the events (out of reach, silent, read-only, locked), a callback
learns so within ``STORE_SECONDS`` as StoreUnavailable, answered 503 so that the platform sends
it again; the outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.platforms.errors import Rejected
from bot.platforms.messages import Inbound
from bot.server.dispatch import inbound_to_json
from storage import chat as db
from storage.engine import cannot_write_now

log = logging.getLogger("suiji.intake")
MAX_BATCH = 200
SETTLE = 0.02  # seconds without callbacks waiting before background work goes on
LONGEST_TURNS = 4  # during a long burst no caller of quiet() waits beyond this many turns
# The longest a callback waits for its event to be stored, and a store for the database: WeCom
# gives up on an answer after 5 s, and a 503 in time makes it send the callback again.
STORE_SECONDS = 3.0


class StoreUnavailable(Exception):
    """The event could not be stored now; the platform should send it again later."""


@dataclasses.dataclass(eq=False)
class _Callback:
    inbound: Inbound
    sign: str | None  # a DingTalk robot sign, spent with the event
    future: asyncio.Future[int | None]

    @property
    def key(self) -> tuple[str, str]:
        return db.event_key(self.inbound.platform.value, self.inbound.dedup_key)


class Outage:
    """Whether the store takes writes, logged once as it stops and once as it starts again
    (with how many callbacks were turned away meanwhile), never once per callback."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.since: float | None = None
        self.turned_away = 0

    def failed(self, exc: BaseException, turned_away: int) -> None:
        self.turned_away += turned_away
        if self.since is None:
            self.since = self.clock()
            log.error(
                "the database cannot store events (%s): callbacks are answered 503, so that "
                "the platforms send them again, and /healthz 503, until it can",
                _reason(exc),
            )

    def recovered(self) -> None:
        if self.since is None:
            return
        log.warning(
            "the database stores events again after %.0f s; %d callbacks were answered 503 "
            "meanwhile",
            self.clock() - self.since,
            self.turned_away,
        )
        self.since, self.turned_away = None, 0


def _reason(exc: BaseException) -> str:
    """The first line of what the driver said: no SQL, no parameters."""
    found: BaseException = getattr(exc, "orig", None) or exc
    line = str(found).strip().splitlines()[0] if str(found).strip() else ""
    return f"{type(found).__name__}: {line}" if line else type(found).__name__


class Intake:
    def __init__(
        self,
        engine: AsyncEngine,
        stores: int = 1,
        late: Callable[[int], None] | None = None,
    ) -> None:
        """``stores``: how many batches may be on their way to the database at once (one for
        SQLite, which has a single writer; a few for a server, where a batch mostly waits
        on the network and the next need not wait behind it). ``late``: told the id of an
        event stored after its callback stopped waiting (and was answered 503): the platform's
        retry finds it stored, so it is handled from here."""
        self.engine = engine
        self.late = late
        self.outage = Outage()
        self._probing: asyncio.Task[bool] | None = None
        self.queue: asyncio.Queue[_Callback] = asyncio.Queue()
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

    async def accept(self, inbound: Inbound, sign: str | None = None) -> int | None:
        """Store the event (with whatever else arrives meanwhile); its id, or None if known.

        ``sign``: a DingTalk robot sign, spent in the same transaction (Rejected 403 if it was
        used before). StoreUnavailable if the database could not take it within
        ``STORE_SECONDS``."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting += 1
        self._busy()
        self.queue.put_nowait(_Callback(inbound, sign, future))
        try:
            async with asyncio.timeout(STORE_SECONDS):
                return await future
        except TimeoutError as exc:  # the database is silent or locked: the future is cancelled
            slow = TimeoutError(f"not stored within {STORE_SECONDS:g} s")
            self.outage.failed(slow, 1)
            raise StoreUnavailable(str(slow)) from exc
        finally:
            # Empty once every callback taken in is answered, not when the queue is: a batch
            # taken off it may still wait for a free slot.
            self._waiting -= 1
            if not self._waiting:
                self._idle()

    async def probe(self) -> bool:
        """Whether the database takes a write now (for /healthz), known within
        ``STORE_SECONDS``. One probe at a time: callers meanwhile share its outcome."""
        if self._probing is None or self._probing.done():
            self._probing = asyncio.create_task(self._probe())
        done, _ = await asyncio.wait({self._probing}, timeout=STORE_SECONDS)
        if not done:  # silent or locked: it goes on, as a cancelled SQLite write would leak
            self.outage.failed(TimeoutError(f"no answer within {STORE_SECONDS:g} s"), 0)
            return False
        return self._probing.result()

    async def _probe(self) -> bool:
        try:
            async with (
                self._bounded(),
                self.engine.connect() as connection,
                connection.begin() as transaction,
            ):
                await db.probe_write(connection)
                await transaction.rollback()
        except Exception as exc:
            if not cannot_write_now(exc):
                raise
            self.outage.failed(exc, 0)
            return False
        self.outage.recovered()
        return True

    def _bounded(self) -> contextlib.AbstractAsyncContextManager[object]:
        """A bound of ``STORE_SECONDS`` on a database operation, so that a silent server does
        not hold a store slot or a connection for ever. Not on SQLite: its driver runs each
        statement in a thread that cannot be interrupted, and a write cancelled while it waits
        for the lock leaves its connection to the garbage collector, write lock and all (seen
        with aiosqlite); there ``busy_timeout`` ends the wait."""
        if self.engine.dialect.name == "sqlite":
            return contextlib.nullcontext()
        return asyncio.timeout(STORE_SECONDS)

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

    async def _insert(self, rows: list[dict[str, Any]], signs: dict[str, dt.datetime]) -> Stored:
        """Store ``rows`` and spend ``signs`` in one transaction, within ``_bounded``."""
        async with self._bounded():
            try:
                return await self._insert_once(rows, signs)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            # The connection was found closed (a database restart): once more, on a new one.
            # Keys stored before are skipped, so nothing is stored twice.
            return await self._insert_once(rows, signs)

    async def _insert_once(
        self, rows: list[dict[str, Any]], signs: dict[str, dt.datetime]
    ) -> Stored:
        # A plain connection, not an ORM session: nothing here needs one, and the session's
        # bookkeeping cost more than a fifth of each store.
        async with self.engine.begin() as connection:
            return await _store_rows(connection, rows, signs)

    async def _store(self, batch: list[_Callback]) -> None:
        # A sign belongs to the first event that carried it here; the same event twice in one
        # batch is stored once.
        owner: dict[str, tuple[str, str]] = {}
        for callback in batch:
            if callback.sign is not None:
                owner.setdefault(callback.sign, callback.key)
        first: dict[tuple[str, str], _Callback] = {}
        signs: dict[str, dt.datetime] = {}
        carried: dict[tuple[str, str], list[str]] = {}
        for callback in batch:
            if callback.sign is not None:
                if owner[callback.sign] != callback.key:
                    continue  # refused below: its sign came with another body
                signs.setdefault(callback.sign, callback.inbound.received_at)
                carried.setdefault(callback.key, []).append(callback.sign)
            first.setdefault(callback.key, callback)
        rows = [_row(callback, carried.get(key, [])) for key, callback in first.items()]
        failed: dict[tuple[str, str], BaseException] = {}
        try:
            result = await self._insert(rows, signs)
        except Exception as exc:
            result = Stored({}, set(), set())
            if cannot_write_now(exc):  # nothing to learn from storing them one by one
                # Those that stopped waiting were counted then.
                self.outage.failed(exc, sum(not c.future.done() for c in batch))
                failed = {key: StoreUnavailable(_reason(exc)) for key in first}
            else:
                log.exception("storing %d events failed", len(rows))
                if len(rows) == 1:
                    failed = {key: exc for key in first}
                else:  # one bad row must not cost everyone else in the batch: one at a time
                    result, failed = await self._insert_each(rows, signs)
        else:
            self.outage.recovered()
        for callback in batch:
            ours = callback.sign is None or owner[callback.sign] == callback.key
            self._answer(callback, first.get(callback.key) is callback, ours, result, failed)

    def _answer(
        self,
        callback: _Callback,
        first: bool,
        ours: bool,
        result: Stored,
        failed: dict[tuple[str, str], BaseException],
    ) -> None:
        """``first``: the first of its event in the batch; ``ours``: its sign (if any) was not
        carried by another event earlier in the batch."""
        key, future, sign = callback.key, callback.future, callback.sign
        event_id = result.ids.get(key) if first and ours else None
        if future.done():  # it stopped waiting (answered 503): the platform sends it again
            if event_id is not None and self.late is not None:
                self.late(event_id)  # and its retry will find it stored: handle it from here
        elif not ours:  # its sign came with another body earlier in the batch
            future.set_exception(Rejected(403, "sign already used"))
        elif key in failed:
            future.set_exception(failed[key])
        elif sign is not None and sign not in result.spent and not result.has(key):
            # Spent before on another body (a replay): refused, not stored.
            future.set_exception(Rejected(403, "sign already used"))
        else:
            future.set_result(event_id)

    async def _insert_each(
        self, rows: list[dict[str, Any]], signs: dict[str, dt.datetime]
    ) -> tuple[Stored, dict[tuple[str, str], BaseException]]:
        result = Stored({}, set(), set())
        failed: dict[tuple[str, str], BaseException] = {}
        for row in rows:
            try:
                one = await self._insert([row], {sign: signs[sign] for sign in row["signs"]})
            except Exception as exc:
                failed[db.event_key(row["platform"], row["dedup_key"])] = exc
            else:
                result.ids.update(one.ids)
                result.spent.update(one.spent)
                result.known.update(one.known)
        return result, failed


@dataclasses.dataclass(frozen=True)
class Stored:
    """What one store did: the ids of the events stored now (by key), the signs spent now, and
    the keys of events stored before whose sign was spent before (a platform's retry)."""

    ids: dict[tuple[str, str], int]
    spent: set[str]
    known: set[tuple[str, str]]

    def has(self, key: tuple[str, str]) -> bool:
        return key in self.ids or key in self.known


def _row(callback: _Callback, signs: list[str]) -> dict[str, Any]:
    inbound = callback.inbound
    return {
        "platform": inbound.platform.value,
        "dedup_key": inbound.dedup_key,
        "sender": inbound.sender,
        "payload": inbound_to_json(inbound),
        "received_at": inbound.received_at,
        "signs": signs,
    }


async def _store_rows(
    connection: AsyncConnection, rows: list[dict[str, Any]], signs: dict[str, dt.datetime]
) -> Stored:
    """In the caller's transaction: spend the signs, then store the rows that carry no sign or
    one spent now. Of the others, those stored before are a platform's retry, not a replay."""
    spent = await db.spend_signs(connection, signs)
    fresh = [row for row in rows if not row["signs"] or spent.intersection(row["signs"])]
    ids = await db.store_events(connection, fresh)
    again = [row for row in rows if row["signs"] and not spent.intersection(row["signs"])]
    known = await db.stored_keys(connection, [(r["platform"], r["dedup_key"]) for r in again])
    return Stored(ids, spent, known)
