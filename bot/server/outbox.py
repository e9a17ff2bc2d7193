"""The outbox sender: delivers queued messages with retries, backoff and pacing.

Rows are claimed (so several senders, in several processes, never take the same row), sent
through the platform's client, and marked sent, retried later with exponential backoff (network
errors, 5xx, rate limiting), or dead with the last error after ``max_attempts``. Pacing keeps
each recipient under WeCom's 30-a-minute limit (it drops the excess silently) and the whole app
under its own per-minute budget.

A card keeps the handle the platform answered with, to be changed later; an update of a card
(its buttons giving way to the outcome) waits until the card itself is sent, and is let go, not
retried, when the card cannot be changed any more: a DingTalk action card, a handle past its
lifetime (WeCom's 72 hours), or one the platform refuses as spent.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.config import OutboxSettings
from bot.platforms.errors import SendFailed
from bot.platforms.messages import Outgoing, Receipt
from storage import chat as db
from storage.engine import unit_of_work
from storage.models import OutboxMessage, OutboxState

log = logging.getLogger("suiji.outbox")
Clock = Callable[[], dt.datetime]
# A second over the minute: the platform stamps each call a little later than we do, and a
# budget freed by our clock a moment early would meet 45009 (or a silent drop) at the edge.
WINDOW = dt.timedelta(seconds=61)


# How soon to look again at an update whose card is still on its way.
CARD_WAIT = dt.timedelta(seconds=2)


class Client(Protocol):
    # How long a card's handle can be used to change it (None: as long as the card lives).
    handle_lifetime: dt.timedelta | None

    async def send(self, recipient: str, message: Outgoing, ref: str) -> Receipt | None:
        """Send; ``ref`` is stable across retries of the same outbox row."""


def backoff(attempts: int) -> dt.timedelta:
    """2, 4, 8 … seconds, at most ten minutes."""
    return dt.timedelta(seconds=min(600, 2**attempts))


class Pacer:
    """Sliding one-minute windows: per recipient and for the whole app."""

    def __init__(self, per_recipient: int, overall: int) -> None:
        self.per_recipient, self.overall = per_recipient, overall
        self._sent: dict[str, collections.deque[dt.datetime]] = collections.defaultdict(
            collections.deque
        )
        self._all: collections.deque[dt.datetime] = collections.deque()

    def _trim(self, times: collections.deque[dt.datetime], now: dt.datetime) -> None:
        while times and now - times[0] >= WINDOW:
            times.popleft()

    def wait(self, recipient: str, now: dt.datetime) -> dt.datetime | None:
        """None if a message may go now, else when it may."""
        times = self._sent[recipient]
        self._trim(times, now)
        self._trim(self._all, now)
        if len(times) >= self.per_recipient:
            return times[0] + WINDOW
        if len(self._all) >= self.overall:
            return self._all[0] + WINDOW
        return None

    def record(self, recipient: str, now: dt.datetime) -> None:
        self._sent[recipient].append(now)
        self._all.append(now)


class Sender:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        clients: dict[str, Client],
        settings: OutboxSettings,
        clock: Clock,
    ) -> None:
        self.factory, self.clients, self.settings, self.clock = factory, clients, settings, clock
        self.pacer = Pacer(settings.per_recipient_per_minute, settings.per_minute)
        self.wake = asyncio.Event()
        # Awaited before each claim: lets more urgent writers go first (the app's intake).
        self.give_way: Callable[[], Awaitable[None]] | None = None

    async def deliver_due(self, limit: int = 20, stop: asyncio.Event | None = None) -> int:
        """Send what is due now, up to ``limit`` rows; the number handled.

        Rows are claimed one at a time, just before sending, so a claim never outlives the
        slow sends of a whole batch and gets taken over by another sender meanwhile.
        """
        handled = 0
        while handled < limit and not (stop is not None and stop.is_set()):
            if self.give_way is not None:
                await self.give_way()
            async with unit_of_work(self.factory) as session:
                claimed = await db.claim_due(session, self.clock(), 1)
            if not claimed:
                break
            await self._deliver(claimed[0])
            handled += 1
        return handled

    async def _deliver(self, message: OutboxMessage) -> None:
        now = self.clock()
        client = self.clients.get(message.platform)
        if client is None:
            await self._mark(message, OutboxState.DEAD, error=f"no {message.platform} client")
            return
        outgoing = Outgoing.from_json(message.body)
        if message.card_id is not None:
            update = await self._card_update(message, outgoing, client, now)
            if update is None:
                return
            outgoing = update
        later = self.pacer.wait(message.recipient, now) or await self._recipient_wait(message, now)
        if later is not None:
            await self._mark(message, OutboxState.PENDING, next_at=later, count=False)
            return
        self.pacer.record(message.recipient, now)
        ref = db.message_ref(message)
        try:
            try:
                receipt = await client.send(message.recipient, outgoing, ref)
            except SendFailed:
                raise
            except Exception as exc:  # a client bug or an answer nobody expected: retry
                log.exception("message %s: unexpected error", message.id)
                raise SendFailed(f"unexpected {type(exc).__name__}", retry=True) from exc
        except SendFailed as failure:
            attempts = message.attempts + 1
            if failure.retry and attempts < self.settings.max_attempts:
                log.warning("message %s: %s; retrying", message.id, failure.reason)
                next_at = self.clock() + backoff(attempts)
                await self._mark(
                    message, OutboxState.PENDING, error=failure.reason, next_at=next_at
                )
            else:
                log.error("message %s dead: %s", message.id, failure.reason)
                await self._mark(message, OutboxState.DEAD, error=failure.reason)
            return
        receipt = receipt or Receipt()
        if receipt.note:
            log.info("message %s: %s", message.id, receipt.note)
        await self._mark(
            message, OutboxState.SENT, error=receipt.note or None, handle=receipt.handle
        )

    async def _card_update(
        self, message: OutboxMessage, update: Outgoing, client: Client, now: dt.datetime
    ) -> Outgoing | None:
        """The update to send, with the handle on its card; None when there is nothing to
        send now (marked: put off until the card is sent, or done when it cannot change)."""
        async with self.factory() as session:
            card = await session.get(OutboxMessage, message.card_id)
        if card is None or card.state is OutboxState.DEAD:
            await self._mark(message, OutboxState.SENT, error="card never delivered")
            return None
        if card.state is not OutboxState.SENT:
            # The card is still on its way (a retry, pacing): change it once it has arrived.
            later = max(card.next_attempt_at, now) + CARD_WAIT
            await self._mark(message, OutboxState.PENDING, next_at=later, count=False)
            return None
        # A press's own handle (fresh when pressed) before the one the card was sent with.
        token = update.token or card.handle or ""
        issued = message.created_at if update.token else card.sent_at
        lifetime = client.handle_lifetime
        if not token:
            note = "this card cannot be changed"
        elif lifetime is not None and issued is not None and now - issued >= lifetime:
            note = f"card handle older than {lifetime}"
        else:
            return Outgoing.card_update(token, update.text)
        await self._mark(message, OutboxState.SENT, error=note)
        return None

    async def _recipient_wait(self, message: OutboxMessage, now: dt.datetime) -> dt.datetime | None:
        """When the recipient's per-minute budget allows another message, counting what every
        sender on this database sent them, not only this process; None if it does now.

        Two senders checking at the same instant may both go: the budget (20 by default) sits
        well under WeCom's silent 30, so such an overshoot still arrives.
        """
        async with self.factory() as session:
            sent = await db.sent_to(session, message.platform, message.recipient, now - WINDOW)
        if len(sent) < self.settings.per_recipient_per_minute:
            return None
        return sent[len(sent) - self.settings.per_recipient_per_minute] + WINDOW

    async def _mark(
        self,
        message: OutboxMessage,
        state: OutboxState,
        *,
        error: str | None = None,
        next_at: dt.datetime | None = None,
        count: bool = True,
        handle: str = "",
    ) -> None:
        async with unit_of_work(self.factory) as session:
            await db.mark(
                session,
                message.id,
                state,
                now=self.clock(),
                error=error,
                next_attempt_at=next_at,
                count_attempt=count,
                handle=handle,
            )

    async def run(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        """Deliver until ``stop`` is set; sleep ``idle`` seconds when nothing is due."""
        while not stop.is_set():
            try:
                handled = await self.deliver_due(stop=stop)
            except Exception:
                log.exception("outbox pass failed")
                handled = 0
            if handled:
                continue
            self.wake.clear()
            waits = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waits, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
