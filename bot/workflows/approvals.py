"""The shared approval engine: a request that someone in a role must decide, in chat or by CLI.

Owns the life of a request: created with its approvers and sent to them as a card; decided once
(a repeated click or a retried callback changes nothing and says so); refused politely to anyone
who is not an approver; every request and decision audited; once decided or withdrawn, every
approver's card shows the outcome instead of its buttons, however it was decided (a press, a
typed answer, the command line). What a decision *does* belongs to
the kind of request (absence, plan need, later reports and publication), registered here by the
module that owns it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.base.texts import text
from bot.platforms.messages import Outgoing
from bot.workflows import deadlines
from bot.workflows.step import Step
from handlers import approvals as say
from handlers.commands import Command
from storage import assignments as db
from storage.models import Approval, ApprovalState, Person

REJECT_TOPIC = "reject_comment"


@dataclass(frozen=True)
class Kind:
    # (title, summary) for the card; never names an inspection target.
    describe: Callable[[Step, Approval], Awaitable[tuple[str, str]]]
    # What the decision does, in the same transaction (e.g. substitute an officer).
    apply: Callable[[Step, Approval, Person, bool], Awaitable[None]]
    # Lock what the decision will change (a campaign, a need) before the request itself:
    # the subject's own steps lock it first too, so the two never wait on each other.
    lock: Callable[[Step, Approval], Awaitable[None]]


KINDS: dict[str, Kind] = {}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind


def may_decide(approval: Approval, person: Person) -> bool:
    """Named approvers; for a request to "the leaders", whoever is a leader now; never the
    person who asked."""
    if approval.requested_by_id == person.id:
        return False
    return person.id in approval.approver_ids or (approval.role == "leader" and person.is_leader)


async def view(step: Step, approval: Approval) -> say.ApprovalView:
    title, summary = await KINDS[approval.kind].describe(step, approval)
    decider = (
        await step.session.get(Person, approval.decided_by_id) if approval.decided_by_id else None
    )
    return say.ApprovalView(
        approval.id,
        approval.kind,
        approval.role,
        approval.state.value,
        title,
        summary,
        approval.reason,
        decider.name if decider else "",
        approval.comment or "",
    )


async def request(
    step: Step,
    *,
    kind: str,
    subject_id: int,
    role: str,
    approvers: list[Person],
    requested_by: Person | None,
    reason: str,
) -> Approval:
    """Create a request and send its card to every approver."""
    approval = Approval(
        kind=kind,
        subject_id=subject_id,
        role=role,
        approver_ids=sorted({p.id for p in approvers}),
        requested_by_id=requested_by.id if requested_by else None,
        reason=reason[:500],
        state=ApprovalState.PENDING,
        created_at=step.now,
    )
    step.session.add(approval)
    await step.session.flush()
    await deadlines.approval_requested(step, approval)
    await step.audit(
        "approval:request",
        "approvals",
        approval.id,
        None,
        {"kind": kind, "subject": subject_id, "role": role, "approvers": approval.approver_ids},
    )
    card = say.card(await view(step, approval))
    for approver in approvers:
        step.send(approver, card)
    return approval


async def decide(
    step: Step,
    approval: Approval,
    person: Person,
    approve: bool,
    comment: str,
) -> list[Outgoing]:
    """Decide as ``person``; the replies to them. Refused (and nothing changes) if they are
    not an approver or it was decided before."""
    await KINDS[approval.kind].lock(step, approval)
    approval = await db.approval(step.session, approval.id, lock=True) or approval
    shown = await view(step, approval)
    refused = say.refusal(
        shown, may_decide(approval, person), own=approval.requested_by_id == person.id
    )
    if refused is not None:
        return [refused]
    approval.state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
    approval.decided_by_id, approval.decided_at = person.id, step.now
    approval.comment = comment[:500] or None
    # What the decision does comes first: it may lock other rows (a campaign, to substitute),
    # and every step takes the audit head's lock last, or two steps could deadlock.
    await KINDS[approval.kind].apply(step, approval, person, approve)
    await deadlines.approval_settled(step, approval)
    await step.audit(
        "approval:decide",
        "approvals",
        approval.id,
        {"state": "pending"},
        {"state": approval.state.value, "by": person.name, "comment": approval.comment},
    )
    await step.close_cards(
        say.subject(approval.id), say.card_closed(approval.state.value, person.name)
    )
    return [say.decided(shown, approve)]


async def answer(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「同意」 / 「驳回 原因」 from chat, with or without the approval's number."""
    approve = command.name == "approve"
    if command.number is not None:
        approval = await db.approval(step.session, command.number)
        if approval is None:
            return [Outgoing.plain(text("approve.not_found", id=command.number))]
    else:
        mine = [a for a in await db.pending_approvals(step.session) if may_decide(a, person)]
        if not mine:
            return [Outgoing.plain(text("approve.none_pending"))]
        if len(mine) > 1:
            return [say.which([await view(step, a) for a in mine])]
        approval = mine[0]
    if not approve and not command.rest:
        shown = await view(step, approval)
        refused = say.refusal(
            shown, may_decide(approval, person), own=approval.requested_by_id == person.id
        )
        if refused is not None:
            return [refused]
        await db.set_conversation(
            step.session,
            person.id,
            REJECT_TOPIC,
            # The card pressed, if any: closed with the press's own handle once the reason comes.
            {"approval": approval.id, "pressed": step.pressed and step.pressed.to_json()},
            step.now + step.policy.conversation_timeout,
        )
        return [Outgoing.plain(text("approve.ask_comment", id=approval.id))]
    return await decide(step, approval, person, approve, command.rest)


async def show(step: Step, person: Person, command: Command) -> list[Outgoing]:
    """「查看审批 N」 (a digest's button): the request's card again, if it is theirs to decide."""
    approval = await db.approval(step.session, command.number or 0)
    if approval is None or approval.state is not ApprovalState.PENDING:
        return [Outgoing.plain(text("deadlines.approval_gone", id=command.number or 0))]
    if not may_decide(approval, person):
        return [Outgoing.plain(text("deadlines.approval_gone", id=approval.id))]
    return [say.card(await view(step, approval))]


async def comment_given(
    step: Step, person: Person, data: dict[str, object], comment: str
) -> list[Outgoing]:
    """The reason for a rejection the bot asked for."""
    await db.end_conversation(step.session, person.id)
    approval = await db.approval(step.session, int(str(data["approval"])))
    if approval is None:
        return [Outgoing.plain(text("chat.stale_button"))]
    return await decide(step, approval, person, False, comment)


async def cancel_pending(step: Step, kind: str, subject_id: int) -> None:
    """Withdraw what is still pending about a subject (it went away, or was taken back)."""
    for approval in await db.pending_for_subject(step.session, kind, subject_id):
        approval.state = ApprovalState.CANCELLED
        approval.decided_at = step.now
        await deadlines.approval_settled(step, approval)
        await step.audit(
            "approval:cancel",
            "approvals",
            approval.id,
            {"state": "pending"},
            {"state": "cancelled"},
        )
        await step.close_cards(say.subject(approval.id), say.card_closed("cancelled", ""))
