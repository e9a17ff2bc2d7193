"""Background work gives way to callbacks: Intake.quiet waits while callbacks keep coming,
and never longer than it is told. (Timeouts here only stop a broken test; nothing is timed.)"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.intake import CALM_SECONDS, Intake

GUARD = 10.0  # seconds: only so that a broken quiet() fails instead of hanging


def _intake() -> Intake:
    no_database: Any = None  # quiet() never stores anything
    return Intake(no_database)


async def _burst(intake: Intake, stop: asyncio.Event) -> None:
    while not stop.is_set():
        intake.arrived()
        await asyncio.sleep(CALM_SECONDS / 4)


async def test_quiet_returns_when_nothing_came_in() -> None:
    await asyncio.wait_for(_intake().quiet(GUARD * 2), GUARD)


async def test_quiet_waits_while_callbacks_keep_arriving_and_returns_once_they_stop() -> None:
    intake, stop = _intake(), asyncio.Event()
    intake.arrived()
    arrivals = asyncio.create_task(_burst(intake, stop))
    waiting = asyncio.create_task(intake.quiet(GUARD * 2))
    for _ in range(20):  # twenty rounds of arrivals, each well inside the calm interval
        await asyncio.sleep(CALM_SECONDS / 4)
        assert not waiting.done()
    stop.set()
    await arrivals
    await asyncio.wait_for(waiting, GUARD)


async def test_quiet_gives_up_waiting_at_its_limit_even_if_callbacks_never_stop() -> None:
    intake, stop = _intake(), asyncio.Event()
    intake.arrived()
    arrivals = asyncio.create_task(_burst(intake, stop))
    await asyncio.wait_for(intake.quiet(CALM_SECONDS * 5), GUARD)
    assert not arrivals.done()  # still arriving: it returned because of its limit
    stop.set()
    await arrivals
