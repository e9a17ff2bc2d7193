"""From a verified callback to its effects: store once, then handle once, in order per person.

``accept`` stores the event under its platform key (a retried callback finds it there and does
nothing) so that the platform can be answered at once. ``process`` first handles any earlier
event of the same sender still waiting (whichever worker or process picked which event, a
person's messages are handled in the order they came), then, in one transaction, locks the
event and the person behind it (two events of one person never interleave, across processes),
asks the handlers what to do, writes the replies to the outbox and marks the event done. A
handler that raises leaves the event pending for a retry, with one apology sent; it no longer
holds up that person's newer messages.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.platforms.messages import Inbound, InboundKind, Outgoing, Platform
from bot.workflows import (
    approvals,
    assignments,
    campaigns,
    deadlines,
    findings,
    penalties,
    plans,
    progress,
    publish,
    reports,
)
from bot.workflows.step import DEFAULT_POLICY, Policy, Pressed, Step
from handlers import commands
from storage import assignments as assignment_db
from storage import chat as db
from storage.engine import unit_of_work
from storage.models import EventState, Person

# What a person may answer when the bot asked them something, by the question's topic.
FOLLOW_UPS = {
    assignments.REASON_TOPIC: assignments.reason_given,
    approvals.REJECT_TOPIC: approvals.comment_given,
}
assert plans.NEED  # registered with the approval engine on import
assert publish.KIND  # likewise: a results publication's approval
assert penalties.KIND  # and a penalty decision's publication
# Commands that leave an open question open (looking things up); any other ends it.
KEEP_WAITING = {"help", "my_tasks", "task", "cancel", "progress"}
# Questions whose answers are read by the workflow first; what it does not take (None) is
# then read as a command.
FIRST_READERS = {findings.TOPIC: findings.form_input, findings.PICK_TOPIC: findings.pick_given}


log = logging.getLogger("suiji.dispatch")
Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]
MAX_HANDLER_ATTEMPTS = 5


def inbound_to_json(inbound: Inbound) -> dict[str, Any]:
    return {
        "platform": inbound.platform.value,
        "dedup_key": inbound.dedup_key,
        "sender": inbound.sender,
        "kind": inbound.kind.value,
        "received_at": inbound.received_at.isoformat(),
        "text": inbound.text,
        "action": inbound.action,
        "fields": inbound.fields,
        "reply_token": inbound.reply_token,
        "card": inbound.card,
    }


def inbound_from_json(data: dict[str, Any]) -> Inbound:
    return Inbound(
        Platform(data["platform"]),
        data["dedup_key"],
        data["sender"],
        InboundKind(data["kind"]),
        dt.datetime.fromisoformat(data["received_at"]),
        text=data.get("text", ""),
        action=data.get("action", ""),
        fields=data.get("fields", {}),
        reply_token=data.get("reply_token", ""),
        card=data.get("card", ""),
    )


async def accept(factory: Factory, inbound: Inbound) -> int | None:
    """Store one event on its own; its id, or None if this platform key was stored before.
    (The server batches through bot.server.intake instead.)"""
    async with unit_of_work(factory) as session:
        stored = await db.store_events(
            session,
            [
                {
                    "platform": inbound.platform.value,
                    "dedup_key": inbound.dedup_key,
                    "sender": inbound.sender,
                    "payload": inbound_to_json(inbound),
                    "received_at": inbound.received_at,
                }
            ],
        )
    return stored.get(db.event_key(inbound.platform.value, inbound.dedup_key))


def _asker(person: Person) -> commands.Asker:
    roles = {
        role
        for role, flag in (
            ("officer", person.is_officer),
            ("leader", person.is_leader),
            ("admin", person.is_admin),
            ("witness", person.is_witness),
        )
        if flag
    }
    return commands.Asker(person.name, frozenset(roles), person.team_leader_eligible)


async def _help(step: Step, asker: commands.Asker) -> Outgoing:
    """「帮助」; a witness's names the latest draws, to open and check from their phone."""
    if "witness" not in asker.roles:
        return commands.help_reply(asker)
    draws = await campaigns.recent_draws(step.session, step.today)
    return commands.help_reply(asker, draws, step.policy.public_url)


async def decide(
    session: AsyncSession, inbound: Inbound, person: Person | None, step: Step
) -> list[Outgoing]:
    """What to answer. Routing only: each use case's decisions live in handlers/ and the
    workflows in bot/workflows/assignments and bot/workflows/approvals."""
    if person is None:
        return [commands.stranger_reply()]
    asker = _asker(person)
    if inbound.kind is InboundKind.ENTER:
        return [await _help(step, asker)]
    if inbound.kind is InboundKind.IMAGE:
        waiting = await assignment_db.conversation(session, person.id, step.now)
        form = dict(waiting.data) if waiting and waiting.topic == findings.TOPIC else None
        source = str(inbound.fields.get("media", ""))
        return await findings.photo_sent(step, person, inbound.platform.value, source, form)
    pressed = inbound.kind in (InboundKind.CLICK, InboundKind.FORM)
    message = inbound.action if pressed else inbound.text
    command = commands.parse(message)
    waiting = await assignment_db.conversation(session, person.id, step.now)
    if inbound.kind is InboundKind.FORM and command is None:
        # A choice card of a findings form (WeCom's vote card) answers its question; any other
        # submission whose button names no command is a stale or stray card: say so rather
        # than "not understood". One whose button does (a card template that also sends other
        # values) is that button's press.
        if waiting is not None and waiting.topic == findings.TOPIC:
            data = dict(waiting.data)
            return await findings.choice_submitted(step, person, data, message, inbound.fields)
        return [commands.form_reply()]
    if waiting is not None and waiting.topic in FIRST_READERS and message.strip():
        reader = FIRST_READERS[waiting.topic]
        read = await reader(step, person, dict(waiting.data), message.strip())
        if read is not None:
            return read
        waiting = await assignment_db.conversation(session, person.id, step.now)
    if waiting is not None and waiting.topic in FOLLOW_UPS and message.strip() and not command:
        # The bot asked for a reason or a comment: what comes now, unless it is a command of
        # its own (command words must stand alone, so a sentence is never one), is the answer.
        answer = FOLLOW_UPS[waiting.topic]
        # The card whose press asked the question is the one to close with its own handle.
        step.pressed = Pressed.from_json(waiting.data.get("pressed")) or step.pressed
        return await answer(step, person, dict(waiting.data), message.strip()[:500])
    if command is None:
        return [commands.unknown_reply(message)]
    if waiting is not None and command.name not in KEEP_WAITING:
        await assignment_db.end_conversation(session, person.id)  # they did something else
    match command.name:
        case "help":
            return [await _help(step, asker)]
        case "my_tasks":
            return [commands.tasks_reply(asker, await assignments.my_tasks(step, person))]
        case "task" if command.number is not None:
            return await assignments.task(step, person, command.number)
        case "task":
            return [commands.tasks_reply(asker, await assignments.my_tasks(step, person))]
        case "confirm":
            return await assignments.confirm(step, person, command)
        case "decline":
            return await assignments.decline(step, person, command)
        case "recuse":
            return await assignments.recuse(step, person, command)
        case "approve" | "reject":
            return await approvals.answer(step, person, command)
        case "fill":
            return await findings.fill(step, person, command)
        case "resume":
            return await findings.resume(step, person)
        case "reopen":
            return await findings.reopen(step, person, command)
        case "generate_report":
            return await reports.generate(step, person, command)
        case "conclude":
            return await reports.conclude(step, person, command)
        case "submit_report":
            return await reports.submit(step, person, command)
        case "reopen_report":
            return await reports.reopen(step, person, command)
        case "progress":
            return await progress.progress(step, person, command)
        case "todo":
            return await deadlines.todo(step, person)
        case "rectified":
            return await deadlines.rectified(step, person, command)
        case "show_approval":
            return await approvals.show(step, person, command)
        case "cancel" if waiting is not None:
            await assignment_db.end_conversation(session, person.id)
            return [Outgoing.plain(text("approve.cancelled"))]
        case _:
            return [Outgoing.plain(text("approve.nothing_to_cancel"))]


async def process(
    factory: Factory, event_id: int, clock: Clock, policy: Policy = DEFAULT_POLICY
) -> bool:
    """Handle a stored event once, after the same sender's earlier ones; True when it is done
    (now or before).

    Each pass handles (or fails once) one earlier event, so the loop ends: an event tried once
    no longer counts as waiting. One that another worker is handling meanwhile is found done
    once its lock is free. One still waiting after its turn (its failure could not even be
    recorded) leaves this event to the retry pass too."""
    tried: set[int] = set()
    while True:
        async with factory() as session:
            earlier = await db.first_untried_before(session, event_id)
        if earlier is None:
            return await _process_one(factory, event_id, clock, policy)
        if earlier in tried:
            return False
        tried.add(earlier)
        await _process_one(factory, earlier, clock, policy)


async def _process_one(factory: Factory, event_id: int, clock: Clock, policy: Policy) -> bool:
    try:
        async with unit_of_work(factory) as session:
            event = await db.lock_pending_event(session, event_id)
            if event is None:
                return True
            inbound = inbound_from_json(event.payload)
            person = await db.lock_person_by_account(
                session, inbound.platform.value, inbound.sender
            )
            actor = person.name if person else inbound.sender
            step = Step(session, policy, clock(), actor, event.id, pressed=_pressed(inbound))
            for reply in await decide(session, inbound, person, step):
                db.enqueue(
                    session, event.platform, inbound.sender, reply.to_json(), clock(), event.id
                )
            event.state, event.handled_at = EventState.DONE, clock()
            return True
    except Exception as exc:
        log.exception("handling event %s failed", event_id)
        await _record_failure(factory, event_id, exc, clock)
        return False


def _pressed(inbound: Inbound) -> Pressed | None:
    """The card a press came from, if it is one of ours, with the press's handle on it."""
    if inbound.kind in (InboundKind.CLICK, InboundKind.FORM) and inbound.card:
        return Pressed(inbound.card, inbound.reply_token)
    return None


async def _record_failure(factory: Factory, event_id: int, exc: Exception, clock: Clock) -> None:
    async with unit_of_work(factory) as session:
        event = await db.lock_pending_event(session, event_id)
        if event is None:
            return
        event.attempts += 1
        event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if event.attempts == 1:
            db.enqueue(
                session,
                event.platform,
                event.sender,
                commands.apology().to_json(),
                clock(),
                event.id,
            )
        if event.attempts >= MAX_HANDLER_ATTEMPTS:
            event.state = EventState.FAILED
            # The apology promised a retry; say that the retries are over, not leave them waiting.
            reply = commands.given_up().to_json()
            db.enqueue(session, event.platform, event.sender, reply, clock(), event.id)


async def process_pending(
    factory: Factory,
    clock: Clock,
    older_than: dt.timedelta = dt.timedelta(seconds=60),
    stop: Callable[[], bool] = lambda: False,
    policy: Policy = DEFAULT_POLICY,
) -> int:
    """Handle events still pending after ``older_than`` (after a restart, or a failed attempt;
    younger ones are still in the workers' queue). Returns how many it tried; ``stop`` ends
    the pass early, between events."""
    async with factory() as session:
        ids = await db.pending_event_ids(session, clock() - older_than)
    tried = 0
    for event_id in ids:
        if stop():
            break
        await process(factory, event_id, clock, policy)
        tried += 1
    return tried
