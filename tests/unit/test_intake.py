"""Background work gives way to callbacks: Intake.quiet waits while events wait to be stored,
and never longer than it is told. (Timeouts here only stop a broken test; nothing is timed.)"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.intake import Intake

GUARD = 10.0  # seconds: only so that a broken quiet() fails instead of hanging


def _intake() -> Intake:
    no_database: Any = None  # quiet() never stores anything
    return Intake(no_database)


async def test_quiet_returns_when_nothing_waits_to_be_stored() -> None:
    await asyncio.wait_for(_intake().quiet(GUARD * 2), GUARD)


async def test_quiet_waits_while_a_callback_waits_to_be_stored_but_not_beyond_its_limit() -> None:
    intake = _intake()
    intake._quiet.clear()  # what accept() does until the batch is stored
    waiting = asyncio.create_task(intake.quiet(GUARD * 2))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    intake._quiet.set()  # stored
    await asyncio.wait_for(waiting, GUARD)
    intake._quiet.clear()
    await asyncio.wait_for(intake.quiet(0.01), GUARD)  # gives up at its limit
