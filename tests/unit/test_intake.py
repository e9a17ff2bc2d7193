"""Background work gives way to callbacks: Intake.quiet waits while events wait to be stored,
takes turns during a long burst, and never waits without end. (Timeouts here only stop a
broken test; nothing is timed.)"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.server.intake import SETTLE, Intake

GUARD = 10.0  # seconds: only so that a broken quiet() fails instead of hanging


def _intake() -> Intake:
    no_database: Any = None  # quiet() never stores anything
    return Intake(no_database)


async def test_quiet_returns_when_nothing_waits_to_be_stored() -> None:
    await asyncio.wait_for(_intake().quiet(GUARD * 2), GUARD)


async def test_quiet_waits_while_a_callback_waits_to_be_stored_but_not_beyond_its_limit() -> None:
    intake = _intake()
    intake._busy()  # what accept() does until the batch is stored
    waiting = asyncio.create_task(intake.quiet(GUARD * 2))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    intake._idle()  # stored
    await asyncio.wait_for(waiting, GUARD)
    intake._busy()
    await asyncio.wait_for(intake.quiet(0.01), GUARD)  # gives up at its limit


async def test_quiet_waits_out_a_lull_between_two_batches() -> None:
    """In a burst the intake empties between batches while the answered callers post again:
    background work must not start in that gap."""
    intake = _intake()
    intake._busy()
    waiting = asyncio.create_task(intake.quiet(GUARD * 2))
    await asyncio.sleep(0)  # quiet() is now waiting for the batch to be stored
    intake._idle()
    await asyncio.sleep(SETTLE / 4)  # it sees the intake empty, for now, and waits out the moment
    intake._busy()  # the next callbacks arrive within it
    await asyncio.sleep(SETTLE * 3)
    assert not waiting.done()
    intake._idle()  # and once the intake stays empty, it goes on
    await asyncio.wait_for(waiting, GUARD)


async def test_during_a_long_burst_background_steps_take_turns_one_at_a_time() -> None:
    """Callbacks keep coming: each waiting step still goes on, but not all at once, or
    together they would cut into one batch of acknowledgements."""
    intake = _intake()
    intake._busy()
    first = asyncio.create_task(intake.quiet(0.3))
    second = asyncio.create_task(intake.quiet(0.3))
    done, pending = await asyncio.wait(
        {first, second}, timeout=GUARD, return_when=asyncio.FIRST_COMPLETED
    )
    assert (len(done), len(pending)) == (1, 1)  # one turn now
    await asyncio.wait_for(pending.pop(), GUARD)  # the other at the next


async def test_no_step_waits_beyond_its_longest_turns_however_many_wait_before_it() -> None:
    intake = _intake()
    intake._busy()
    intake._next_turn = asyncio.get_running_loop().time() + 1000  # a long line of turns
    await asyncio.wait_for(intake.quiet(0.01), GUARD)  # goes on after LONGEST_TURNS turns
